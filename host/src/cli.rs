//! The command line. Everything `--help` prints is here, next to the parser.

use std::path::PathBuf;

use crate::install::launch_link;

pub const USAGE: &str = "\
usage: seatphone [--config FILE] [--mode N]   run Seatphone (the daemon, which runs the engine)
       seatphone launch LINK                  what the launch link runs (see below)
       seatphone doctor [--config FILE] [--sip HOST[:PORT]]
                                              check this seat and print a short report
       seatphone engine [--config FILE]       run the engine alone (development)
       seatphone --version | --help

Seatphone is the softphone that contact-centre web pages drive over local
WebSockets (ws://127.0.0.1:7682 and :7684; see /usr/share/doc/seatphone).
It runs as the desktop user, never as root, once per user: a second start
says that one is already running and exits 0.

Config: /etc/seatphone/seatphone.toml (the administrator's), then
$XDG_CONFIG_HOME/seatphone/seatphone.toml (~/.config/...; the user's), whose
keys override the same keys of the first; --config FILE uses that file
alone. As root Seatphone starts only with --config (tests, containers).
Logs and state: [log] dir, by default $XDG_STATE_HOME/seatphone
(~/.local/state/seatphone). Plugins: [plugins] dir, by default
/usr/lib/seatphone/plugins for /usr/bin/seatphone (the executable's own
folder in a build tree).

Options:
  --config FILE, -c FILE   use this config file only
  --mode N, -mode N        the reference client's start mode; Seatphone has no
                           window, so every mode runs without one (2 = no UI)
  --sip HOST[:PORT]        doctor: the SIP server to try (default: the one the
                           running Seatphone registers with)

Launch link: a page opens OpenEyeWebApiShell://-mode,2/ (or seatphone://...);
the desktop entry runs `seatphone launch LINK`, which starts Seatphone as
above if it is not running. Only -mode is read from a link; anything else in
it is ignored.

Exit codes: 0 ran and stopped, or already running; 1 failed (the reason is
printed and logged); 2 bad command line or config. doctor: 0 all checks
passed, 1 a check failed.";

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The daemon (and the engine under it).
    Run,
    /// The engine alone; `supervised` when the daemon started it.
    Engine {
        supervised: bool,
    },
    Doctor {
        sip: Option<String>,
    },
    /// Started from a launch link: the links, unread yet.
    Launch {
        links: Vec<String>,
    },
    /// doctor's child process that loads the plugins (request on stdin).
    ProbePlugins,
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub command: Command,
    pub config: Option<PathBuf>,
    pub mode: Option<u8>,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        command: Command::Run,
        config: None,
        mode: None,
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs {what}\n{USAGE}"))
        };
        match flag.as_str() {
            "engine" if parsed.command == Command::Run => {
                parsed.command = Command::Engine { supervised: false }
            }
            "doctor" if parsed.command == Command::Run => {
                parsed.command = Command::Doctor { sip: None }
            }
            "probe-plugins" if parsed.command == Command::Run => {
                parsed.command = Command::ProbePlugins
            }
            // A link is untrusted: what follows is read as links, never as options.
            "launch" if parsed.command == Command::Run => {
                return Ok(Args {
                    command: Command::Launch {
                        links: it.collect(),
                    },
                    ..parsed
                });
            }
            "--supervised" => match &mut parsed.command {
                Command::Engine { supervised } => *supervised = true,
                _ => return Err(format!("--supervised is for the engine\n{USAGE}")),
            },
            "--config" | "-c" => parsed.config = Some(value("a file")?.into()),
            "--mode" | "-mode" => {
                let v = value("a mode (2)")?;
                parsed.mode = Some(
                    launch_link::mode_value(&v)
                        .ok_or_else(|| format!("--mode takes one digit (2), not {v:?}"))?,
                );
            }
            "--sip" => match &mut parsed.command {
                Command::Doctor { sip } => *sip = Some(value("HOST[:PORT]")?),
                _ => return Err(format!("--sip is for doctor\n{USAGE}")),
            },
            "--version" | "-V" => parsed.command = Command::Version,
            "--help" | "-h" => parsed.command = Command::Help,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn the_reference_command_line_and_its_long_form_are_accepted() {
        for args in [
            &["-mode", "2"][..],
            &["--mode", "2"],
            &["--mode=2"],
            &["-mode=2"],
        ] {
            let a = p(args).unwrap();
            assert_eq!((a.command, a.mode), (Command::Run, Some(2)), "{args:?}");
        }
        assert!(p(&["--mode", "two"]).is_err());
        assert!(p(&["--mode"]).is_err());
    }

    #[test]
    fn subcommands_take_their_options() {
        let a = p(&["engine", "--supervised", "--config", "/x.toml"]).unwrap();
        assert_eq!(a.command, Command::Engine { supervised: true });
        assert_eq!(a.config, Some(PathBuf::from("/x.toml")));
        let a = p(&["doctor", "--sip", "pbx.example.com:5060"]).unwrap();
        assert_eq!(
            a.command,
            Command::Doctor {
                sip: Some("pbx.example.com:5060".into())
            }
        );
        assert!(p(&["--supervised"]).is_err());
        assert!(p(&["--sip", "x"]).is_err());
        assert!(p(&["bogus"]).is_err());
    }

    #[test]
    fn what_follows_launch_is_only_ever_a_link() {
        let a = p(&["launch", "--config", "/tmp/evil.toml", "engine"]).unwrap();
        assert_eq!(a.config, None);
        assert_eq!(
            a.command,
            Command::Launch {
                links: vec!["--config".into(), "/tmp/evil.toml".into(), "engine".into()]
            }
        );
    }
}
