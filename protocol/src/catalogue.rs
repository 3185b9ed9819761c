//! The standard catalogue: every command and event of PROTOCOL.md, once.
//!
//! Each row says who answers a command (the host or the plugin owning a
//! capability) and who sends an event; the routing rules that bend this are
//! columns of the same rows (`forwarded_to`), so the host, the SIP user
//! agent, every plugin and the tests read numbers, descriptions and owners
//! from here and nowhere else.
//!
//! Rust code names them with [`Command`] and [`Event`]:
//! `Command::GetMicVolume.cmd()` is 67578, `.description()` is
//! `"tsdk_get_mic_volume"`.

/// A capability of the standard catalogue: the plugin declaring it
/// (`PluginInfo::capability`) answers that capability's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    Audio,
    Video,
    Share,
    Capture,
}

impl Capability {
    pub const ALL: [Capability; 4] = [Self::Audio, Self::Video, Self::Share, Self::Capture];

    /// As plugins declare it and PROTOCOL.md's "owner" column writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Share => "share",
            Self::Capture => "capture",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The standard commands a plugin of this capability answers: those it
    /// owns and those the host forwards to it.
    pub fn commands(self) -> impl Iterator<Item = &'static StandardCommand> {
        COMMANDS
            .iter()
            .filter(move |c| c.owner == Owner::Capability(self) || c.forwarded_to == Some(self))
    }

    /// The standard events a plugin of this capability sends itself.
    pub fn events(self) -> impl Iterator<Item = &'static StandardEvent> {
        EVENTS
            .iter()
            .filter(move |e| e.sent_by == Owner::Capability(self))
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Who answers a command, or sends an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The host itself (SIP signalling, answer modes, the daemon).
    Host,
    /// The plugin that declares this capability; result 4 when none is loaded.
    Capability(Capability),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Host => f.write_str("the host"),
            Owner::Capability(c) => write!(f, "capability {c}"),
        }
    }
}

/// The page socket a frame travels on (PROTOCOL.md "Sockets").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Socket {
    Daemon,
    Call,
}

/// One row of the command table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardCommand {
    pub command: Command,
    pub cmd: u32,
    pub description: &'static str,
    pub owner: Owner,
    /// A host command the host hands to this capability's plugin when the
    /// page's settings put it on the media path: DTMF goes to `audio`
    /// unless `dtmf_mode` is 4 (SIP INFO, the host's own). The plugin
    /// declaring the capability may declare the command.
    pub forwarded_to: Option<Capability>,
    pub socket: Socket,
}

/// One row of the event table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardEvent {
    pub event: Event,
    pub notify: u32,
    pub description: &'static str,
    /// The host, or the capability whose plugin sends it itself (and may
    /// declare it, which no other plugin may).
    pub sent_by: Owner,
    pub socket: Socket,
}

const HOST: Owner = Owner::Host;
const AUDIO: Owner = Owner::Capability(Capability::Audio);
const VIDEO: Owner = Owner::Capability(Capability::Video);
const SHARE: Owner = Owner::Capability(Capability::Share);
const CAPTURE: Owner = Owner::Capability(Capability::Capture);
const TO_AUDIO: Option<Capability> = Some(Capability::Audio);
const DAEMON: Socket = Socket::Daemon;
const CALL: Socket = Socket::Call;

/// Writes the enum, its table and its `const` accessors from one list of rows.
macro_rules! commands {
    ($($variant:ident = $cmd:literal, $description:literal, $owner:expr, $forwarded:expr, $socket:expr;)*) => {
        /// A standard command. Its discriminant is its `cmd` number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum Command {
            $(
                #[doc = concat!("`", $description, "` (", stringify!($cmd), ")")]
                $variant = $cmd,
            )*
        }

        /// PROTOCOL.md "Call socket: commands", in its order.
        pub const COMMANDS: &[StandardCommand] = &[$(
            StandardCommand {
                command: Command::$variant,
                cmd: $cmd,
                description: $description,
                owner: $owner,
                forwarded_to: $forwarded,
                socket: $socket,
            },
        )*];

        impl Command {
            pub const fn description(self) -> &'static str {
                match self {
                    $(Command::$variant => $description,)*
                }
            }
        }
    };
}

