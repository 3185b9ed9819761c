//! The page's parameters of `OEScreenShot` and `OECatchVideo`, checked.
//! What the reference and its own sample send is accepted: `operation` 0/1,
//! `true`/`false`, and 2/3 (the base64 sample's start and stop).

use serde_json::Value;

use crate::config::CLIP_MAX_SECONDS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A file in the capture folder; the answer has its `path`.
    Path,
    /// The file's bytes in the answer, as `base64`.
    Base64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catch {
    /// Base64 recordings carry their length, 1–10 s.
    Start {
        format: Format,
        seconds: Option<u32>,
    },
    Stop,
}

fn format(param: &Value, default: Format) -> Result<Format, String> {
    match param.get("format") {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("path") => Ok(Format::Path),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("base64") => Ok(Format::Base64),
        Some(other) => Err(format!("format {other}: must be \"path\" or \"base64\"")),
    }
}

/// `OEScreenShot`: `format`, "path" when absent.
pub fn snapshot(param: &Value) -> Result<Format, String> {
    format(param, Format::Path)
}

/// `OECatchVideo`: `operation`, `format`, `time`.
pub fn catch(param: &Value) -> Result<Catch, String> {
    // 2 and 3 are the reference sample's base64 start and stop.
    let (start, implied) = match param.get("operation") {
        Some(Value::Bool(b)) => (*b, Format::Path),
        Some(v) => match v.as_u64() {
            Some(0) => (true, Format::Path),
            Some(1) => (false, Format::Path),
            Some(2) => (true, Format::Base64),
            Some(3) => (false, Format::Base64),
            _ => return Err(format!("operation {v}: must be 0 (start) or 1 (stop)")),
        },
        None => return Err("operation is missing: 0 (start) or 1 (stop)".into()),
    };
    let format = format(param, implied)?;
    if !start {
        return Ok(Catch::Stop);
    }
    let seconds = match (format, param.get("time")) {
        (Format::Path, _) => None,
        (Format::Base64, Some(t)) => match t.as_u64() {
            Some(s) if (1..=u64::from(CLIP_MAX_SECONDS)).contains(&s) => Some(s as u32),
            _ => {
                return Err(format!(
                    "time {t}: a base64 recording lasts 1 to {CLIP_MAX_SECONDS} seconds"
                ))
            }
        },
        (Format::Base64, None) => {
            return Err(format!(
                "time is missing: a base64 recording lasts 1 to {CLIP_MAX_SECONDS} seconds"
            ))
        }
    };
    Ok(Catch::Start { format, seconds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snapshot_formats() {
        assert_eq!(snapshot(&json!({})), Ok(Format::Path));
        assert_eq!(snapshot(&json!(null)), Ok(Format::Path));
        assert_eq!(snapshot(&json!({"format": "base64"})), Ok(Format::Base64));
        assert!(snapshot(&json!({"format": "jpeg"}))
            .unwrap_err()
            .contains("\"jpeg\""));
        assert!(snapshot(&json!({"format": 1})).is_err());
    }

    #[test]
    fn every_way_the_reference_starts_and_stops() {
        let start_path = Catch::Start {
            format: Format::Path,
            seconds: None,
        };
        assert_eq!(catch(&json!({"operation": 0})), Ok(start_path));
        assert_eq!(
            catch(&json!({"operation": true, "format": "path"})),
            Ok(start_path)
        );
        assert_eq!(catch(&json!({"operation": 1})), Ok(Catch::Stop));
        assert_eq!(catch(&json!({"operation": false})), Ok(Catch::Stop));
        let clip = Catch::Start {
            format: Format::Base64,
            seconds: Some(2),
        };
        assert_eq!(
            catch(&json!({"operation": 0, "format": "base64", "time": 2})),
            Ok(clip)
        );
        assert_eq!(catch(&json!({"operation": 2, "time": 2})), Ok(clip));
        assert_eq!(catch(&json!({"operation": 3, "time": 0})), Ok(Catch::Stop));
        assert_eq!(
            catch(&json!({"operation": 1, "format": "base64", "time": 0})),
            Ok(Catch::Stop)
        );
    }

    #[test]
    fn bad_values_are_named() {
        let e = |v| catch(&v).unwrap_err();
        assert!(e(json!({"operation": 0, "format": "base64", "time": 11})).contains("1 to 10"));
        assert!(e(json!({"operation": 0, "format": "base64", "time": 0})).contains("1 to 10"));
        assert!(e(json!({"operation": 0, "format": "base64"})).contains("time is missing"));
        assert!(e(json!({"operation": 7})).contains("operation 7"));
        assert!(e(json!({})).contains("operation is missing"));
        assert!(e(json!({"operation": "start"})).contains("operation"));
    }
}
