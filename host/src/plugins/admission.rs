//! Whether a plugin may join the ones already loaded: its numbers must not
//! collide with the standard catalogue (unless it owns that capability) nor
//! with another plugin's. Pure, so it is tested without libraries.

use seatphone_plugin_api::PluginInfo;

use crate::catalogue::{self, Owner};

pub fn admit(loaded: &[&PluginInfo], candidate: &PluginInfo) -> Result<(), String> {
    let name = &candidate.name;
    if name.trim().is_empty() {
        return Err("the plugin has no name".into());
    }
    for other in loaded {
        if other.name == *name {
            return Err(format!("a plugin named {name} is already loaded"));
        }
        if let Some(cap) = candidate
            .capabilities
            .iter()
            .find(|c| other.capabilities.contains(c))
        {
            return Err(format!(
                "capability {cap} is already provided by plugin {}",
                other.name
            ));
        }
    }
    for c in &candidate.commands {
        check_standard_command(candidate, c.cmd, &c.description)?;
        for other in loaded {
            if let Some(o) = other
                .commands
                .iter()
                .find(|o| o.cmd == c.cmd || o.description == c.description)
            {
                return Err(format!(
                    "command {} ({}) of plugin {name} collides with command {} ({}) of plugin {}",
                    c.cmd, c.description, o.cmd, o.description, other.name
                ));
            }
        }
    }
    for e in &candidate.events {
        if let Some(std) = catalogue::standard_event(e.notify) {
            let owned = catalogue::event_owner(e.notify)
                .is_some_and(|cap| candidate.capabilities.iter().any(|c| c == cap));
            if !owned || std != e.description {
                return Err(format!(
                    "event {} ({}) of plugin {name} collides with the standard event {} ({std})",
                    e.notify, e.description, e.notify
                ));
            }
        }
        for other in loaded {
            if let Some(o) = other.events.iter().find(|o| o.notify == e.notify) {
                return Err(format!(
                    "event {} ({}) of plugin {name} collides with event {} ({}) of plugin {}",
                    e.notify, e.description, o.notify, o.description, other.name
                ));
            }
        }
    }
    Ok(())
}

/// A plugin may declare a standard command only as the owner of its
/// capability, with the catalogue's number and description.
fn check_standard_command(
    candidate: &PluginInfo,
    cmd: u32,
    description: &str,
) -> Result<(), String> {
    let standard = catalogue::by_cmd(cmd).or_else(|| catalogue::by_description(description));
    let Some(std) = standard else { return Ok(()) };
    let owner = match std.owner {
        Owner::Capability(cap) => Some(cap),
        Owner::Host => catalogue::forwarded_to(std.cmd),
    };
    let owns = owner.is_some_and(|cap| candidate.capabilities.iter().any(|c| c == cap));
    if owns && std.cmd == cmd && std.description == description {
        return Ok(());
    }
    Err(format!(
        "command {cmd} ({description}) of plugin {} collides with the standard command {} ({}) of {}",
        candidate.name,
        std.cmd,
        std.description,
        match std.owner {
            Owner::Host => "the host".to_string(),
            Owner::Capability(cap) => format!("capability {cap}"),
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatphone_plugin_api::{CommandSpec, EventSpec};

    fn info(name: &str, caps: &[&str], cmds: &[(u32, &str)], events: &[(u32, &str)]) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            version: "1".into(),
            capabilities: caps.iter().map(|s| s.to_string()).collect(),
            media: vec![],
            commands: cmds
                .iter()
                .map(|(c, d)| CommandSpec {
                    cmd: *c,
                    description: d.to_string(),
                })
                .collect(),
            events: events
                .iter()
                .map(|(n, d)| EventSpec {
                    notify: *n,
                    description: d.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn capability_owner_may_declare_its_standard_commands() {
        let audio = info(
            "audio",
            &["audio"],
            &[(67578, "tsdk_get_mic_volume"), (67540, "tsdk_send_dtmf")],
            &[(2028, "TSDK_E_CALL_EVT_STATISTIC_LOCAL_QOS")],
        );
        assert_eq!(admit(&[], &audio), Ok(()));
    }

    #[test]
    fn a_custom_plugin_may_not_take_standard_numbers() {
        let thief = info("thief", &[], &[(67578, "mine")], &[]);
        let err = admit(&[], &thief).unwrap_err();
        assert!(
            err.contains("thief") && err.contains("tsdk_get_mic_volume"),
            "{err}"
        );
        let host_cmd = info("x", &["audio"], &[(67537, "tsdk_start_call")], &[]);
        assert!(admit(&[], &host_cmd).unwrap_err().contains("the host"));
        let ev = info("y", &[], &[], &[(2006, "TSDK_E_CALL_EVT_CALL_CONNECTED")]);
        assert!(admit(&[], &ev).unwrap_err().contains("standard event"));
    }

    #[test]
    fn collisions_between_plugins_name_both() {
        let a = info("alpha", &[], &[(90001, "a_cmd")], &[(90101, "A_EVT")]);
        let b = info("beta", &[], &[(90001, "b_cmd")], &[]);
        let err = admit(&[&a], &b).unwrap_err();
        assert!(err.contains("alpha") && err.contains("beta"), "{err}");
        let c = info("gamma", &[], &[], &[(90101, "C_EVT")]);
        let err = admit(&[&a], &c).unwrap_err();
        assert!(err.contains("alpha") && err.contains("gamma"), "{err}");
    }

    #[test]
    fn duplicate_names_and_capabilities_are_refused() {
        let a = info("audio", &["audio"], &[], &[]);
        assert!(admit(&[&a], &info("audio", &[], &[], &[])).is_err());
        assert!(admit(&[&a], &info("audio2", &["audio"], &[], &[]))
            .unwrap_err()
            .contains("capability audio"));
    }
}