macro_rules! events {
    ($($variant:ident = $notify:literal, $description:literal, $sent_by:expr, $socket:expr;)*) => {
        /// A standard event. Its discriminant is its `notify` number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum Event {
            $(
                #[doc = concat!("`", $description, "` (", stringify!($notify), ")")]
                $variant = $notify,
            )*
        }

        /// PROTOCOL.md's daemon and call socket events, in its order.
        pub const EVENTS: &[StandardEvent] = &[$(
            StandardEvent {
                event: Event::$variant,
                notify: $notify,
                description: $description,
                sent_by: $sent_by,
                socket: $socket,
            },
        )*];

        impl Event {
            pub const fn description(self) -> &'static str {
                match self {
                    $(Event::$variant => $description,)*
                }
            }
        }
    };
}

commands! {
    // variant           cmd    description                          answered by  forwarded to  socket
    SetConfigParam     = 65539, "tsdk_set_config_param",             HOST,    None,     CALL;
    Login              = 65537, "tsdk_login",                        HOST,    None,     CALL;
    HoldCall           = 67804, "tsdk_hold_call",                    HOST,    None,     CALL;
    UnholdCall         = 67805, "tsdk_unhold_call",                  HOST,    None,     CALL;
    Logout             = 65538, "tsdk_logout",                       HOST,    None,     CALL;
    StartCall          = 67537, "tsdk_start_call",                   HOST,    None,     CALL;
    StartAnonymousCall = 67541, "tsdk_start_anonymous_call",         HOST,    None,     CALL;
    AcceptCall         = 67538, "tsdk_accept_call",                  HOST,    None,     CALL;
    EndCall            = 67539, "tsdk_end_call",                     HOST,    None,     CALL;
    SendDtmf           = 67540, "tsdk_send_dtmf",                    HOST,    TO_AUDIO, CALL;
    MuteMic            = 67547, "tsdk_mute_mic",                     AUDIO,   None,     CALL;
    SetAnswerWay       = 67767, "SetAnswerWay",                      HOST,    None,     CALL;
    GetDevices         = 67550, "tsdk_get_devices",                  AUDIO,   None,     CALL;
    SetMicIndex        = 67551, "tsdk_set_mic_index",                AUDIO,   None,     CALL;
    GetMicIndex        = 67552, "tsdk_get_mic_index",                AUDIO,   None,     CALL;
    SetSpeakIndex      = 67553, "tsdk_set_speak_index",              AUDIO,   None,     CALL;
    GetSpeakIndex      = 67554, "tsdk_get_speak_index",              AUDIO,   None,     CALL;
    SetSpeakVolume     = 67557, "tsdk_set_speak_volume",             AUDIO,   None,     CALL;
    GetSpeakVolume     = 67558, "tsdk_get_speak_volume",             AUDIO,   None,     CALL;
    SetMicVolume       = 67577, "tsdk_set_mic_volume",               AUDIO,   None,     CALL;
    GetMicVolume       = 67578, "tsdk_get_mic_volume",               AUDIO,   None,     CALL;
    SetVideoRect       = 67745, "tsdk_set_video_rect",               VIDEO,   None,     CALL;
    SetVideoLayoutMode = 67749, "tsdk_set_video_layout_mode",        VIDEO,   None,     CALL;
    SetVideoDisplayMode = 67751, "tsdk_set_video_display_mode",      VIDEO,   None,     CALL;
    ControlCamera      = 67759, "tsdk_control_camera",               VIDEO,   None,     CALL;
    // Audio ⇄ video is a renegotiation of the call: the host's SIP side.
    AddVideo           = 67801, "tsdk_add_video",                    HOST,    None,     CALL;
    ReplyAddVideo      = 67802, "tsdk_reply_add_video",              HOST,    None,     CALL;
    DelVideo           = 67803, "tsdk_del_video",                    HOST,    None,     CALL;
    ShareGetAppList    = 67753, "tsdk_share_evt_getapplist",         SHARE,   None,     CALL;
    ShareSetShareApp   = 67754, "tsdk_share_evt_setshareapp",        SHARE,   None,     CALL;
    ShareStartWindow   = 67755, "tsdk_share_evt_startsharewindow",   SHARE,   None,     CALL;
    ShareStopWindow    = 67756, "tsdk_share_evt_stopsharewindow",    SHARE,   None,     CALL;
    ShareControl       = 67760, "tsdk_share_evt_sharecontrol",       SHARE,   None,     CALL;
    ScreenShot         = 67762, "OEScreenShot",                      CAPTURE, None,     CALL;
    CatchVideo         = 67763, "OECatchVideo",                      CAPTURE, None,     CALL;
}

