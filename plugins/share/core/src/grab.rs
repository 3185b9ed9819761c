//! Grabbing the screen: a connection of the share's own, told by XDamage
//! what changed (where the server has it), pixels copied through MIT-SHM
//! (`ShmGetImage`, plain `GetImage` where shared memory is refused, e.g. a
//! remote display), and the pointer drawn in from XFixes.

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::damage::{self, ConnectionExt as _, ReportLevel};
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xfixes::ConnectionExt as _;
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConnectionExt as _, EventMask, ImageFormat, Window,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

use seatphone_video_core::picture::Picture;
use seatphone_video_core::shm::Segment;

use crate::convert::{bgrx_to_i420, draw_cursor, fit_size, Cursor};
use crate::Rect;

/// What the display said since the last look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// This part of the screen was drawn.
    Drawn(Rect),
    /// The watched window was destroyed or unmapped.
    WindowGone(Window),
}

pub struct Grabber {
    conn: RustConnection,
    root: Window,
    screen: Rect,
    /// XDamage on the root window, where the server has it.
    damage: Option<damage::Damage>,
    xfixes: bool,
    shm: bool,
    segment: Option<Segment>,
    watched: Option<Window>,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("X11: {e}")
}

impl Grabber {
    /// Connects to `display` (`None`: `$DISPLAY`).
    pub fn open(display: Option<&str>) -> Result<Grabber, String> {
        let (conn, n) = x11rb::connect(display).map_err(|e| format!("no X display ({e})"))?;
        let s = &conn.setup().roots[n];
        let (root, depth) = (s.root, s.root_depth);
        let screen = Rect::new(
            0,
            0,
            u32::from(s.width_in_pixels),
            u32::from(s.height_in_pixels),
        );
        let bpp32 = conn
            .setup()
            .pixmap_formats
            .iter()
            .any(|f| f.depth == depth && f.bits_per_pixel == 32);
        if !(depth == 24 || depth == 32) || !bpp32 {
            return Err(format!(
                "X screen of depth {depth}: sharing needs 24-bit colour"
            ));
        }
        let has = |name: &'static str| conn.extension_information(name).ok().flatten().is_some();
        let xfixes = has("XFIXES")
            && conn
                .xfixes_query_version(4, 0)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some();
        let damage = if xfixes && has("DAMAGE") {
            let ok = conn
                .damage_query_version(1, 1)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some();
            let id = conn.generate_id().map_err(err)?;
            (ok && conn
                .damage_create(id, root, ReportLevel::RAW_RECTANGLES)
                .ok()
                .and_then(|c| c.check().ok())
                .is_some())
            .then_some(id)
        } else {
            None
        };
        let shm = has("MIT-SHM")
            && conn
                .shm_query_version()
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|v| (v.major_version, v.minor_version) >= (1, 2));
        Ok(Grabber {
            conn,
            root,
            screen,
            damage,
            xfixes,
            shm,
            segment: None,
            watched: None,
        })
    }

    pub fn conn(&self) -> &RustConnection {
        &self.conn
    }

    pub fn root(&self) -> Window {
        self.root
    }

    pub fn screen(&self) -> Rect {
        self.screen
    }

    /// Whether the server tells what changed; without it the caller grabs
    /// at a steady pace and compares.
    pub fn tells_changes(&self) -> bool {
        self.damage.is_some()
    }

    /// Be told when `win` goes away (or stop being told, `None`).
    pub fn watch(&mut self, win: Option<Window>) {
        if let Some(old) = self.watched.take() {
            let aux = ChangeWindowAttributesAux::new().event_mask(EventMask::NO_EVENT);
            let _ = self.conn.change_window_attributes(old, &aux);
        }
        if let Some(w) = win {
            let aux = ChangeWindowAttributesAux::new().event_mask(EventMask::STRUCTURE_NOTIFY);
            let _ = self.conn.change_window_attributes(w, &aux);
            self.watched = Some(w);
        }
        let _ = self.conn.flush();
    }

    /// What happened since the last call (never waits).
    pub fn changes(&mut self) -> Result<Vec<Change>, String> {
        let mut out = Vec::new();
        while let Some(event) = self.conn.poll_for_event().map_err(err)? {
            match event {
                Event::DamageNotify(e) => out.push(Change::Drawn(Rect::new(
                    i32::from(e.area.x),
                    i32::from(e.area.y),
                    u32::from(e.area.width),
                    u32::from(e.area.height),
                ))),
                Event::DestroyNotify(e) if Some(e.window) == self.watched => {
                    out.push(Change::WindowGone(e.window))
                }
                Event::UnmapNotify(e) if Some(e.window) == self.watched => {
                    out.push(Change::WindowGone(e.window))
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Where the pointer is on the screen.
    pub fn pointer(&self) -> Option<(i32, i32)> {
        let p = self.conn.query_pointer(self.root).ok()?.reply().ok()?;
        Some((i32::from(p.root_x), i32::from(p.root_y)))
    }

    fn cursor(&self) -> Option<Cursor> {
        if !self.xfixes {
            return None;
        }
        let c = self.conn.xfixes_get_cursor_image().ok()?.reply().ok()?;
        Some(Cursor {
            x: i32::from(c.x) - i32::from(c.xhot),
            y: i32::from(c.y) - i32::from(c.yhot),
            width: u32::from(c.width),
            height: u32::from(c.height),
            argb: c.cursor_image,
        })
    }

    /// The screen's pixels inside `rect` (clipped to the screen), the
    /// pointer drawn in, at most `max` in size.
    pub fn grab(&mut self, rect: Rect, max: (u32, u32)) -> Result<Picture, String> {
        let r = rect
            .clip(&self.screen)
            .ok_or("the shared area is off the screen")?;
        let len = r.w as usize * r.h as usize * 4;
        let size = fit_size((r.w, r.h), max);
        let cursor = self.cursor();
        let draw = |pixels: &mut [u8]| {
            if let Some(c) = &cursor {
                draw_cursor(pixels, r.w as usize * 4, (r.w, r.h), (r.x, r.y), c);
            }
            bgrx_to_i420(pixels, r.w as usize * 4, (r.w, r.h), size)
        };
        if self.shm && self.segment.as_ref().is_none_or(|s| s.len < len) {
            if let Some(old) = self.segment.take() {
                let _ = self.conn.shm_detach(old.seg);
            }
            match Segment::new(&self.conn, len, true) {
                Ok(s) => self.segment = Some(s),
                // Refused (a remote display): plain GetImage from now on.
                Err(_) => self.shm = false,
            }
        }
        if let Some(seg) = self.segment.as_mut().filter(|_| self.shm) {
            self.conn
                .shm_get_image(
                    self.root,
                    r.x as i16,
                    r.y as i16,
                    r.w as u16,
                    r.h as u16,
                    !0,
                    ImageFormat::Z_PIXMAP.into(),
                    seg.seg,
                    0,
                )
                .map_err(err)?
                .reply()
                .map_err(err)?;
            return Ok(draw(&mut seg.bytes()[..len]));
        }
        let mut image = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                r.x as i16,
                r.y as i16,
                r.w as u16,
                r.h as u16,
                !0,
            )
            .map_err(err)?
            .reply()
            .map_err(err)?;
        if image.data.len() < len {
            return Err(format!(
                "GetImage gave {} bytes for {len}",
                image.data.len()
            ));
        }
        Ok(draw(&mut image.data))
    }
}

impl Drop for Grabber {
    fn drop(&mut self) {
        if let Some(d) = self.damage.take() {
            let _ = self.conn.damage_destroy(d);
        }
        if let Some(seg) = self.segment.take() {
            let _ = self.conn.shm_detach(seg.seg);
        }
        let _ = self.conn.flush();
    }
}
