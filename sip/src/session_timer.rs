//! RFC 4028 session-timer negotiation as plain functions of header values:
//! the interval, who refreshes, what we answer. The driver reads and writes
//! the headers; the call table runs the timer that results.

/// RFC 4028 §4: no session interval below 90 s.
pub const MIN_SESSION_EXPIRES: u32 = 90;
/// The Session-Expires our INVITEs ask for (RFC 4028 recommends 1800 s).
pub const SESSION_EXPIRES: u32 = 1800;
/// A day: longer intervals are taken as this (a peer's typo must not
/// switch the timer off for good).
const MAX_SESSION_EXPIRES: u32 = 86_400;

/// A side of a transaction, as `refresher=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Uac,
    Uas,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Uac => "uac",
            Role::Uas => "uas",
        }
    }
}

/// A `Session-Expires` value: the interval and the refresher when named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    pub secs: u32,
    pub refresher: Option<Role>,
}

impl SessionExpires {
    /// `1800;refresher=uac` and the like; the interval kept within
    /// 90 s ..= a day. None when there is no number.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let secs = parts.next()?.trim().parse::<u32>().ok()?;
        let refresher = parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("refresher") {
                return None;
            }
            match v.trim().to_ascii_lowercase().as_str() {
                "uac" => Some(Role::Uac),
                "uas" => Some(Role::Uas),
                _ => None,
            }
        });
        Some(Self {
            secs: secs.clamp(MIN_SESSION_EXPIRES, MAX_SESSION_EXPIRES),
            refresher,
        })
    }

    /// The header value, the refresher named when known.
    pub fn value(&self) -> String {
        match self.refresher {
            Some(r) => format!("{};refresher={}", self.secs, r.as_str()),
            None => self.secs.to_string(),
        }
    }
}

/// `Min-SE` of a 422 (RFC 4028 §6).
pub fn parse_min_se(value: &str) -> Option<u32> {
    value.split(';').next()?.trim().parse::<u32>().ok()
}

/// The timer a dialog runs: its interval and whether we send the refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    pub secs: u32,
    pub we_refresh: bool,
}

/// What we answer an INVITE with (RFC 4028 §9, as UAS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UasAnswer {
    /// Our 2xx's Session-Expires, the refresher named.
    pub session_expires: SessionExpires,
    /// `Require: timer` (only to a caller that supports timers).
    pub require_timer: bool,
    pub agreed: Agreed,
}

/// As UAS: we accept the caller's interval. The caller refreshes unless it
/// asked us to, or does not know timers (then we must).
pub fn answer_invite(asked: Option<SessionExpires>, caller_supports: bool) -> Option<UasAnswer> {
    let asked = asked?;
    let we_refresh = asked.refresher == Some(Role::Uas) || !caller_supports;
    let refresher = if we_refresh { Role::Uas } else { Role::Uac };
    Some(UasAnswer {
        session_expires: SessionExpires {
            secs: asked.secs,
            refresher: Some(refresher),
        },
        require_timer: caller_supports,
        agreed: Agreed {
            secs: asked.secs,
            we_refresh,
        },
    })
}

/// As the side that sent `us`'s request in a transaction that went through
/// (our INVITE's 2xx, a refresh either way): the timer the message names.
/// No Session-Expires: the session has no timer (§7.2). A missing
/// refresher is the UAC's (§7.2: the UAS names it, else the UAC refreshes).
pub fn agreed(named: Option<SessionExpires>, us: Role) -> Option<Agreed> {
    let named = named?;
    Some(Agreed {
        secs: named.secs,
        we_refresh: named.refresher.unwrap_or(Role::Uac) == us,
    })
}

/// Our 2xx to a peer's refresh (re-INVITE or UPDATE) echoes its interval
/// and the refresher it asked for (the UAC's when it named none).
pub fn answer_refresh(asked: Option<SessionExpires>) -> Option<SessionExpires> {
    let asked = asked?;
    Some(SessionExpires {
        refresher: Some(asked.refresher.unwrap_or(Role::Uac)),
        ..asked
    })
}

/// Session-Expires and Supported of a request we send in a dialog
/// (refresh or hold), naming the refresher as agreed.
pub fn in_dialog_value(agreed: Agreed) -> SessionExpires {
    SessionExpires {
        secs: agreed.secs,
        refresher: Some(if agreed.we_refresh {
            Role::Uac
        } else {
            Role::Uas
        }),
    }
}

