//! The capture plugin: snapshots and recordings of the remote video.
//!
//! Not built yet: it registers the capture capability's commands so pages get an
//! honest "not implemented yet" (result 1) instead of "not loaded" (result 4),
//! and devices are never opened, so it loads on machines without them.

use seatphone_plugin_api::{export_plugin, Host, Plugin, PluginInfo, Reply, Request};

/// The commands this plugin brings (PROTOCOL.md, owner `capture`).
const COMMANDS: &[(u32, &str)] = &[(67762, "OEScreenShot"), (67763, "OECatchVideo")];

pub struct CapturePlugin;

fn new(_host: Host) -> Result<CapturePlugin, String> {
    Ok(CapturePlugin)
}

export_plugin!(new);

impl Plugin for CapturePlugin {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("capture", env!("CARGO_PKG_VERSION"))
            .capability("capture")
            .commands(COMMANDS)
    }

    fn command(&self, request: Request, reply: Reply) {
        reply.not_implemented(&request.description);
    }
}
