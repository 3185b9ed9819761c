//! The launch link a portal page opens to start Seatphone:
//! `OpenEyeWebApiShell://-mode,2/` (the reference's form) or
//! `seatphone://-mode,2/`. The browser hands it to the desktop entry's
//! command (`seatphone launch %u`).
//!
//! Everything in the link comes from a web page, so it is read, never
//! executed: the only thing taken from it is `-mode` with a one-digit value;
//! any other item is counted and dropped. Nothing in a link can name a
//! config file, a port, a folder or a subcommand.

/// The URL schemes Seatphone registers (lower case, as compared).
pub const SCHEMES: &[&str] = &["openeyewebapishell", "seatphone"];

/// What a link asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Link {
    pub mode: Option<u8>,
    /// Items that are not documented arguments (not applied).
    pub ignored: usize,
    /// The scheme was not one of ours (the whole link was ignored).
    pub foreign: bool,
}

/// Reads a link as a browser passes it (scheme any case, `//` or not,
/// items separated by commas, possibly percent-encoded, path or query after).
pub fn parse(link: &str) -> Link {
    let Some((scheme, rest)) = link.trim().split_once(':') else {
        return Link {
            foreign: true,
            ..Link::default()
        };
    };
    if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Link {
            foreign: true,
            ..Link::default()
        };
    }
    let rest = rest.trim_start_matches('/');
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let decoded = percent_decode(&rest[..end]);
    let mut link = Link::default();
    let mut items = decoded
        .split([',', ' ', '&', '='])
        .filter(|s| !s.is_empty());
    while let Some(item) = items.next() {
        if item.eq_ignore_ascii_case("-mode") || item.eq_ignore_ascii_case("--mode") {
            match items.next().and_then(mode_value) {
                Some(m) => link.mode = Some(m),
                None => link.ignored += 1,
            }
        } else {
            link.ignored += 1;
        }
    }
    if !rest[end..].trim_matches('/').is_empty() {
        link.ignored += 1;
    }
    link
}

/// `-mode` takes one digit (the reference's modes; 2 = no window).
pub fn mode_value(text: &str) -> Option<u8> {
    match text.as_bytes() {
        [d @ b'0'..=b'9'] => Some(d - b'0'),
        _ => None,
    }
}

/// `%XX` decoded; anything malformed kept as is; invalid UTF-8 replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_link_asks_for_mode_2() {
        for link in [
            "OpenEyeWebApiShell://-mode,2/",
            "openeyewebapishell://-mode,2",
            "OpenEyeWebApiShell:-mode,2",
            "seatphone://-mode,2/",
            "OpenEyeWebApiShell://-mode%2C2/",
        ] {
            assert_eq!(
                parse(link),
                Link {
                    mode: Some(2),
                    ignored: 0,
                    foreign: false
                },
                "{link}"
            );
        }
    }

    #[test]
    fn a_bare_link_starts_with_no_arguments() {
        assert_eq!(parse("seatphone://"), Link::default());
        assert_eq!(parse("seatphone:"), Link::default());
    }

    #[test]
    fn anything_else_in_a_link_is_counted_and_dropped() {
        let l = parse("OpenEyeWebApiShell://-mode,2,--config,evil.toml,engine");
        assert_eq!((l.mode, l.ignored), (Some(2), 3));
        // What follows the first `/` counts as one more ignored item.
        let l = parse("OpenEyeWebApiShell://-mode,2,--config,/tmp/evil.toml,engine/x?y=1");
        assert_eq!((l.mode, l.ignored), (Some(2), 2));
        let l = parse("OpenEyeWebApiShell://-mode,;rm%20-rf%20~/");
        assert_eq!(l.mode, None);
        assert!(l.ignored >= 1);
        assert_eq!(parse("OpenEyeWebApiShell://-mode,22/").mode, None);
        assert_eq!(parse("OpenEyeWebApiShell://%ff%fe,-mode,2").mode, Some(2));
    }

    #[test]
    fn another_scheme_is_not_ours() {
        assert!(parse("https://-mode,2/").foreign);
        assert!(parse("--config").foreign);
        assert!(parse("").foreign);
    }
}
