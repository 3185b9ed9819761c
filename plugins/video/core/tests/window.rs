//! The video window on a real X server (Xvfb, white root so that what is
//! not ours shows): placed exactly where asked, letterbox and crop, the
//! preview where the layout puts it, the control bar from 480×360 up,
//! moved and resized, gone when hidden. What the screen shows is read back
//! with GetImage on the root window.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use seatphone_video_core::camera::pattern::{read_stamp_luma, TestPattern, BARS};
use seatphone_video_core::picture::{to_rgb, Picture};
use seatphone_video_core::window::compose::{compose, BarState, Canvas, BAR_COLOUR};
use seatphone_video_core::window::controller::{VideoWindow, WindowEvents};
use seatphone_video_core::window::layout::{
    arrange, button_rects, Button, Fit, Layout, Rect, Scene,
};
use seatphone_video_core::window::x11::X11Window;
use seatphone_video_core::window::Backend;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};

struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x720x24",
                "-wr",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt install xvfb)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let n: u32 = line.trim().parse().expect("Xvfb said its display");
        Xvfb {
            child,
            display: format!(":{n}"),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The screen as 0x00RRGGBB.
struct Screen {
    w: u32,
    px: Vec<u32>,
}

impl Screen {
    fn grab(display: &str) -> Screen {
        let (conn, n) = x11rb::connect(Some(display)).unwrap();
        let root = &conn.setup().roots[n];
        let (w, h) = (root.width_in_pixels, root.height_in_pixels);
        let img = conn
            .get_image(ImageFormat::Z_PIXMAP, root.root, 0, 0, w, h, !0)
            .unwrap()
            .reply()
            .unwrap();
        let px = img
            .data
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & 0xff_ff_ff)
            .collect();
        Screen {
            w: u32::from(w),
            px,
        }
    }

    fn at(&self, x: i32, y: i32) -> u32 {
        self.px[(y as u32 * self.w + x as u32) as usize]
    }
}

const WHITE: u32 = 0xff_ff_ff;

fn close(a: u32, (r, g, b): (u8, u8, u8)) -> bool {
    let want = [b, g, r];
    (0..3).all(|i| (((a >> (8 * i)) & 0xff) as u8).abs_diff(want[i]) <= 3)
}

/// Draws the scene into `win` at `rect`.
fn show(win: &mut X11Window, rect: Rect, scene: Scene, remote: &Picture, local: Option<&Picture>) {
    win.show(rect).unwrap();
    let mut canvas = Canvas::new(rect.w, rect.h);
    compose(
        &mut canvas,
        &arrange(&Scene {
            window: (rect.w, rect.h),
            ..scene
        }),
        Some(remote),
        local,
        BarState::default(),
    );
    win.present(rect.w, rect.h, &canvas.pixels).unwrap();
}

