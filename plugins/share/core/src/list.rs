//! What can be shared on an X11 (or XWayland) display: the top-level
//! windows a person sees, with their titles, the whole desktop, and each
//! monitor when there are several.
//!
//! Windows come from the window manager's `_NET_CLIENT_LIST` (EWMH); without
//! one, from the window tree: a child of the root carrying `WM_STATE` (or
//! holding a descendant that does, inside a frame) is a client, and with no
//! window manager at all a mapped, titled child of the root is one. Only
//! viewable windows with a title are listed, never override-redirect ones
//! (menus, tooltips) and never Seatphone's own (`WM_CLASS` "Seatphone").

use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, MapState, Window, WindowClass};
use x11rb::rust_connection::RustConnection;

use crate::{Rect, Source};

/// One entry of `getAppList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shareable {
    /// The number the page names it by: the window's id, the root
    /// window's for the desktop, a RandR CRTC's for a monitor.
    pub id: u32,
    pub title: String,
    pub source: Source,
}

/// The title the desktop is listed under.
pub const DESKTOP_TITLE: &str = "Desktop";

struct Atoms {
    client_list: u32,
    net_wm_name: u32,
    utf8: u32,
    wm_state: u32,
}

fn atom(conn: &RustConnection, name: &str) -> Result<u32, String> {
    Ok(conn
        .intern_atom(false, name.as_bytes())
        .map_err(err)?
        .reply()
        .map_err(err)?
        .atom)
}

fn err(e: impl std::fmt::Display) -> String {
    format!("X11: {e}")
}

impl Atoms {
    fn new(conn: &RustConnection) -> Result<Atoms, String> {
        Ok(Atoms {
            client_list: atom(conn, "_NET_CLIENT_LIST")?,
            net_wm_name: atom(conn, "_NET_WM_NAME")?,
            utf8: atom(conn, "UTF8_STRING")?,
            wm_state: atom(conn, "WM_STATE")?,
        })
    }
}

/// A property's bytes, or nothing (no such window, no such property).
fn property(conn: &RustConnection, win: Window, prop: u32, kind: u32) -> Option<Vec<u8>> {
    let reply = conn
        .get_property(false, win, prop, kind, 0, 4096)
        .ok()?
        .reply()
        .ok()?;
    (reply.format != 0).then_some(reply.value)
}

fn windows_of(bytes: &[u8]) -> Vec<Window> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A window's title: `_NET_WM_NAME` (UTF-8), else `WM_NAME`.
pub fn title(conn: &RustConnection, win: Window) -> Option<String> {
    let atoms = Atoms::new(conn).ok()?;
    title_with(conn, &atoms, win)
}

