//! The standard API's catalogue: every command of PROTOCOL.md with its number,
//! description and the capability that answers it. The host needs it to answer
//! result 4 for a capability no loaded plugin provides, and to refuse a plugin
//! that would take a standard number it does not own.

/// Who answers a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The host itself (SIP signalling, answer modes).
    Host,
    /// The plugin that declares this capability.
    Capability(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct StandardCommand {
    pub cmd: u32,
    pub description: &'static str,
    pub owner: Owner,
}

const fn host(cmd: u32, description: &'static str) -> StandardCommand {
    StandardCommand {
        cmd,
        description,
        owner: Owner::Host,
    }
}

const fn cap(cmd: u32, description: &'static str, capability: &'static str) -> StandardCommand {
    StandardCommand {
        cmd,
        description,
        owner: Owner::Capability(capability),
    }
}

pub const COMMANDS: &[StandardCommand] = &[
    host(65539, "tsdk_set_config_param"),
    host(65537, "tsdk_login"),
    host(65538, "tsdk_logout"),
    host(67804, "tsdk_hold_call"),
    host(67805, "tsdk_unhold_call"),
    host(67537, "tsdk_start_call"),
    host(67541, "tsdk_start_anonymous_call"),
    host(67538, "tsdk_accept_call"),
    host(67539, "tsdk_end_call"),
    // INFO is the host's; RFC 4733 and in-band are forwarded to `audio`.
    host(67540, "tsdk_send_dtmf"),
    host(67767, "SetAnswerWay"),
    cap(67547, "tsdk_mute_mic", "audio"),
    cap(67550, "tsdk_get_devices", "audio"),
    cap(67551, "tsdk_set_mic_index", "audio"),
    cap(67552, "tsdk_get_mic_index", "audio"),
    cap(67553, "tsdk_set_speak_index", "audio"),
    cap(67554, "tsdk_get_speak_index", "audio"),
    cap(67557, "tsdk_set_speak_volume", "audio"),
    cap(67558, "tsdk_get_speak_volume", "audio"),
    cap(67577, "tsdk_set_mic_volume", "audio"),
    cap(67578, "tsdk_get_mic_volume", "audio"),
    cap(67745, "tsdk_set_video_rect", "video"),
    cap(67749, "tsdk_set_video_layout_mode", "video"),
    cap(67751, "tsdk_set_video_display_mode", "video"),
    cap(67759, "tsdk_control_camera", "video"),
    cap(67801, "tsdk_add_video", "video"),
    cap(67802, "tsdk_reply_add_video", "video"),
    cap(67803, "tsdk_del_video", "video"),
    cap(67753, "tsdk_share_evt_getapplist", "share"),
    cap(67754, "tsdk_share_evt_setshareapp", "share"),
    cap(67755, "tsdk_share_evt_startsharewindow", "share"),
    cap(67756, "tsdk_share_evt_stopsharewindow", "share"),
    cap(67760, "tsdk_share_evt_sharecontrol", "share"),
    cap(67762, "OEScreenShot", "capture"),
    cap(67763, "OECatchVideo", "capture"),
];

/// Notify numbers of the standard events (daemon, login and call sockets),
/// which no plugin may declare as its own — except 2009/2011/2012, which the
/// video capability sends.
pub const STANDARD_EVENTS: &[(u32, &str)] = &[
    (1, "SERVICE_STARTUP"),
    (2, "SERVICE_SHUTDOWN"),
    (3, "SERVICE_RECOVER"),
    (4, "VERSION_INFO"),
    (1004, "TSDK_E_LOGIN_EVT_LOGIN_SUCCESS"),
    (1005, "TSDK_E_LOGIN_EVT_LOGIN_FAILED"),
    (1006, "TSDK_E_LOGIN_EVT_LOGOUT_SUCCESS"),
    (1007, "TSDK_E_LOGIN_EVT_LOGOUT_FAILED"),
    (1008, "TSDK_E_LOGIN_EVT_FORCE_LOGOUT"),
    (1009, "TSDK_E_LOGIN_EVT_VOIP_ACCOUNT_STATUS"),
    (2002, "TSDK_E_CALL_EVT_CALL_INCOMING"),
    (2003, "TSDK_E_CALL_EVT_CALL_OUTGOING"),
    (2004, "TSDK_E_CALL_EVT_CALL_RINGBACK"),
    (2005, "TSDK_E_CALL_EVT_CALL_RTP_CREATED"),
    (2006, "TSDK_E_CALL_EVT_CALL_CONNECTED"),
    (2007, "TSDK_E_CALL_EVT_CALL_ENDED"),
    (2009, "TSDK_E_CALL_EVT_OPEN_VIDEO_REQ"),
    (2011, "TSDK_E_CALL_EVT_CLOSE_VIDEO_IND"),
    (2012, "TSDK_E_CALL_EVT_OPEN_VIDEO_IND"),
    (2018, "TSDK_E_CALL_EVT_HOLD_SUCCESS"),
    (2019, "TSDK_E_CALL_EVT_HOLD_FAILED"),
    (2020, "TSDK_E_CALL_EVT_UNHOLD_SUCCESS"),
    (2021, "TSDK_E_CALL_EVT_UNHOLD_FAILED"),
    (2022, "TSDK_E_CALL_EVT_ENDCALL_FAILED"),
    (2028, "TSDK_E_CALL_EVT_STATISTIC_LOCAL_QOS"),
];

/// Standard events a capability's plugin sends itself.
pub fn event_owner(notify: u32) -> Option<&'static str> {
    match notify {
        2009 | 2011 | 2012 => Some("video"),
        2028 => Some("audio"),
        _ => None,
    }
}

/// A host command the host hands to a capability in some modes: DTMF goes
/// to `audio` unless it is sent as SIP INFO.
pub fn forwarded_to(cmd: u32) -> Option<&'static str> {
    (cmd == 67540).then_some("audio")
}

pub fn by_description(description: &str) -> Option<&'static StandardCommand> {
    COMMANDS.iter().find(|c| c.description == description)
}

pub fn by_cmd(cmd: u32) -> Option<&'static StandardCommand> {
    COMMANDS.iter().find(|c| c.cmd == cmd)
}

pub fn standard_event(notify: u32) -> Option<&'static str> {
    STANDARD_EVENTS
        .iter()
        .find(|(n, _)| *n == notify)
        .map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn numbers_and_descriptions_are_unique() {
        let cmds: HashSet<_> = COMMANDS.iter().map(|c| c.cmd).collect();
        let descs: HashSet<_> = COMMANDS.iter().map(|c| c.description).collect();
        assert_eq!(cmds.len(), COMMANDS.len());
        assert_eq!(descs.len(), COMMANDS.len());
    }

    #[test]
    fn lookups_agree() {
        let c = by_description("tsdk_get_mic_volume").unwrap();
        assert_eq!(c.cmd, 67578);
        assert_eq!(c.owner, Owner::Capability("audio"));
        assert_eq!(by_cmd(67537).unwrap().description, "tsdk_start_call");
    }
}
