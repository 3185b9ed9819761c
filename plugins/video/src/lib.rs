//! The video plugin: camera, video codec, the video window and audio-video upgrade.
//!
//! Not built yet: it registers the video capability's commands so pages get an
//! honest "not implemented yet" (result 1) instead of "not loaded" (result 4),
//! and devices are never opened, so it loads on machines without them.

use seatphone_plugin_api::{export_plugin, Host, Plugin, PluginInfo, Reply, Request};

/// The commands this plugin brings (PROTOCOL.md, owner `video`).
const COMMANDS: &[(u32, &str)] = &[
    (67745, "tsdk_set_video_rect"),
    (67749, "tsdk_set_video_layout_mode"),
    (67751, "tsdk_set_video_display_mode"),
    (67759, "tsdk_control_camera"),
    (67801, "tsdk_add_video"),
    (67802, "tsdk_reply_add_video"),
    (67803, "tsdk_del_video"),
];

pub struct VideoPlugin;

fn new(_host: Host) -> Result<VideoPlugin, String> {
    Ok(VideoPlugin)
}

export_plugin!(new);

impl Plugin for VideoPlugin {
    fn info(&self) -> PluginInfo {
        PluginInfo::new("video", env!("CARGO_PKG_VERSION"))
            .capability("video")
            .commands(COMMANDS)
    }

    fn command(&self, request: Request, reply: Reply) {
        reply.not_implemented(&request.description);
    }
}
