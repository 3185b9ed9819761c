//! The video window on X11 (and XWayland): an override-redirect window, so
//! no window manager moves or decorates it, drawn with MIT-SHM PutImage
//! from a memfd both sides map (plain PutImage where the server has no
//! shared memory, e.g. a remote display). A Wayland-native window cannot be
//! placed at screen coordinates at all, which is why this backend talks to
//! XWayland there.

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xproto::{
    AtomEnum, ConfigureWindowAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask,
    ImageFormat, PropMode, StackMode, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use super::layout::Rect;
use super::Backend;
use crate::shm::Segment;

struct Open {
    conn: RustConnection,
    root: u32,
    depth: u8,
    shm: bool,
    /// The window and its graphics context, while shown.
    window: Option<(u32, u32)>,
    segment: Option<Segment>,
}

/// The X11 backend. Nothing connects until the first [`Backend::show`].
pub struct X11Window {
    /// `None`: `$DISPLAY`.
    display: Option<String>,
    /// Off: plain PutImage even where the server shares memory.
    use_shm: bool,
    open: Option<Open>,
    /// The server asked for the window's pixels again (Expose).
    exposed: bool,
}

impl X11Window {
    pub fn new(display: Option<String>) -> X11Window {
        X11Window {
            display,
            use_shm: true,
            open: None,
            exposed: false,
        }
    }

    /// Without MIT-SHM, as on a remote display.
    pub fn without_shm(display: Option<String>) -> X11Window {
        X11Window {
            use_shm: false,
            ..X11Window::new(display)
        }
    }

    fn connect(&mut self) -> Result<&mut Open, String> {
        if self.open.is_none() {
            let (conn, screen) = x11rb::connect(self.display.as_deref())
                .map_err(|e| format!("no X display ({e})"))?;
            let s = &conn.setup().roots[screen];
            let (root, depth) = (s.root, s.root_depth);
            let bpp32 = conn
                .setup()
                .pixmap_formats
                .iter()
                .any(|f| f.depth == depth && f.bits_per_pixel == 32);
            if !(depth == 24 || depth == 32) || !bpp32 {
                return Err(format!(
                    "X screen of depth {depth}: the window needs 24-bit colour"
                ));
            }
            let shm = self.use_shm
                && conn
                    .shm_query_version()
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|v| (v.major_version, v.minor_version) >= (1, 2));
            self.open = Some(Open {
                conn,
                root,
                depth,
                shm,
                window: None,
                segment: None,
            });
        }
        self.open.as_mut().ok_or_else(|| "no X display".into())
    }
}

/// Names the window as Seatphone's (`WM_CLASS` "seatphone", "Seatphone"),
/// so that the share plugin never offers it for sharing.
fn mark(conn: &RustConnection, win: u32) -> Result<(), x11rb::errors::ConnectionError> {
    conn.change_property8(
        PropMode::REPLACE,
        win,
        AtomEnum::WM_CLASS,
        AtomEnum::STRING,
        crate::shm::SEATPHONE_WM_CLASS,
    )?;
    conn.change_property8(
        PropMode::REPLACE,
        win,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        b"Seatphone video",
    )?;
    Ok(())
}

fn err(e: impl std::fmt::Display) -> String {
    format!("X11: {e}")
}

impl Backend for X11Window {
    fn show(&mut self, r: Rect) -> Result<(), String> {
        let o = self.connect()?;
        let (w, h) = (r.w.clamp(1, 8192) as u16, r.h.clamp(1, 8192) as u16);
        let (x, y) = (
            r.x.clamp(-32768, 32767) as i16,
            r.y.clamp(-32768, 32767) as i16,
        );
        match o.window {
            Some((win, _)) => {
                let aux = ConfigureWindowAux::new()
                    .x(i32::from(x))
                    .y(i32::from(y))
                    .width(u32::from(w))
                    .height(u32::from(h))
                    .stack_mode(StackMode::ABOVE);
                o.conn.configure_window(win, &aux).map_err(err)?;
            }
            None => {
                let win = o.conn.generate_id().map_err(err)?;
                let aux = CreateWindowAux::new()
                    .background_pixel(0)
                    .override_redirect(1)
                    .event_mask(EventMask::BUTTON_PRESS | EventMask::EXPOSURE);
                o.conn
                    .create_window(
                        x11rb::COPY_DEPTH_FROM_PARENT,
                        win,
                        o.root,
                        x,
                        y,
                        w,
                        h,
                        0,
                        WindowClass::INPUT_OUTPUT,
                        0,
                        &aux,
                    )
                    .map_err(err)?;
                let gc = o.conn.generate_id().map_err(err)?;
                o.conn
                    .create_gc(gc, win, &CreateGCAux::new())
                    .map_err(err)?;
                mark(&o.conn, win).map_err(err)?;
                o.conn.map_window(win).map_err(err)?;
                o.window = Some((win, gc));
            }
        }
        o.conn.flush().map_err(err)
    }

