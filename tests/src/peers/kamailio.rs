//! Kamailio as registrar and proxy with digest auth (MD5 or SHA-256), users
//! in an htable, usrloc in memory, `kamcmd ul.dump` on a ctl socket.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, stop_child, templates, wait_for_options};

/// Digest algorithm the registrar challenges with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Md5,
    Sha256,
}

#[derive(Debug, Clone)]
pub struct KamailioConfig {
    pub digest: Digest,
    /// (user, password)
    pub users: Vec<(String, String)>,
    /// Registrations are capped at this many seconds (short = refresh seen soon).
    pub max_expires: u32,
    /// Fixed port (for restarting on the same address); 0 = a free one.
    pub port: u16,
    /// Also listen for TLS (on `tls_port`), with a certificate for
    /// 127.0.0.1 signed by a throw-away CA (`ca_cert`).
    pub tls: bool,
    /// Fixed TLS port (5061, in a private network namespace); 0 = a free one.
    pub tls_port: u16,
    /// Refuse a nonce count already used (the auth module's `nonce_count`,
    /// replay protection): credentials sent again must count on.
    pub nonce_count: bool,
}

impl Default for KamailioConfig {
    fn default() -> Self {
        Self {
            digest: Digest::Md5,
            users: (1001..=1005)
                .map(|n| (n.to_string(), format!("pass{n}")))
                .collect(),
            max_expires: 3600,
            port: 0,
            tls: false,
            tls_port: 0,
            nonce_count: false,
        }
    }
}

pub struct Kamailio {
    pub port: u16,
    /// The TLS port, when started with `tls`.
    pub tls_port: Option<u16>,
    child: Child,
    dir: tempfile::TempDir,
}

impl Kamailio {
    /// Kamailio with TLS on a free port beside UDP and TCP, the rest default.
    pub fn start_tls() -> Self {
        Self::start(KamailioConfig {
            tls: true,
            ..KamailioConfig::default()
        })
        .expect("kamailio with TLS")
    }

    pub fn start(cfg: KamailioConfig) -> std::io::Result<Self> {
        let port = if cfg.port == 0 {
            free_port(1)
        } else {
            cfg.port
        };
        let dir = tempfile::Builder::new().prefix("seatphone-kam").tempdir()?;
        let ctl = dir.path().join("ctl.sock");
        let template = std::fs::read_to_string(templates().join("kamailio.cfg"))?;
        let users: String = cfg
            .users
            .iter()
            .map(|(u, p)| format!("    $sht(users=>{u}) = \"{p}\";\n"))
            .collect();
        let tls_port = cfg.tls.then(|| match cfg.tls_port {
            0 => free_port(1),
            fixed => fixed,
        });
        let (tls_global, tls_module) = match tls_port {
            Some(tls_port) => {
                make_certificates(dir.path())?;
                let profile = std::fs::read_to_string(templates().join("tls.cfg"))?
                    .replace("@DIR@", &dir.path().display().to_string());
                std::fs::write(dir.path().join("tls.cfg"), profile)?;
                (
                    format!("enable_tls=yes\nlisten=tls:127.0.0.1:{tls_port}"),
                    format!(
                        "loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"{}\")",
                        dir.path().join("tls.cfg").display()
                    ),
                )
            }
            None => (String::new(), String::new()),
        };
        // The auth module's parameters beyond its defaults.
        let mut auth_params = match cfg.digest {
            Digest::Md5 => String::new(),
            Digest::Sha256 => "modparam(\"auth\", \"algorithm\", \"SHA-256\")\n".to_owned(),
        };
        if cfg.nonce_count {
            auth_params.push_str("modparam(\"auth\", \"nonce_count\", 1)\n");
        }
        let text = template
            .replace("@PORT@", &port.to_string())
            .replace("@CTL@", &ctl.display().to_string())
            .replace("@MAX_EXPIRES@", &cfg.max_expires.to_string())
            .replace("@AUTH_PARAMS@", &auth_params)
            .replace("@USERS@", &users)
            .replace("@TLS_GLOBAL@", &tls_global)
            .replace("@TLS_MODULE@", &tls_module);
        let cfg_path = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg_path, text)?;
        let log = std::fs::File::create(dir.path().join("kamailio.log"))?;
        let mut cmd = Command::new("kamailio");
        cmd.arg("-f")
            .arg(&cfg_path)
            .args(["-DD", "-E", "-m", "256", "-M", "16"])
            .arg("-Y")
            .arg(dir.path())
            .arg("-P")
            .arg(dir.path().join("kamailio.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn()?;
        let mut kam = Self {
            port,
            tls_port,
            child,
            dir,
        };
        if !wait_for_options(port, Duration::from_secs(10)) {
            let log = kam.log();
            kam.stop();
            return Err(std::io::Error::other(format!(
                "kamailio did not answer OPTIONS on {port}:\n{log}"
            )));
        }
        Ok(kam)
    }

    /// `127.0.0.1:port`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Output of `kamcmd ul.dump` (registered contacts).
    pub fn ul_dump(&self) -> String {
        let sock = format!("unix:{}", self.ctl().display());
        Command::new("kamcmd")
            .args(["-s", &sock, "ul.dump"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The contacts registered for `user` (Contact URIs as ul.dump shows them).
    pub fn contacts(&self, user: &str) -> Vec<String> {
        let dump = self.ul_dump();
        let mut out = Vec::new();
        let mut in_aor = false;
        for line in dump.lines() {
            let t = line.trim();
            if let Some(aor) = t.strip_prefix("AoR:") {
                in_aor = aor.trim() == user;
            } else if let Some(c) = t.strip_prefix("Address:") {
                if in_aor {
                    out.push(c.trim().to_owned());
                }
            }
        }
        out
    }

    /// The `Expires:` (seconds left) of `user`'s first contact.
    pub fn expires_left(&self, user: &str) -> Option<i64> {
        let dump = self.ul_dump();
        let mut in_aor = false;
        for line in dump.lines() {
            let t = line.trim();
            if let Some(aor) = t.strip_prefix("AoR:") {
                in_aor = aor.trim() == user;
            } else if in_aor {
                if let Some(e) = t.strip_prefix("Expires:") {
                    return e.trim().parse().ok();
                }
            }
        }
        None
    }

    /// The CA that signed the TLS certificate (PEM), when started with `tls`.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// The server certificate and its key (PEM), when started with `tls`:
    /// for a test's own TLS end that the seat must trust as Kamailio.
    pub fn tls_identity(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("server.crt"),
            self.dir.path().join("server.key"),
        )
    }

    /// Kamailio's own log (stderr), for assertions and failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    fn ctl(&self) -> PathBuf {
        self.dir.path().join("ctl.sock")
    }

    pub fn stop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(3));
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A throw-away CA and a server certificate for 127.0.0.1 it signed.
fn make_certificates(dir: &std::path::Path) -> std::io::Result<()> {
    let run = |args: &[&str]| -> std::io::Result<()> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )?;
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=Seatphone test CA",
    ])?;
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ])?;
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ])
}