#[test]
fn the_window_shows_the_call_where_the_page_asked() {
    let x = Xvfb::start();
    let mut pattern = TestPattern::new(640, 480);
    let remote = pattern.next_picture(1_764_000_000_000);
    let preview = Picture::filled(320, 240, BARS[6]); // blue
    let mut win = X11Window::new(Some(x.display.clone()));

    // 720×480 at (100, 80), letterbox, picture-in-picture with the preview.
    let r = Rect::new(100, 80, 720, 480);
    let scene = Scene {
        remote: Some((640, 480)),
        local: Some((320, 240)),
        ..Scene::default()
    };
    show(&mut win, r, scene, &remote, Some(&preview));
    let s = Screen::grab(&x.display);
    // Exactly the rectangle: white just outside, ours just inside.
    assert_eq!(s.at(99, 200), WHITE);
    assert_eq!(s.at(820, 200), WHITE);
    assert_eq!(s.at(300, 79), WHITE);
    assert_eq!(s.at(300, 560), WHITE);
    assert_eq!(s.at(100, 200), 0, "letterbox bar on the left");
    assert_eq!(s.at(819, 200), 0, "letterbox bar on the right");
    // The control bar along the bottom (720×480 has one).
    assert_eq!(s.at(102, 558), BAR_COLOUR);
    // The remote bars across the top, in order: 4:3 in 720×440 is 586 wide
    // from x = 67 of the window.
    for (i, bar) in BARS.iter().enumerate() {
        let px = s.at(100 + 67 + (i as i32 * 586 / 8) + 586 / 16, 120);
        assert!(close(px, to_rgb(*bar)), "bar {i}: {px:06x}");
    }
    // The preview, bottom right, above the bar.
    assert!(close(s.at(100 + 720 - 100, 80 + 440 - 60), to_rgb(BARS[6])));

    // Crop: a yellow picture fills the whole video area, no black bars.
    let yellow = Picture::filled(640, 480, BARS[1]);
    show(
        &mut win,
        r,
        Scene {
            fit: Fit::Crop,
            local: None,
            ..scene
        },
        &yellow,
        None,
    );
    let s = Screen::grab(&x.display);
    for (px, py) in [(100, 80), (819, 80), (100, 519), (819, 519), (460, 300)] {
        assert!(
            close(s.at(px, py), to_rgb(BARS[1])),
            "({px}, {py}): {:06x}",
            s.at(px, py)
        );
    }

    // Side by side: remote on the left half, preview on the right.
    show(
        &mut win,
        r,
        Scene {
            layout: Layout::SideBySide,
            ..scene
        },
        &remote,
        Some(&preview),
    );
    let s = Screen::grab(&x.display);
    assert!(close(s.at(100 + 540, 80 + 220), to_rgb(BARS[6])));
    assert!(
        close(s.at(100 + 20, 80 + 150), to_rgb(BARS[0])),
        "{:06x}",
        s.at(120, 230)
    );

    // Moved and resized to 320×240 at (500, 300): no bar; the old place is
    // white again; the picture fills it exactly, its stamp readable.
    let r2 = Rect::new(500, 300, 320, 240);
    show(
        &mut win,
        r2,
        Scene {
            local: None,
            ..scene
        },
        &remote,
        None,
    );
    let s = Screen::grab(&x.display);
    assert_eq!(s.at(150, 200), WHITE, "old place");
    assert_eq!(s.at(499, 400), WHITE);
    assert_eq!(s.at(820, 400), WHITE);
    assert_ne!(s.at(502, 538), BAR_COLOUR, "no bar at 320x240");
    let luma = |px: u32| {
        let (r, g, b) = ((px >> 16) & 255, (px >> 8) & 255, px & 255);
        ((66 * r + 129 * g + 25 * b + 128) / 256 + 16) as u8
    };
    let stamp = read_stamp_luma(320, 240, |x, y| luma(s.at(500 + x as i32, 300 + y as i32)));
    assert_eq!(stamp.map(|s| s.unix_ms), Some(1_764_000_000_000));

    // Hidden at hang-up: white where it was.
    win.hide();
    let s = Screen::grab(&x.display);
    assert_eq!(s.at(600, 400), WHITE);
}

/// Without shared memory (a remote display) the picture still arrives,
/// in pieces under the request size limit.
#[test]
fn plain_put_image_draws_the_same() {
    let x = Xvfb::start();
    let mut win = X11Window::without_shm(Some(x.display.clone()));
    let remote = TestPattern::new(640, 480).next_picture(99);
    let r = Rect::new(10, 20, 640, 480);
    show(
        &mut win,
        r,
        Scene {
            remote: Some((640, 480)),
            ..Scene::default()
        },
        &remote,
        None,
    );
    let s = Screen::grab(&x.display);
    assert!(close(s.at(10 + 40, 20 + 100), to_rgb(BARS[0])));
    assert!(close(s.at(10 + 600, 20 + 100), to_rgb(BARS[7])));
    assert_eq!(s.at(10 + 2, 20 + 478), BAR_COLOUR);
    assert_eq!(s.at(9, 100), WHITE);
}

