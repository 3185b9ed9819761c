//! Whether a plugin may join the ones already loaded: its numbers must not
//! collide with the standard catalogue (unless it owns that capability) nor
//! with another plugin's. Pure, so it is tested without libraries.

use seatphone_protocol::{Command, Event, Owner, PluginInfo};

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
        if let Some(std) = Event::from_notify(e.notify) {
            let owned = match std.sent_by() {
                Owner::Capability(cap) => declares(candidate, cap.name()),
                Owner::Host => false,
            };
            if !owned || std.description() != e.description {
                return Err(format!(
                    "event {} ({}) of plugin {name} collides with the standard event {} ({})",
                    e.notify,
                    e.description,
                    e.notify,
                    std.description()
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
    let standard = Command::from_cmd(cmd).or_else(|| Command::from_description(description));
    let Some(std) = standard.map(Command::spec) else {
        return Ok(());
    };
    let owner = match std.owner {
        Owner::Capability(cap) => Some(cap),
        Owner::Host => std.forwarded_to,
    };
    let owns = owner.is_some_and(|cap| declares(candidate, cap.name()));
    if owns && std.cmd == cmd && std.description == description {
        return Ok(());
    }
    Err(format!(
        "command {cmd} ({description}) of plugin {} collides with the standard command {} ({}) of {}",
        candidate.name, std.cmd, std.description, std.owner
    ))
}

fn declares(candidate: &PluginInfo, capability: &str) -> bool {
    candidate.capabilities.iter().any(|c| c == capability)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, caps: &[&str], cmds: &[(u32, &str)], events: &[(u32, &str)]) -> PluginInfo {
        let mut info = PluginInfo::new(name, "1").commands(cmds).events(events);
        info.capabilities = caps.iter().map(|s| s.to_string()).collect();
        info
    }

    fn row(c: Command) -> (u32, &'static str) {
        (c.cmd(), c.description())
    }

    fn event_row(e: Event) -> (u32, &'static str) {
        (e.notify(), e.description())
    }

    #[test]
    fn capability_owner_may_declare_its_standard_commands() {
        let audio = PluginInfo::new("audio", "1").capability("audio");
        assert!(audio.commands.len() > 5, "{audio:?}");
        assert_eq!(admit(&[], &audio), Ok(()));
        let by_hand = info(
            "audio",
            &["audio"],
            &[row(Command::GetMicVolume), row(Command::SendDtmf)],
            &[event_row(Event::LocalQos)],
        );
        assert_eq!(admit(&[], &by_hand), Ok(()));
    }

    #[test]
    fn a_custom_plugin_may_not_take_standard_numbers() {
        let thief = info("thief", &[], &[(Command::GetMicVolume.cmd(), "mine")], &[]);
        let err = admit(&[], &thief).unwrap_err();
        assert!(
            err.contains("thief") && err.contains(Command::GetMicVolume.description()),
            "{err}"
        );
        let host_cmd = info("x", &["audio"], &[row(Command::StartCall)], &[]);
        assert!(admit(&[], &host_cmd).unwrap_err().contains("the host"));
        let ev = info("y", &[], &[], &[event_row(Event::CallConnected)]);
        assert!(admit(&[], &ev).unwrap_err().contains("standard event"));
        let not_its_own = info("z", &["audio"], &[], &[event_row(Event::OpenVideoReq)]);
        assert!(admit(&[], &not_its_own)
            .unwrap_err()
            .contains("standard event"));
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
