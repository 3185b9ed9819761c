//! Reading a command's `param` as pages send it: the reference's own pages
//! pass numbers as numeric strings and switches as 1/0 or "true"/"false",
//! so every plugin takes both, and says which key is wrong and why.

use serde_json::Value;

/// An integer, given as a number or a numeric string.
pub fn int(param: &Value, key: &str) -> Result<i64, String> {
    match param.get(key) {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("{key} must be an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("{key} must be an integer, not {s:?}")),
        Some(_) => Err(format!("{key} must be an integer")),
        None => Err(format!("{key} is missing")),
    }
}

/// A switch: `true`/`false`, a number (0 is off) or "true"/"false"/"1"/"0".
pub fn flag(param: &Value, key: &str) -> Result<bool, String> {
    match param.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) => Ok(n.as_f64() != Some(0.0)),
        Some(Value::String(s)) if matches!(s.trim(), "true" | "1") => Ok(true),
        Some(Value::String(s)) if matches!(s.trim(), "false" | "0") => Ok(false),
        Some(_) => Err(format!("{key} must be true or false")),
        None => Err(format!("{key} is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_numeric_strings_are_integers() {
        let p = json!({"a": 7, "b": " -3 ", "c": "x", "d": 1.5, "e": null});
        assert_eq!(int(&p, "a"), Ok(7));
        assert_eq!(int(&p, "b"), Ok(-3));
        assert!(int(&p, "c").unwrap_err().contains("\"x\""));
        assert!(int(&p, "d").unwrap_err().contains("integer"));
        assert!(int(&p, "e").unwrap_err().contains("integer"));
        assert_eq!(int(&p, "f"), Err("f is missing".into()));
    }

    #[test]
    fn switches_take_the_shapes_pages_send() {
        let p = json!({"a": true, "b": 0, "c": "1", "d": "false", "e": "yes", "f": []});
        assert_eq!(flag(&p, "a"), Ok(true));
        assert_eq!(flag(&p, "b"), Ok(false));
        assert_eq!(flag(&p, "c"), Ok(true));
        assert_eq!(flag(&p, "d"), Ok(false));
        assert!(flag(&p, "e").is_err());
        assert!(flag(&p, "f").is_err());
        assert_eq!(flag(&p, "g"), Err("g is missing".into()));
    }
}
