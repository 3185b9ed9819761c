//! HTTP and WebSocket on the engine's port: the SDK, the demo page,
//! `/health`, the login and call sockets (and the video socket). Every
//! request passes the Host check, every handshake the Origin check. The
//! daemon port is the daemon's own (`daemon::socket`, the same checks).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use seatphone_protocol::dialect::{accepted, choose, Role};
use seatphone_protocol::Dialect;

use super::access::AccessPolicy;
use super::pages::{ConnId, Pages, SocketKind};
use super::refused_handshake;
use super::socket::{self, FrameHandler, Opened};
use super::video;
use crate::engine::Engine;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// Frames over 1 MiB are answered with result 2 by the frame parser; this
/// transport limit only stops a page from making the host buffer without end.
const TRANSPORT_LIMIT: usize = 16 << 20;

/// tungstenite zeroes up to this much of its read buffer each time it reads
/// (128 KiB by default, 85% of the instructions of a small command). Page
/// frames are small; a large one just takes more reads.
const READ_CHUNK: usize = 2 << 10;

/// The engine port's sockets.
const ENGINE_ROLES: &[Role] = &[Role::Login, Role::Call];

/// A socket endpoint: who checks access, where pages are kept, who handles frames.
#[derive(Clone)]
pub struct Endpoint {
    pub access: AccessPolicy,
    pub pages: Arc<Pages>,
    pub handler: Arc<dyn FrameHandler>,
}

/// The engine port's sockets: OpenEye frames go to the engine as they are,
/// other dialects through their translation.
struct EngineSockets(Arc<Engine>);

impl FrameHandler for EngineSockets {
    fn opened(&self, conn: ConnId, kind: SocketKind) {
        if kind == SocketKind::Call {
            self.0.page_connected(conn);
        }
    }

    fn frame(&self, conn: ConnId, dialect: Dialect, text: &str) {
        match dialect {
            Dialect::OpenEye => self.0.handle_frame(conn, text),
            other => crate::dialect::handle(&self.0, conn, other, text),
        }
    }
}

pub fn engine_router(engine: Arc<Engine>) -> Router {
    let endpoint = Endpoint {
        access: engine.access.clone(),
        pages: engine.pages.clone(),
        handler: Arc::new(EngineSockets(engine.clone())),
    };
    Router::new()
        .route("/", get(engine_socket_or_page))
        .route("/login", get(engine_socket_or_page))
        .route("/call", get(engine_socket_or_page))
        .route(video::PATH, get(video_socket))
        .route("/health", get(health))
        .route("/OpenEye_SDK.js", get(sdk))
        .route(
            "/demo.js",
            get(|s, h| asset(s, h, assets::DEMO_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/demo.css",
            get(|s, h| asset(s, h, assets::DEMO_CSS, "text/css; charset=utf-8")),
        )
        .with_state((engine, endpoint))
}

type EngineState = State<(Arc<Engine>, Endpoint)>;

async fn engine_socket_or_page(
    State((engine, endpoint)): EngineState,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !endpoint.access.host_allowed(host_header(&headers)) {
        return misdirected();
    }
    let Ok(ws) = ws else {
        return if uri.path() == "/" {
            serve(assets::DEMO_HTML, "text/html; charset=utf-8")
        } else {
            (
                StatusCode::BAD_REQUEST,
                "this path takes WebSocket connections",
            )
                .into_response()
        };
    };
    let offered = offered_protocols(&headers);
    let chosen = choose(offered.iter().map(String::as_str), ENGINE_ROLES)
        .map(|p| (kind_of(p.role), p.dialect, Some(p.name)))
        .or_else(|| match uri.path() {
            "/login" if offered.is_empty() => Some((SocketKind::Login, Dialect::OpenEye, None)),
            "/call" if offered.is_empty() => Some((SocketKind::Call, Dialect::OpenEye, None)),
            _ => None,
        });
    let Some((kind, dialect, protocol)) = chosen else {
        refused_handshake::sub_protocol("engine", &offered, ENGINE_ROLES);
        let accepted = accepted(ENGINE_ROLES).join(", ");
        return (
            StatusCode::BAD_REQUEST,
            format!("offer one of the sub-protocols {accepted}, or connect to /login or /call"),
        )
            .into_response();
    };
    let takeover = query
        .get("takeover")
        .is_some_and(|v| v == "1" || v == "true");
    let _ = engine;
    let opened = Opened {
        kind,
        dialect,
        takeover,
    };
    upgrade(ws, &headers, opened, protocol, endpoint)
}

fn kind_of(role: Role) -> SocketKind {
    match role {
        Role::Daemon => SocketKind::Daemon,
        Role::Login => SocketKind::Login,
        Role::Call => SocketKind::Call,
    }
}

/// A socket-only path's request: the Host check, then the upgrade (`what`
/// names the path in the 400 a plain request gets).
fn socket_request(
    access: &AccessPolicy,
    headers: &HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    what: &str,
) -> Result<WebSocketUpgrade, Box<Response>> {
    if !access.host_allowed(host_header(headers)) {
        return Err(Box::new(misdirected()));
    }
    ws.map_err(|_| {
        Box::new(
            (
                StatusCode::BAD_REQUEST,
                format!("{what} takes WebSocket connections"),
            )
                .into_response(),
        )
    })
}

/// The Origin check every socket's handshake passes: `Some` is the refusal.
fn refuse_origin(
    headers: &HeaderMap,
    protocol: Option<&'static str>,
    access: &AccessPolicy,
) -> Option<Response> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if access.origin_allowed(origin) {
        return None;
    }
    refused_handshake::origin(origin.unwrap_or(""), protocol, access.allowed_origins());
    Some(
        (
            StatusCode::FORBIDDEN,
            "this page's origin may not use the softphone",
        )
            .into_response(),
    )
}

/// The upgrade with the page frames' limits and the chosen sub-protocol.
fn limited(ws: WebSocketUpgrade, protocol: Option<&'static str>) -> WebSocketUpgrade {
    let ws = ws
        .read_buffer_size(READ_CHUNK)
        .max_message_size(TRANSPORT_LIMIT)
        .max_frame_size(TRANSPORT_LIMIT);
    match protocol {
        Some(p) => ws.protocols([p]),
        None => ws,
    }
}

fn upgrade(
    ws: WebSocketUpgrade,
    headers: &HeaderMap,
    opened: Opened,
    protocol: Option<&'static str>,
    endpoint: Endpoint,
) -> Response {
    if let Some(refused) = refuse_origin(headers, protocol, &endpoint.access) {
        return refused;
    }
    let admitted = endpoint
        .pages
        .admit(opened.kind, opened.dialect, opened.takeover);
    limited(ws, protocol)
        .on_upgrade(move |socket| socket::run(socket, admitted, opened, endpoint.handler))
}

/// `/video`: a call's encoded pictures for a page that shows them itself
/// (api/video.rs), admitted like the API's sockets.
async fn video_socket(
    State((engine, endpoint)): EngineState,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match socket_request(&endpoint.access, &headers, ws, "this path") {
        Ok(ws) => ws,
        Err(refused) => return *refused,
    };
    let offered = offered_protocols(&headers);
    let protocol = if offered.iter().any(|p| p == video::SUB_PROTOCOL) {
        Some(video::SUB_PROTOCOL)
    } else if offered.is_empty() {
        None
    } else {
        return (
            StatusCode::BAD_REQUEST,
            format!("offer the sub-protocol {}", video::SUB_PROTOCOL),
        )
            .into_response();
    };
    if let Some(refused) = refuse_origin(&headers, protocol, &endpoint.access) {
        return refused;
    }
    let want = match video::Want::from_query(&query) {
        Ok(want) => want,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let Some(slot) = engine.video.claim() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} video sockets are open: close one first",
                video::MAX_SOCKETS
            ),
        )
            .into_response();
    };
    limited(ws, protocol).on_upgrade(move |socket| video::run(socket, want, slot))
}

