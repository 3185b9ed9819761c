//! A window of a test's own on an X screen (an [`crate::xvfb::Xvfb`]): its
//! left half red (or moving colour bars), its right half a child window
//! that starts blue and can be repainted, with a title. The share tests
//! list and share it; the bench shares it still and changing.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ChangeGCAux, ChangeWindowAttributesAux, ConnectionExt as _, CreateGCAux,
    CreateWindowAux, PropMode, Rectangle, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

pub const RED: u32 = 0xd02020;
pub const BLUE: u32 = 0x2040e0;
pub const GREEN: u32 = 0x20c040;

/// Colours of [`TestWindow::draw_bars`].
const BARS: [u32; 8] = [
    0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000,
];

pub struct TestWindow {
    conn: RustConnection,
    pub win: u32,
    right: u32,
    gc: u32,
    size: (u16, u16),
}

impl TestWindow {
    /// Maps a window at `(x, y)` of `w`×`h`, titled `title`.
    pub fn open(display: &str, title: &str, (x, y, w, h): (i16, i16, u16, u16)) -> TestWindow {
        let (conn, n) = x11rb::connect(Some(display)).expect("X display");
        let root = conn.setup().roots[n].root;
        let win = conn.generate_id().unwrap();
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            win,
            root,
            x,
            y,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new().background_pixel(RED),
        )
        .unwrap();
        let right = conn.generate_id().unwrap();
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            right,
            win,
            (w / 2) as i16,
            0,
            w - w / 2,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new().background_pixel(BLUE),
        )
        .unwrap();
        conn.change_property8(
            PropMode::REPLACE,
            win,
            AtomEnum::WM_NAME,
            AtomEnum::STRING,
            title.as_bytes(),
        )
        .unwrap();
        let gc = conn.generate_id().unwrap();
        conn.create_gc(gc, win, &CreateGCAux::new()).unwrap();
        conn.map_window(right).unwrap();
        conn.map_window(win).unwrap();
        conn.sync().unwrap();
        TestWindow {
            conn,
            win,
            right,
            gc,
            size: (w, h),
        }
    }

    /// Draws eight colour bars over the left half, moved right by `shift`
    /// pixels (a moving picture, as a video playing in the window).
    pub fn draw_bars(&self, shift: u16) {
        let (w, h) = (self.size.0 / 2, self.size.1);
        let bar = w.div_ceil(8).max(1);
        for (i, colour) in BARS.iter().enumerate() {
            let x = (i as u32 * u32::from(bar) + u32::from(shift)) % u32::from(w.max(1));
            let aux = ChangeGCAux::new().foreground(*colour);
            self.conn.change_gc(self.gc, &aux).unwrap();
            // A bar that runs off the right edge goes on at the left.
            let first = (u32::from(w) - x).min(u32::from(bar)) as u16;
            let mut parts = vec![Rectangle {
                x: x as i16,
                y: 0,
                width: first,
                height: h,
            }];
            if first < bar {
                parts.push(Rectangle {
                    x: 0,
                    y: 0,
                    width: bar - first,
                    height: h,
                });
            }
            self.conn
                .poly_fill_rectangle(self.win, self.gc, &parts)
                .unwrap();
        }
        self.conn.sync().unwrap();
    }

    /// Paints the right half `colour`.
    pub fn paint_right(&self, colour: u32) {
        let aux = ChangeWindowAttributesAux::new().background_pixel(colour);
        self.conn
            .change_window_attributes(self.right, &aux)
            .unwrap();
        self.conn.clear_area(false, self.right, 0, 0, 0, 0).unwrap();
        self.conn.sync().unwrap();
    }

    pub fn close(self) {
        self.conn.destroy_window(self.win).unwrap();
        self.conn.sync().unwrap();
    }
}
