//! Refused handshakes, logged so that an administrator can see why a page
//! cannot connect: what it asked for and what the host accepts. A page that
//! keeps retrying is logged at warning level once per thing it asks for,
//! then at debug level, so it cannot flood the log.

use std::collections::HashSet;
use std::sync::Mutex;

use seatphone_protocol::dialect::{accepted, Role};

/// Distinct refusals remembered; past this the memory starts over.
const REMEMBERED: usize = 256;

static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// True the first time `key` is refused (since the memory last started over).
fn first_time(key: String) -> bool {
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.len() >= REMEMBERED {
        seen.clear();
    }
    seen.insert(key)
}

/// None of the offered sub-protocols is one `roles` take on `port`.
pub fn sub_protocol(port: &str, offered: &[String], roles: &[Role]) {
    let asked = if offered.is_empty() {
        "none".to_owned()
    } else {
        offered.join(", ")
    };
    let accepted = accepted(roles).join(", ");
    if first_time(format!("protocol {port} {asked}")) {
        tracing::warn!(
            port,
            sub_protocols = %asked,
            %accepted,
            "handshake refused: no accepted sub-protocol (asked for {asked}; the {port} port accepts {accepted})"
        );
    } else {
        tracing::debug!(port, sub_protocols = %asked, "handshake refused again: no accepted sub-protocol");
    }
}

/// The page's origin is not on the allow-list.
pub fn origin(origin: &str, sub_protocol: Option<&str>, allowed: &str) {
    let asked = sub_protocol.unwrap_or("none");
    if first_time(format!("origin {origin}")) {
        tracing::warn!(
            origin,
            sub_protocol = asked,
            allowed,
            "handshake refused: origin not allowed ({origin}, asking for {asked}; allowed: {allowed})"
        );
    } else {
        tracing::debug!(
            origin,
            sub_protocol = asked,
            "handshake refused again: origin not allowed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_new_once_and_the_memory_stays_bounded() {
        let key = |i: usize| format!("test-refusal-{i}");
        assert!(first_time(key(0)));
        assert!(!first_time(key(0)));
        for i in 1..=REMEMBERED * 2 {
            first_time(key(i));
        }
        let seen = SEEN.lock().unwrap();
        assert!(seen.as_ref().unwrap().len() <= REMEMBERED);
    }
}