/// A click on the bar is reported in window coordinates.
#[test]
fn clicks_reach_the_window() {
    let x = Xvfb::start();
    let mut win = X11Window::new(Some(x.display.clone()));
    let remote = Picture::filled(640, 480, BARS[2]);
    let r = Rect::new(40, 40, 640, 400);
    show(
        &mut win,
        r,
        Scene {
            remote: Some((640, 480)),
            ..Scene::default()
        },
        &remote,
        None,
    );
    let ok = Command::new("xdotool")
        .env("DISPLAY", &x.display)
        .args(["mousemove", "90", "60", "click", "1"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "xdotool");
    let mut clicks = Vec::new();
    for _ in 0..50 {
        clicks.extend(win.clicks());
        if !clicks.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(clicks, [(50, 20)]);
}

/// No X server: the window says so and nothing else happens.
#[test]
fn no_display_is_an_error_not_a_crash() {
    let mut win = X11Window::new(Some(":31999".into()));
    let e = win.show(Rect::new(0, 0, 100, 100)).unwrap_err();
    assert!(e.contains("no X display"), "{e}");
    assert!(win.present(100, 100, &[0; 10000]).is_ok());
    assert!(win.clicks().is_empty());
    win.hide();
}

#[derive(Clone, Default)]
struct Told(std::sync::Arc<std::sync::Mutex<(Vec<Button>, Vec<String>)>>);

impl WindowEvents for Told {
    fn button(&mut self, button: Button) {
        self.0.lock().unwrap().0.push(button);
    }
    fn log(&mut self, message: &str) {
        self.0.lock().unwrap().1.push(message.into());
    }
}

/// Polls `check` up to 10 s.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// The window as a call drives it: shown when the call is up at the
/// rectangle set before, the hang-up button reported, gone at the end.
#[test]
fn the_window_follows_the_call() {
    let x = Xvfb::start();
    let told = Told::default();
    let win = VideoWindow::new(
        Box::new(X11Window::new(Some(x.display.clone()))),
        Box::new(told.clone()),
    );
    let r = Rect::new(200, 100, 640, 400);
    win.set_rect(r);
    win.set_fit(Fit::Crop);
    win.call_up(true);
    win.remote(Picture::filled(640, 480, BARS[2]));
    assert!(
        eventually(|| close(Screen::grab(&x.display).at(300, 200), to_rgb(BARS[2]))),
        "the remote picture is shown"
    );
    let bar = arrange(&Scene {
        window: (640, 400),
        ..Scene::default()
    })
    .bar
    .unwrap();
    let (_, hang_up) = button_rects(bar)
        .into_iter()
        .find(|(b, _)| *b == Button::HangUp)
        .unwrap();
    let ok = Command::new("xdotool")
        .env("DISPLAY", &x.display)
        .arg("mousemove")
        .arg((200 + hang_up.x + 5).to_string())
        .arg((100 + hang_up.y + 5).to_string())
        .args(["click", "1"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "xdotool");
    assert!(eventually(|| told.0.lock().unwrap().0 == [Button::HangUp]));
    win.call_up(false);
    assert!(
        eventually(|| Screen::grab(&x.display).at(300, 200) == WHITE),
        "hidden"
    );
    assert!(
        told.0.lock().unwrap().1.is_empty(),
        "{:?}",
        told.0.lock().unwrap().1
    );
}

/// A window that covered ours goes away: the last picture is drawn again
/// although no new one came (a still share may send none for seconds).
#[test]
fn an_uncovered_window_shows_its_picture_again() {
    use x11rb::protocol::xproto::{CreateWindowAux, WindowClass};
    use x11rb::wrapper::ConnectionExt as _;
    let x = Xvfb::start();
    let win = VideoWindow::new(
        Box::new(X11Window::new(Some(x.display.clone()))),
        Box::new(Told::default()),
    );
    win.set_rect(Rect::new(200, 100, 640, 400));
    win.set_fit(Fit::Crop);
    win.call_up(true);
    win.remote(Picture::filled(640, 480, BARS[2]));
    let shown = || close(Screen::grab(&x.display).at(300, 200), to_rgb(BARS[2]));
    assert!(eventually(shown), "the remote picture is shown");

    let (conn, screen) = x11rb::connect(Some(&x.display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let cover = conn.generate_id().unwrap();
    let aux = CreateWindowAux::new()
        .background_pixel(0x0000ff)
        .override_redirect(1);
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        cover,
        root,
        150,
        50,
        800,
        500,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &aux,
    )
    .unwrap();
    conn.map_window(cover).unwrap();
    conn.sync().unwrap();
    assert!(
        eventually(|| Screen::grab(&x.display).at(300, 200) == 0x00_00_ff),
        "covered"
    );
    conn.destroy_window(cover).unwrap();
    conn.sync().unwrap();
    assert!(eventually(shown), "the picture is back once uncovered");
}

/// No X server: the log says the window is off, once; nothing fails.
#[test]
fn without_a_display_the_window_is_off_and_says_so() {
    let told = Told::default();
    let win = VideoWindow::new(
        Box::new(X11Window::new(Some(":31998".into()))),
        Box::new(told.clone()),
    );
    win.set_rect(Rect::new(0, 0, 320, 240));
    win.call_up(true);
    win.remote(Picture::filled(320, 240, BARS[0]));
    assert!(eventually(|| !told.0.lock().unwrap().1.is_empty()));
    win.remote(Picture::filled(320, 240, BARS[1]));
    drop(win);
    let logs = told.0.lock().unwrap().1.clone();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].starts_with("the video window is off: no X display"),
        "{logs:?}"
    );
}