events! {
    // variant          notify  description                                sent by  socket
    ServiceStartup     = 1,    "SERVICE_STARTUP",                          HOST,  DAEMON;
    ServiceShutdown    = 2,    "SERVICE_SHUTDOWN",                         HOST,  DAEMON;
    ServiceRecover     = 3,    "SERVICE_RECOVER",                          HOST,  DAEMON;
    VersionInfo        = 4,    "VERSION_INFO",                             HOST,  DAEMON;
    LoginSuccess       = 1004, "TSDK_E_LOGIN_EVT_LOGIN_SUCCESS",           HOST,  CALL;
    LoginFailed        = 1005, "TSDK_E_LOGIN_EVT_LOGIN_FAILED",            HOST,  CALL;
    LogoutSuccess      = 1006, "TSDK_E_LOGIN_EVT_LOGOUT_SUCCESS",          HOST,  CALL;
    LogoutFailed       = 1007, "TSDK_E_LOGIN_EVT_LOGOUT_FAILED",           HOST,  CALL;
    ForceLogout        = 1008, "TSDK_E_LOGIN_EVT_FORCE_LOGOUT",            HOST,  CALL;
    AccountStatus      = 1009, "TSDK_E_LOGIN_EVT_VOIP_ACCOUNT_STATUS",     HOST,  CALL;
    CallIncoming       = 2002, "TSDK_E_CALL_EVT_CALL_INCOMING",            HOST,  CALL;
    CallOutgoing       = 2003, "TSDK_E_CALL_EVT_CALL_OUTGOING",            HOST,  CALL;
    CallRingback       = 2004, "TSDK_E_CALL_EVT_CALL_RINGBACK",            HOST,  CALL;
    CallRtpCreated     = 2005, "TSDK_E_CALL_EVT_CALL_RTP_CREATED",         HOST,  CALL;
    CallConnected      = 2006, "TSDK_E_CALL_EVT_CALL_CONNECTED",           HOST,  CALL;
    CallEnded          = 2007, "TSDK_E_CALL_EVT_CALL_ENDED",               HOST,  CALL;
    OpenVideoReq       = 2009, "TSDK_E_CALL_EVT_OPEN_VIDEO_REQ",           HOST,  CALL;
    CloseVideoInd      = 2011, "TSDK_E_CALL_EVT_CLOSE_VIDEO_IND",          HOST,  CALL;
    OpenVideoInd       = 2012, "TSDK_E_CALL_EVT_OPEN_VIDEO_IND",           HOST,  CALL;
    HoldSuccess        = 2018, "TSDK_E_CALL_EVT_HOLD_SUCCESS",             HOST,  CALL;
    HoldFailed         = 2019, "TSDK_E_CALL_EVT_HOLD_FAILED",              HOST,  CALL;
    UnholdSuccess      = 2020, "TSDK_E_CALL_EVT_UNHOLD_SUCCESS",           HOST,  CALL;
    UnholdFailed       = 2021, "TSDK_E_CALL_EVT_UNHOLD_FAILED",            HOST,  CALL;
    EndCallFailed      = 2022, "TSDK_E_CALL_EVT_ENDCALL_FAILED",           HOST,  CALL;
    LocalQos           = 2028, "TSDK_E_CALL_EVT_STATISTIC_LOCAL_QOS",      AUDIO, CALL;
}

impl Command {
    pub const fn cmd(self) -> u32 {
        self as u32
    }

    /// This command's row.
    pub fn spec(self) -> &'static StandardCommand {
        // Every variant has its row: the macro writes both from one list.
        COMMANDS
            .iter()
            .find(|c| c.command == self)
            .unwrap_or(&COMMANDS[0])
    }

    pub fn owner(self) -> Owner {
        self.spec().owner
    }

    pub fn forwarded_to(self) -> Option<Capability> {
        self.spec().forwarded_to
    }

    /// Who answers this request: the row's owner, except a list of
    /// cameras (`tsdk_get_devices` with `deviceType` 2), which the video
    /// plugin answers; microphones and speakers stay the audio plugin's.
    pub fn owner_for(self, param: &serde_json::Value) -> Owner {
        let cameras = param.get("deviceType").and_then(|t| t.as_i64()) == Some(2);
        match self {
            Command::GetDevices if cameras => Owner::Capability(Capability::Video),
            _ => self.owner(),
        }
    }

    pub fn from_cmd(cmd: u32) -> Option<Self> {
        COMMANDS.iter().find(|c| c.cmd == cmd).map(|c| c.command)
    }

    pub fn from_description(description: &str) -> Option<Self> {
        COMMANDS
            .iter()
            .find(|c| c.description == description)
            .map(|c| c.command)
    }
}