fn title_with(conn: &RustConnection, atoms: &Atoms, win: Window) -> Option<String> {
    let text = property(conn, win, atoms.net_wm_name, atoms.utf8)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .or_else(|| {
            // STRING is Latin-1.
            property(conn, win, AtomEnum::WM_NAME.into(), AtomEnum::ANY.into())
                .map(|b| b.iter().map(|&c| char::from(c)).collect())
        })?;
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn is_seatphone(conn: &RustConnection, win: Window) -> bool {
    property(
        conn,
        win,
        AtomEnum::WM_CLASS.into(),
        AtomEnum::STRING.into(),
    )
    .is_some_and(|c| c.split(|b| *b == 0).any(|part| part == b"Seatphone"))
}

/// The client inside a window manager's frame: the first descendant
/// carrying `WM_STATE`, a few levels down at most.
fn client_below(conn: &RustConnection, atoms: &Atoms, win: Window, depth: u32) -> Option<Window> {
    if property(conn, win, atoms.wm_state, atoms.wm_state).is_some() {
        return Some(win);
    }
    if depth == 0 {
        return None;
    }
    let tree = conn.query_tree(win).ok()?.reply().ok()?;
    tree.children
        .into_iter()
        .rev()
        .find_map(|c| client_below(conn, atoms, c, depth - 1))
}

/// Top-level client windows, top of the stack first where the tree says.
fn candidates(conn: &RustConnection, atoms: &Atoms, root: Window) -> Vec<(Window, bool)> {
    if let Some(list) = property(conn, root, atoms.client_list, AtomEnum::WINDOW.into()) {
        let list = windows_of(&list);
        if !list.is_empty() {
            return list.into_iter().map(|w| (w, true)).collect();
        }
    }
    let Some(tree) = conn.query_tree(root).ok().and_then(|c| c.reply().ok()) else {
        return Vec::new();
    };
    // A bare child of the root (no WM_STATE anywhere below it) is a
    // client only when no window manager runs: `false` marks those.
    tree.children
        .into_iter()
        .rev()
        .map(|c| match client_below(conn, atoms, c, 3) {
            Some(client) => (client, true),
            None => (c, false),
        })
        .collect()
}

/// The windows, the desktop and (when there are several) the monitors.
pub fn list(conn: &RustConnection, root: Window) -> Result<Vec<Shareable>, String> {
    let atoms = Atoms::new(conn)?;
    let screen = root_rect(conn, root)?;
    let mut out = vec![Shareable {
        id: root,
        title: DESKTOP_TITLE.into(),
        source: Source::Desktop,
    }];
    let monitors = monitors(conn, root);
    if monitors.len() > 1 {
        for (n, (crtc, rect)) in monitors.into_iter().enumerate() {
            out.push(Shareable {
                id: crtc,
                title: format!(
                    "Screen {} ({}x{} at {},{})",
                    n + 1,
                    rect.w,
                    rect.h,
                    rect.x,
                    rect.y
                ),
                source: Source::Monitor { crtc, rect },
            });
        }
    }
    let mut seen = Vec::new();
    for (win, managed) in candidates(conn, &atoms, root) {
        if seen.contains(&win) {
            continue;
        }
        seen.push(win);
        let Some(attrs) = conn
            .get_window_attributes(win)
            .ok()
            .and_then(|c| c.reply().ok())
        else {
            continue;
        };
        let shown = attrs.map_state == MapState::VIEWABLE
            && attrs.class != WindowClass::INPUT_ONLY
            && (managed || !attrs.override_redirect);
        if !shown || is_seatphone(conn, win) {
            continue;
        }
        let Some(rect) = window_rect(conn, root, win) else {
            continue;
        };
        if rect.w < 2 || rect.h < 2 || rect.clip(&screen).is_none() {
            continue;
        }
        if let Some(title) = title_with(conn, &atoms, win) {
            out.push(Shareable {
                id: win,
                title,
                source: Source::Window(win),
            });
        }
    }
    Ok(out)
}

/// The screen's rectangle.
pub fn root_rect(conn: &RustConnection, root: Window) -> Result<Rect, String> {
    let g = conn.get_geometry(root).map_err(err)?.reply().map_err(err)?;
    Ok(Rect::new(0, 0, u32::from(g.width), u32::from(g.height)))
}

/// Where a window is on the screen now, or `None` when it is gone.
pub fn window_rect(conn: &RustConnection, root: Window, win: Window) -> Option<Rect> {
    let g = conn.get_geometry(win).ok()?.reply().ok()?;
    let at = conn
        .translate_coordinates(win, root, 0, 0)
        .ok()?
        .reply()
        .ok()?;
    Some(Rect::new(
        i32::from(at.dst_x),
        i32::from(at.dst_y),
        u32::from(g.width),
        u32::from(g.height),
    ))
}

/// Active monitors (RandR CRTCs with a mode), or none without RandR.
pub fn monitors(conn: &RustConnection, root: Window) -> Vec<(u32, Rect)> {
    let Some(res) = conn
        .randr_get_screen_resources_current(root)
        .ok()
        .and_then(|c| c.reply().ok())
    else {
        return Vec::new();
    };
    res.crtcs
        .iter()
        .filter_map(|&crtc| {
            let info = conn
                .randr_get_crtc_info(crtc, res.config_timestamp)
                .ok()?
                .reply()
                .ok()?;
            (info.mode != 0 && info.width > 0 && info.height > 0).then(|| {
                (
                    crtc,
                    Rect::new(
                        i32::from(info.x),
                        i32::from(info.y),
                        u32::from(info.width),
                        u32::from(info.height),
                    ),
                )
            })
        })
        .collect()
}