async fn health(State((engine, endpoint)): EngineState, headers: HeaderMap) -> Response {
    if !endpoint.access.host_allowed(host_header(&headers)) {
        return misdirected();
    }
    axum::Json(engine.health()).into_response()
}

async fn sdk(State((engine, endpoint)): EngineState, headers: HeaderMap) -> Response {
    if !endpoint.access.host_allowed(host_header(&headers)) {
        return misdirected();
    }
    let Some(sdk) = assets::SDK_JS else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let api = &engine.config.api;
    let host = if api.bind.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        api.bind.to_string()
    };
    let mut defaults =
        serde_json::json!({ "host": host, "daemonPort": api.daemon_port, "port": api.port });
    // The SDK uses wss:// from an https page only when the host says it serves it.
    if api.tls_cert.is_some() {
        defaults["tls"] = true.into();
    }
    serve_owned(
        with_defaults(sdk, &defaults.to_string()),
        "text/javascript; charset=utf-8",
    )
}

async fn asset(
    State((_, endpoint)): EngineState,
    headers: HeaderMap,
    body: Option<&'static str>,
    content_type: &'static str,
) -> Response {
    if !endpoint.access.host_allowed(host_header(&headers)) {
        return misdirected();
    }
    serve(body, content_type)
}

/// Replaces the object on the SDK's `var SEATPHONE_DEFAULTS = {...};` line.
fn with_defaults(sdk: &str, defaults: &str) -> String {
    const MARK: &str = "var SEATPHONE_DEFAULTS = ";
    let mut out = String::with_capacity(sdk.len() + 64);
    for line in sdk.split_inclusive('\n') {
        match (line.find(MARK), line.rfind(';')) {
            (Some(start), Some(end)) if end > start => {
                out.push_str(&line[..start + MARK.len()]);
                out.push_str(defaults);
                out.push_str(&line[end..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn serve(body: Option<&'static str>, content_type: &'static str) -> Response {
    match body {
        Some(body) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn serve_owned(body: String, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn misdirected() -> Response {
    (
        StatusCode::MISDIRECTED_REQUEST,
        "unknown Host: use 127.0.0.1 or localhost",
    )
        .into_response()
}

fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_defaults_line_is_replaced() {
        let sdk = "a\n  var SEATPHONE_DEFAULTS = {\"host\": \"127.0.0.1\", \"daemonPort\": 7682, \"port\": 7684};\nb\n";
        let out = with_defaults(sdk, r#"{"port":9}"#);
        assert_eq!(out, "a\n  var SEATPHONE_DEFAULTS = {\"port\":9};\nb\n");
    }
}