impl Event {
    pub const fn notify(self) -> u32 {
        self as u32
    }

    /// This event's row.
    pub fn spec(self) -> &'static StandardEvent {
        EVENTS
            .iter()
            .find(|e| e.event == self)
            .unwrap_or(&EVENTS[0])
    }

    pub fn sent_by(self) -> Owner {
        self.spec().sent_by
    }

    pub fn from_notify(notify: u32) -> Option<Self> {
        EVENTS.iter().find(|e| e.notify == notify).map(|e| e.event)
    }
}

impl From<Command> for u32 {
    fn from(c: Command) -> u32 {
        c.cmd()
    }
}

impl From<Event> for u32 {
    fn from(e: Event) -> u32 {
        e.notify()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn cameras_are_listed_by_the_video_plugin() {
        let owner = |p| Command::GetDevices.owner_for(&p);
        let video = Owner::Capability(Capability::Video);
        let audio = Owner::Capability(Capability::Audio);
        assert_eq!(owner(serde_json::json!({"deviceType": 2})), video);
        assert_eq!(owner(serde_json::json!({"deviceType": 1})), audio);
        assert_eq!(owner(serde_json::json!({})), audio);
        assert_eq!(owner(serde_json::json!({"deviceType": "2"})), audio);
        let camera = serde_json::json!({"deviceType": 2});
        assert_eq!(Command::GetMicIndex.owner_for(&camera), audio);
    }

    #[test]
    fn numbers_and_descriptions_are_unique() {
        let cmds: HashSet<_> = COMMANDS.iter().map(|c| c.cmd).collect();
        let descs: HashSet<_> = COMMANDS.iter().map(|c| c.description).collect();
        assert_eq!(cmds.len(), COMMANDS.len());
        assert_eq!(descs.len(), COMMANDS.len());
        let notes: HashSet<_> = EVENTS.iter().map(|e| e.notify).collect();
        let descs: HashSet<_> = EVENTS.iter().map(|e| e.description).collect();
        assert_eq!(notes.len(), EVENTS.len());
        assert_eq!(descs.len(), EVENTS.len());
    }

    #[test]
    fn every_variant_finds_its_own_row() {
        for row in COMMANDS {
            assert_eq!(row.command.spec(), row);
            assert_eq!(row.command.cmd(), row.cmd);
            assert_eq!(row.command.description(), row.description);
            assert_eq!(Command::from_cmd(row.cmd), Some(row.command));
            assert_eq!(
                Command::from_description(row.description),
                Some(row.command)
            );
        }
        for row in EVENTS {
            assert_eq!(row.event.spec(), row);
            assert_eq!(row.event.notify(), row.notify);
            assert_eq!(row.event.description(), row.description);
            assert_eq!(Event::from_notify(row.notify), Some(row.event));
        }
    }

    #[test]
    fn a_capability_brings_what_it_owns_and_what_is_forwarded_to_it() {
        let audio: Vec<_> = Capability::Audio.commands().map(|c| c.command).collect();
        assert!(audio.contains(&Command::GetMicVolume));
        assert!(
            audio.contains(&Command::SendDtmf),
            "DTMF is forwarded to audio"
        );
        assert!(!audio.contains(&Command::StartCall));
        let events: Vec<_> = Capability::Audio.events().map(|e| e.event).collect();
        assert_eq!(events, [Event::LocalQos]);
        // Audio ⇄ video is the host's renegotiation, not the video plugin's.
        assert_eq!(Capability::Video.events().count(), 0);
        let video: Vec<_> = Capability::Video.commands().map(|c| c.command).collect();
        assert!(video.contains(&Command::ControlCamera));
        assert!(!video.contains(&Command::AddVideo));
        assert_eq!(Command::ReplyAddVideo.owner(), Owner::Host);
        assert_eq!(Event::OpenVideoInd.sent_by(), Owner::Host);
        assert_eq!(Capability::from_name("capture"), Some(Capability::Capture));
        assert_eq!(Capability::from_name("hello"), None);
    }
}
