//! The share plugin: list, select and capture a window and send it as a second video stream.
//!
//! Not built yet: it registers the share capability's commands so pages get an
//! honest "not implemented yet" (result 1) instead of "not loaded" (result 4),
//! and devices are never opened, so it loads on machines without them.

use seatphone_plugin_api::{export_plugin, Host, Plugin, PluginInfo, Reply, Request};

/// The commands this plugin brings (PROTOCOL.md, owner `share`).
const COMMANDS: &[(u32, &str)] = &[
    (67753, "tsdk_share_evt_getapplist"),
    (67754, "tsdk_share_evt_setshareapp"),
    (67755, "tsdk_share_evt_startsharewindow"),
    (67756, "tsdk_share_evt_stopsharewindow"),
    (67760, "tsdk_share_evt_sharecontrol"),
];

pub struct SharePlugin;

fn new(_host: Host) -> Result<SharePlugin, String> {
    Ok(SharePlugin)
}

export_plugin!(new);

impl Plugin for SharePlugin {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("share", env!("CARGO_PKG_VERSION"))
            .capability("share")
            .commands(COMMANDS)
    }

    fn command(&self, request: Request, reply: Reply) {
        reply.not_implemented(&request.description);
    }
}
