//! Routing a page frame to whoever answers it: the host's signalling, the
//! plugin owning the capability, or the plugin that declared the command.

use std::sync::Arc;

use abi_stable::std_types::RStr;
use seatphone_plugin_api::reply_from_fn;
use seatphone_protocol::{result, Command, Owner, Refusal, Request, Response};
use serde_json::Value;

use super::{Engine, ReplyFn};
use crate::api::frame::{answer_frame, parse_request, response_frame, Incoming};
use crate::api::pages::{ConnId, Pages};
use crate::plugins::Loaded;

impl Engine {
    pub fn handle_frame(&self, conn: ConnId, text: &str) {
        match parse_request(text) {
            Ok(incoming) => self.route(conn, incoming),
            Err(rejection) => self.pages.send_to(conn, rejection.into_frame()),
        }
    }

    fn route(&self, conn: ConnId, incoming: Incoming<'_>) {
        tracing::debug!(cmd = incoming.cmd, description = %incoming.description, "request");
        let asker = Asker {
            pages: self.pages.clone(),
            conn,
            description: incoming.description.clone(),
            rsp: incoming.cmd,
            seq: incoming.seq.clone(),
        };
        match self.answerer(&incoming) {
            Err(refusal) => asker.answer(&refusal.into()),
            Ok(Answerer::Host) if incoming.cmd == Command::SetConfigParam.cmd() => {
                self.configure(incoming.request(), asker.into_reply())
            }
            Ok(Answerer::Host) => self
                .signalling
                .command(incoming.request(), asker.into_reply()),
            Ok(Answerer::Plugin(plugin)) => {
                // The plugin reads the page's text and its answer goes out
                // spliced into the response frame: neither is rebuilt as a
                // `Value` here.
                let text = incoming.plugin_text();
                let reply = reply_from_fn(move |answer| asker.plugin_answered(answer));
                plugin.raw.command(RStr::from_str(&text), reply);
            }
        }
    }

    /// A standard request made inside the host (a dialect's translation of
    /// a page's frame): routed as a page's would be, its answer handed to
    /// `reply` as a `Response` instead of written to a socket.
    pub fn ask(&self, request: Request, reply: ReplyFn) {
        match self.answerer_of(&request.description, request.cmd, &request.param) {
            Err(refusal) => reply(refusal.into()),
            Ok(Answerer::Host) if request.cmd == Command::SetConfigParam.cmd() => {
                self.configure(request, reply)
            }
            Ok(Answerer::Host) => self.signalling.command(request, reply),
            Ok(Answerer::Plugin(plugin)) => forward(&plugin.raw, &request, reply),
        }
    }

    /// Who answers a request, or why no one does.
    fn answerer(&self, incoming: &Incoming<'_>) -> Result<Answerer<'_>, Refusal> {
        self.answerer_of(&incoming.description, incoming.cmd, &incoming.param)
    }

    fn answerer_of(
        &self,
        description: &str,
        cmd: u32,
        param: &Value,
    ) -> Result<Answerer<'_>, Refusal> {
        if let Some(std) = Command::from_description(description) {
            if std.cmd() != cmd {
                return Err(Refusal::cmd_mismatch(description, cmd, std.cmd()));
            }
            return match std.owner_for(param) {
                Owner::Host => Ok(Answerer::Host),
                Owner::Capability(cap) => match self.plugins.with_capability(cap.name()) {
                    Some(plugin) => Ok(Answerer::Plugin(plugin)),
                    None => Err(Refusal::new(
                        result::NOT_LOADED,
                        format!(
                            "{description} needs the {cap} capability, and no {cap} plugin is loaded in this deployment"
                        ),
                    )),
                },
            };
        }
        match self.plugins.command_owner(description) {
            Some((_, owned)) if owned != cmd => Err(Refusal::cmd_mismatch(description, cmd, owned)),
            Some((plugin, _)) => Ok(Answerer::Plugin(plugin)),
            None => Err(Refusal::invalid(format!("unknown command {description:?}"))),
        }
    }
}

enum Answerer<'a> {
    /// SIP signalling and `config`.
    Host,
    Plugin(&'a Loaded),
}

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

/// Who asked: the socket a request's answer goes to, and the routing
/// fields the response frame echoes.
struct Asker {
    pages: Arc<Pages>,
    conn: ConnId,
    description: String,
    rsp: u32,
    seq: Option<Value>,
}

impl Asker {
    fn answer(&self, response: &Response) {
        let frame = response_frame(&self.description, self.rsp, self.seq.as_ref(), response);
        self.pages.send_to(self.conn, frame);
    }

    fn into_reply(self) -> ReplyFn {
        Box::new(move |response: Response| self.answer(&response))
    }

    fn plugin_answered(&self, answer: &str) {
        match answer_frame(&self.description, self.rsp, self.seq.as_ref(), answer) {
            Some(frame) => self.pages.send_to(self.conn, frame),
            None => self.answer(&Response::error(
                result::FAILED,
                "the plugin answered something unreadable: not a JSON object with a numeric result",
            )),
        }
    }
}
