//! The plugins as the SIP user agent sees them: whoever serves a media kind
//! negotiates it; every plugin hears about the call's life.

use std::sync::Arc;

use abi_stable::std_types::{RResult, RStr};
use seatphone_protocol::{
    AnswerRequest, AnswerResponse, CallEvent, Capability, ConfigureOutcome, OfferRequest,
    OfferResponse, Request, Response, StartRequest, StopRequest,
};
use seatphone_sip::Media;
use serde::{de::DeserializeOwned, Serialize};

use super::router::forward;
use crate::plugins::{Loaded, Plugins};

pub struct PluginMedia {
    pub plugins: Arc<Plugins>,
}

impl PluginMedia {
    fn serving(&self, kind: &str) -> Result<&Loaded, String> {
        self.plugins
            .serving_media(kind)
            .ok_or_else(|| format!("no loaded plugin serves {kind} media"))
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn parse<T: DeserializeOwned>(
    plugin: &Loaded,
    result: RResult<abi_stable::std_types::RString, abi_stable::std_types::RString>,
) -> Result<T, String> {
    match result {
        RResult::ROk(text) => serde_json::from_str(text.as_str()).map_err(|e| {
            format!(
                "plugin {} answered an unreadable media section: {e}",
                plugin.info.name
            )
        }),
        RResult::RErr(e) => Err(e.into()),
    }
}

impl Media for PluginMedia {
    fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .plugins
            .loaded
            .iter()
            .flat_map(|l| l.info.media.clone())
            .collect();
        kinds.dedup();
        kinds
    }

    fn configure(&self, page_config: &serde_json::Value) -> Vec<String> {
        let config = page_config.to_string();
        self.plugins
            .loaded
            .iter()
            .flat_map(|l| {
                let outcome: ConfigureOutcome =
                    serde_json::from_str(l.raw.configure(RStr::from_str(&config)).as_str())
                        .unwrap_or_default();
                outcome.warnings
            })
            .collect()
    }

    fn offer(&self, req: OfferRequest) -> Result<OfferResponse, String> {
        let plugin = self.serving(&req.kind)?;
        parse(plugin, plugin.raw.media_offer(RStr::from_str(&json(&req))))
    }

    fn answer(&self, req: AnswerRequest) -> Result<AnswerResponse, String> {
        let plugin = self.serving(&req.kind)?;
        parse(plugin, plugin.raw.media_answer(RStr::from_str(&json(&req))))
    }

    fn start(&self, req: StartRequest) -> Result<(), String> {
        let plugin = self.serving(&req.kind)?;
        match plugin.raw.media_start(RStr::from_str(&json(&req))) {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(e) => Err(e.into()),
        }
    }

    fn stop(&self, req: StopRequest) {
        if let Ok(plugin) = self.serving(&req.kind) {
            plugin.raw.media_stop(RStr::from_str(&json(&req)));
        }
    }

    fn call_event(&self, ev: CallEvent) {
        let text = json(&ev);
        for l in &self.plugins.loaded {
            l.raw.call_event(RStr::from_str(&text));
        }
    }

    fn forward(
        &self,
        capability: Capability,
        request: Request,
        reply: Box<dyn FnOnce(Response) + Send>,
    ) {
        match self.plugins.with_capability(capability.name()) {
            Some(plugin) => forward(&plugin.raw, &request, reply),
            None => reply(Response::error(
                seatphone_protocol::result::NOT_LOADED,
                format!(
                    "{} needs the {capability} capability, and no {capability} plugin is loaded",
                    request.description
                ),
            )),
        }
    }
}
