//! The plain Rust side of the contract: a plugin implements [`Plugin`] with
//! typed values, the adapter turns it into the JSON-speaking [`RawPlugin`].

use std::sync::atomic::{AtomicBool, Ordering};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RBox, RResult, RStr, RString},
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::abi::{PluginBox, RawPlugin, RawPlugin_TO, RawReply, RawReply_TO, ReplyBox};
use crate::wire::*;

/// A Seatphone plugin. Every method is called from host threads and must
/// return quickly: long work goes to the plugin's own threads, and
/// [`Reply`] may be answered from any of them.
pub trait Plugin: Send + Sync + 'static {
    fn info(&self) -> PluginInfo;

    /// The page's `config` object, whole; take what concerns you.
    fn configure(&self, _config: &Value) -> ConfigureOutcome {
        ConfigureOutcome::default()
    }

    /// A command this plugin declared in [`Plugin::info`].
    fn command(&self, request: Request, reply: Reply);

    fn call_event(&self, _event: CallEvent) {}

    fn media_offer(&self, request: OfferRequest) -> Result<OfferResponse, String> {
        Err(format!("no {} media here", request.kind))
    }

    fn media_answer(&self, request: AnswerRequest) -> Result<AnswerResponse, String> {
        Err(format!("no {} media here", request.kind))
    }

    fn media_start(&self, _request: StartRequest) -> Result<(), String> {
        Ok(())
    }

    fn media_stop(&self, _request: StopRequest) {}

    fn shutdown(&self) {}
}

/// The one answer to one command. Dropping it unanswered answers result 1,
/// so a page never waits forever.
pub struct Reply {
    raw: Option<ReplyBox>,
}

impl Reply {
    pub fn from_raw(raw: ReplyBox) -> Self {
        Self { raw: Some(raw) }
    }

    pub fn send(mut self, response: Response) {
        self.deliver(&response);
    }

    pub fn ok(self) {
        self.send(Response::ok());
    }

    pub fn ok_with(self, param: Value) {
        self.send(Response::with_param(param));
    }

    pub fn error(self, result: u32, err_msg: impl Into<String>) {
        self.send(Response::error(result, err_msg));
    }

    /// A handler's refusal, as the page gets it.
    pub fn refuse(self, refusal: Refusal) {
        self.send(refusal.into());
    }

    /// The honest answer of a capability that is not built yet.
    pub fn not_implemented(self, description: &str) {
        self.error(
            result::FAILED,
            format!("{description}: not implemented yet"),
        );
    }

    fn deliver(&mut self, response: &Response) {
        if let Some(raw) = self.raw.take() {
            let json = serde_json::to_string(response).unwrap_or_default();
            raw.send(RStr::from_str(&json));
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.deliver(&Response::error(
            result::FAILED,
            "the plugin dropped the command without answering",
        ));
    }
}

/// Wraps a closure as a reply handle (for the host, and for plugin tests).
pub fn reply_from_fn(f: impl Fn(&str) + Send + Sync + 'static) -> ReplyBox {
    RawReply_TO::from_value(
        OnceReply {
            f,
            done: AtomicBool::new(false),
        },
        TD_Opaque,
    )
}

struct OnceReply<F> {
    f: F,
    done: AtomicBool,
}

impl<F: Fn(&str) + Send + Sync> RawReply for OnceReply<F> {
    fn send(&self, response: RStr<'_>) {
        if !self.done.swap(true, Ordering::AcqRel) {
            (self.f)(response.as_str());
        }
    }
}

/// Turns a [`Plugin`] into the object the host loads. Used by `export_plugin!`.
pub fn into_raw_plugin<P: Plugin>(plugin: P) -> PluginBox {
    RawPlugin_TO::from_value(Adapter(plugin), TD_Opaque)
}

struct Adapter<P>(P);

fn parse<T: DeserializeOwned>(json: RStr<'_>) -> Result<T, RString> {
    serde_json::from_str(json.as_str())
        .map_err(|e| RString::from(format!("bad request from host: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> RString {
    serde_json::to_string(value).unwrap_or_default().into()
}

fn json_result<T: Serialize>(r: Result<T, String>) -> RResult<RString, RString> {
    match r {
        Ok(v) => RResult::ROk(to_json(&v)),
        Err(e) => RResult::RErr(e.into()),
    }
}

impl<P: Plugin> RawPlugin for Adapter<P> {
    fn info(&self) -> RString {
        to_json(&self.0.info())
    }

    fn configure(&self, config: RStr<'_>) -> RString {
        let config: Value = serde_json::from_str(config.as_str()).unwrap_or(Value::Null);
        to_json(&self.0.configure(&config))
    }

    fn command(&self, request: RStr<'_>, reply: ReplyBox) {
        let reply = Reply::from_raw(reply);
        match parse::<Request>(request) {
            Ok(request) => self.0.command(request, reply),
            Err(e) => reply.error(result::INVALID, e.as_str()),
        }
    }

    fn call_event(&self, event: RStr<'_>) {
        if let Ok(event) = parse(event) {
            self.0.call_event(event);
        }
    }

    fn media_offer(&self, request: RStr<'_>) -> RResult<RString, RString> {
        match parse(request) {
            Ok(r) => json_result(self.0.media_offer(r)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn media_answer(&self, request: RStr<'_>) -> RResult<RString, RString> {
        match parse(request) {
            Ok(r) => json_result(self.0.media_answer(r)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn media_start(&self, request: RStr<'_>) -> RResult<(), RString> {
        match parse(request).map(|r| self.0.media_start(r)) {
            Ok(Ok(())) => RResult::ROk(()),
            Ok(Err(e)) => RResult::RErr(e.into()),
            Err(e) => RResult::RErr(e),
        }
    }

    fn media_stop(&self, request: RStr<'_>) {
        if let Ok(r) = parse(request) {
            self.0.media_stop(r);
        }
    }

    fn shutdown(&self) {
        self.0.shutdown();
    }
}

// Keeps `RBox` in the public signature types resolvable for the macro users.
#[doc(hidden)]
pub type _RBox<T> = RBox<T>;
