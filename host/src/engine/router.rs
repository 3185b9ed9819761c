//! Routing a page frame to whoever answers it: the host's signalling, the
//! plugin owning the capability, or the plugin that declared the command.

use std::sync::Arc;

use abi_stable::std_types::RStr;
use seatphone_plugin_api::{reply_from_fn, result, Request, Response};
use serde_json::Value;

use super::{Engine, ReplyFn};
use crate::api::frame::{parse_request, response_frame, Incoming};
use crate::api::pages::{ConnId, Pages};
use crate::catalogue::{self, Owner};

impl Engine {
    pub fn handle_frame(&self, conn: ConnId, text: &str) {
        match parse_request(text) {
            Ok(incoming) => self.route(conn, incoming),
            Err(rejection) => self.pages.send_to(conn, rejection.into_frame()),
        }
    }

    fn route(&self, conn: ConnId, Incoming { request, seq }: Incoming) {
        let reply = reply_to(self.pages.clone(), conn, &request, seq);
        tracing::debug!(cmd = request.cmd, description = %request.description, "request");

        if let Some(std) = catalogue::by_description(&request.description) {
            if std.cmd != request.cmd {
                return reply(mismatch(&request, std.cmd));
            }
            return match std.owner {
                Owner::Host if std.cmd == CONFIG => self.configure(request, reply),
                Owner::Host => self.signalling.command(request, reply),
                Owner::Capability(cap) => match self.plugins.with_capability(cap) {
                    Some(plugin) => forward(&plugin.raw, &request, reply),
                    None => reply(Response::error(
                        result::NOT_LOADED,
                        format!(
                            "{} needs the {cap} capability, and no {cap} plugin is loaded in this deployment",
                            request.description
                        ),
                    )),
                },
            };
        }
        match self.plugins.command_owner(&request.description) {
            Some((_, cmd)) if cmd != request.cmd => reply(mismatch(&request, cmd)),
            Some((plugin, _)) => forward(&plugin.raw, &request, reply),
            None => reply(Response::error(
                result::INVALID,
                format!("unknown command {:?}", request.description),
            )),
        }
    }
}

const CONFIG: u32 = 65539;

impl Engine {
    /// `config`: paths outside `[api] page_paths` are dropped before SIP and
    /// the plugins see the request, and the response says so.
    fn configure(&self, mut request: Request, reply: ReplyFn) {
        let notes = super::page_paths::vet(&mut request.param, &self.config.api.page_paths);
        if notes.is_empty() {
            return self.signalling.command(request, reply);
        }
        for n in &notes {
            tracing::warn!("config: {n}");
        }
        self.signalling.command(
            request,
            Box::new(move |mut response: Response| {
                let mut msg = response.err_msg.take().unwrap_or_default();
                for n in notes {
                    if !msg.is_empty() {
                        msg.push_str("; ");
                    }
                    msg.push_str(&n);
                }
                response.err_msg = Some(msg);
                reply(response)
            }),
        );
    }
}

fn mismatch(request: &Request, expected: u32) -> Response {
    Response::error(
        result::INVALID,
        format!(
            "cmd {} does not match {:?}, whose cmd is {expected}",
            request.cmd, request.description
        ),
    )
}

pub(super) fn forward(
    plugin: &seatphone_plugin_api::abi::PluginBox,
    request: &Request,
    reply: ReplyFn,
) {
    let json = serde_json::to_string(request).unwrap_or_default();
    let reply = std::sync::Mutex::new(Some(reply));
    let raw_reply = reply_from_fn(move |text| {
        let response = serde_json::from_str::<Response>(text).unwrap_or_else(|e| {
            Response::error(
                result::FAILED,
                format!("the plugin answered something unreadable: {e}"),
            )
        });
        if let Some(reply) = reply.lock().unwrap_or_else(|e| e.into_inner()).take() {
            reply(response);
        }
    });
    plugin.command(RStr::from_str(&json), raw_reply);
}

/// The reply for one request: adds description, rsp and seq, and queues the
/// frame for the socket that asked.
fn reply_to(pages: Arc<Pages>, conn: ConnId, request: &Request, seq: Option<Value>) -> ReplyFn {
    let description = request.description.clone();
    let rsp = request.cmd;
    Box::new(move |response: Response| {
        pages.send_to(
            conn,
            response_frame(&description, rsp, seq.as_ref(), &response),
        );
    })
}