    fn present(&mut self, width: u32, height: u32, pixels: &[u32]) -> Result<(), String> {
        let Some(o) = self.open.as_mut() else {
            return Ok(());
        };
        let Some((win, gc)) = o.window else {
            return Ok(());
        };
        let len = width as usize * height as usize * 4;
        if pixels.len() * 4 != len || width == 0 || height == 0 || width > 8192 || height > 8192 {
            return Err(format!(
                "{} pixels for a {width}x{height} window",
                pixels.len()
            ));
        }
        let (w, h) = (width as u16, height as u16);
        if o.shm && o.segment.as_ref().is_none_or(|s| s.len != len) {
            if let Some(old) = o.segment.take() {
                let _ = o.conn.shm_detach(old.seg);
            }
            match Segment::new(&o.conn, len, false) {
                Ok(s) => o.segment = Some(s),
                // Shared memory refused (a remote display): plain
                // PutImage from now on.
                Err(_) => o.shm = false,
            }
        }
        match o.segment.as_mut().filter(|_| o.shm) {
            Some(seg) => {
                for (dst, px) in seg.bytes().chunks_exact_mut(4).zip(pixels) {
                    dst.copy_from_slice(&px.to_le_bytes());
                }
                o.conn
                    .shm_put_image(
                        win,
                        gc,
                        w,
                        h,
                        0,
                        0,
                        w,
                        h,
                        0,
                        0,
                        o.depth,
                        ImageFormat::Z_PIXMAP.into(),
                        false,
                        seg.seg,
                        0,
                    )
                    .map_err(err)?;
            }
            None => {
                // Rows in pieces under the server's request size limit.
                let max = o.conn.maximum_request_bytes().saturating_sub(64).max(4096);
                let rows = (max / (width as usize * 4)).max(1);
                for (i, chunk) in pixels.chunks(rows * width as usize).enumerate() {
                    let bytes: Vec<u8> = chunk.iter().flat_map(|p| p.to_le_bytes()).collect();
                    let n = (chunk.len() / width as usize) as u16;
                    o.conn
                        .put_image(
                            ImageFormat::Z_PIXMAP,
                            win,
                            gc,
                            w,
                            n,
                            0,
                            (i * rows) as i16,
                            0,
                            o.depth,
                            &bytes,
                        )
                        .map_err(err)?;
                }
            }
        }
        // The server has read the segment before we write it again.
        o.conn.sync().map_err(err)
    }

    fn hide(&mut self) {
        if let Some(o) = self.open.as_mut() {
            if let Some((win, gc)) = o.window.take() {
                let _ = o.conn.free_gc(gc);
                let _ = o.conn.destroy_window(win);
            }
            if let Some(seg) = o.segment.take() {
                let _ = o.conn.shm_detach(seg.seg);
            }
            let _ = o.conn.sync();
        }
    }

    fn clicks(&mut self) -> Vec<(i32, i32)> {
        let mut out = Vec::new();
        if let Some(o) = self.open.as_ref() {
            while let Ok(Some(event)) = o.conn.poll_for_event() {
                match event {
                    Event::ButtonPress(e) => out.push((i32::from(e.event_x), i32::from(e.event_y))),
                    Event::Expose(_) => self.exposed = true,
                    _ => {}
                }
            }
        }
        out
    }

    fn exposed(&mut self) -> bool {
        std::mem::take(&mut self.exposed)
    }
}
