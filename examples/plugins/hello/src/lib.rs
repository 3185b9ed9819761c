//! A custom plugin: one command of its own and one event of its own.
//!
//! `hello_echo` answers with what it was sent, then emits `HELLO_EVT_ECHOED`
//! carrying the same text. Copy this crate to start a plugin of your own: pick
//! `cmd`/`notify` numbers that no other loaded plugin uses.

use seatphone_plugin_api::{export_plugin, result, Host, Plugin, PluginInfo, Reply, Request};
use serde_json::json;

const HELLO_ECHO: u32 = 90001;
const HELLO_EVT_ECHOED: u32 = 90101;

struct Hello {
    host: Host,
}

fn new(host: Host) -> Result<Hello, String> {
    Ok(Hello { host })
}

export_plugin!(new);

impl Plugin for Hello {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("hello", env!("CARGO_PKG_VERSION"))
            .commands(&[(HELLO_ECHO, "hello_echo")])
            .events(&[(HELLO_EVT_ECHOED, "HELLO_EVT_ECHOED")])
    }

    fn command(&self, request: Request, reply: Reply) {
        match request.param.get("text").and_then(|t| t.as_str()) {
            Some(text) => {
                let text = text.to_owned();
                reply.ok_with(json!({ "text": text }));
                // After the reply, so the page sees the response first.
                self.host.emit(
                    HELLO_EVT_ECHOED,
                    "HELLO_EVT_ECHOED",
                    &json!({ "text": text }),
                );
            }
            None => reply.error(result::INVALID, "hello_echo needs param.text, a string"),
        }
    }
}