/// The request our session refresh goes as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshBy {
    /// UPDATE without SDP: the session stays as it is, no offer needed.
    Update,
    /// A re-INVITE with our unchanged offer (same SDP version, RFC 3264
    /// §8), for a peer that did not list UPDATE in its Allow.
    Reinvite,
}

/// RFC 4028 §7.4, §8: either request refreshes; UPDATE when the peer
/// allows it (the Allow of its INVITE, or of its 2xx to ours), since it
/// needs no offer and so cannot fail on media.
pub fn refresh_by(peer_allows_update: bool) -> RefreshBy {
    if peer_allows_update {
        RefreshBy::Update
    } else {
        RefreshBy::Reinvite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn we_refresh_by_update_when_the_peer_allows_it_else_by_re_invite() {
        assert_eq!(refresh_by(true), RefreshBy::Update);
        assert_eq!(refresh_by(false), RefreshBy::Reinvite);
    }

    fn se(v: &str) -> Option<SessionExpires> {
        SessionExpires::parse(v)
    }

    #[test]
    fn values_parse_with_the_interval_kept_in_bounds() {
        assert_eq!(
            se("1800;refresher=UAS"),
            Some(SessionExpires {
                secs: 1800,
                refresher: Some(Role::Uas)
            })
        );
        assert_eq!(se("30").map(|s| s.secs), Some(MIN_SESSION_EXPIRES));
        assert_eq!(se("99999999").map(|s| s.secs), Some(86_400));
        assert_eq!(
            se("600 ; refresher = uac ; x=1").unwrap().value(),
            "600;refresher=uac"
        );
        assert_eq!(se("600;refresher=nobody").unwrap().refresher, None);
        assert_eq!(se("soon"), None);
        assert_eq!(se(""), None);
        assert_eq!(parse_min_se("1800;x=y"), Some(1800));
        assert_eq!(parse_min_se("x"), None);
    }

    #[test]
    fn as_uas_the_caller_refreshes_unless_it_asks_us_or_knows_no_timers() {
        let a = answer_invite(se("1800"), true).unwrap();
        assert_eq!(a.session_expires.value(), "1800;refresher=uac");
        assert!(a.require_timer);
        assert!(!a.agreed.we_refresh);

        let a = answer_invite(se("1800;refresher=uas"), true).unwrap();
        assert_eq!(a.session_expires.value(), "1800;refresher=uas");
        assert!(a.agreed.we_refresh);

        // Session-Expires without Supported: timer (a proxy added it).
        let a = answer_invite(se("900;refresher=uac"), false).unwrap();
        assert_eq!(a.session_expires.value(), "900;refresher=uas");
        assert!(!a.require_timer, "Require only what the caller supports");
        assert!(a.agreed.we_refresh);

        assert_eq!(answer_invite(None, true), None, "no timer asked, none run");
    }

    #[test]
    fn the_refresher_a_message_names_decides_who_refreshes() {
        let ours = |v, us| agreed(se(v), us).map(|a| a.we_refresh);
        // Our INVITE's 2xx.
        assert_eq!(ours("1800;refresher=uac", Role::Uac), Some(true));
        assert_eq!(ours("1800;refresher=uas", Role::Uac), Some(false));
        assert_eq!(ours("1800", Role::Uac), Some(true));
        // A peer's refresh we answered.
        assert_eq!(ours("1800;refresher=uac", Role::Uas), Some(false));
        assert_eq!(ours("1800;refresher=uas", Role::Uas), Some(true));
        assert_eq!(agreed(None, Role::Uac), None);
        assert_eq!(agreed(se("120"), Role::Uac).unwrap().secs, 120);
    }

    #[test]
    fn refreshes_are_answered_and_sent_with_the_refresher_named() {
        assert_eq!(
            answer_refresh(se("600")).unwrap().value(),
            "600;refresher=uac"
        );
        assert_eq!(
            answer_refresh(se("600;refresher=uas")).unwrap().value(),
            "600;refresher=uas"
        );
        assert_eq!(answer_refresh(None), None);
        let mine = Agreed {
            secs: 1800,
            we_refresh: true,
        };
        assert_eq!(in_dialog_value(mine).value(), "1800;refresher=uac");
        let theirs = Agreed {
            secs: 1800,
            we_refresh: false,
        };
        assert_eq!(in_dialog_value(theirs).value(), "1800;refresher=uas");
    }
}
