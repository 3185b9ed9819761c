//! The `[capture]` section of the config file.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `dir` | the user's pictures folder (XDG) + `Seatphone` | where snapshots and recordings go; created when first needed |
//! | `max_minutes` | 60 | a recording to a file stops (and is kept) after this long (1–1440) |
//! | `max_megabytes` | 1024 | … or at this size (1–65536 MiB) |

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// A timed base64 clip lasts at most this long (the reference's limit).
pub const CLIP_MAX_SECONDS: u32 = 10;

/// The most file a base64 answer carries (before base64, which adds a
/// third: about 10.7 MiB of text), so a page is never sent more.
pub const BASE64_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// A base64 clip stops at this many bytes of file: ten seconds of even a
/// 5 Mbit/s picture fit.
pub const CLIP_MAX_BYTES: u64 = BASE64_MAX_BYTES;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// `None`: no pictures folder could be found (no `$HOME`); every
    /// capture then says to set `[capture] dir`.
    pub dir: Option<PathBuf>,
    pub max_length: Duration,
    pub max_bytes: u64,
}

/// `$XDG_PICTURES_DIR` (user-dirs.dirs), else `~/Pictures`, + `Seatphone`.
pub fn default_dir() -> Option<PathBuf> {
    dirs::picture_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join("Pictures")))
        .map(|d| d.join("Seatphone"))
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            dir: default_dir(),
            max_length: Duration::from_secs(60 * 60),
            max_bytes: 1024 * 1024 * 1024,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    dir: Option<PathBuf>,
    max_minutes: Option<u32>,
    max_megabytes: Option<u32>,
}

fn within(
    key: &str,
    v: Option<u32>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, String> {
    match v.unwrap_or(default) {
        v if range.contains(&v) => Ok(v),
        v => Err(format!(
            "[capture] {key} = {v}: must be {} to {}",
            range.start(),
            range.end()
        )),
    }
}

impl CaptureConfig {
    /// The section as the host hands it over (JSON of the TOML table, paths
    /// already made absolute); `null` or an empty table gives the defaults.
    pub fn from_value(v: &serde_json::Value) -> Result<CaptureConfig, String> {
        let d = CaptureConfig::default();
        if v.is_null() {
            return Ok(d);
        }
        let raw: Raw = serde_json::from_value(v.clone()).map_err(|e| format!("[capture]: {e}"))?;
        if let Some(dir) = &raw.dir {
            if !dir.is_absolute() {
                return Err(format!(
                    "[capture] dir = {:?}: must be an absolute path",
                    dir.display()
                ));
            }
        }
        let minutes = within("max_minutes", raw.max_minutes, 60, 1..=1440)?;
        let megabytes = within("max_megabytes", raw.max_megabytes, 1024, 1..=65536)?;
        Ok(CaptureConfig {
            dir: raw.dir.or(d.dir),
            max_length: Duration::from_secs(u64::from(minutes) * 60),
            max_bytes: u64::from(megabytes) * 1024 * 1024,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_every_key() {
        let d = CaptureConfig::from_value(&json!(null)).unwrap();
        assert_eq!(d, CaptureConfig::from_value(&json!({})).unwrap());
        assert!(d.dir.unwrap().ends_with("Seatphone"));
        assert_eq!(d.max_length, Duration::from_secs(3600));
        let c = CaptureConfig::from_value(&json!({
            "dir": "/srv/evidence", "max_minutes": 5, "max_megabytes": 20
        }))
        .unwrap();
        assert_eq!(c.dir, Some("/srv/evidence".into()));
        assert_eq!(c.max_length, Duration::from_secs(300));
        assert_eq!(c.max_bytes, 20 * 1024 * 1024);
    }

    #[test]
    fn bad_values_are_named() {
        let e = |v| CaptureConfig::from_value(&v).unwrap_err();
        assert!(e(json!({"max_minutes": 0})).contains("max_minutes = 0"));
        assert!(e(json!({"max_megabytes": 100000})).contains("max_megabytes"));
        assert!(e(json!({"dir": "relative/x"})).contains("absolute"));
        assert!(e(json!({"folder": "/x"})).contains("folder"));
    }
}
