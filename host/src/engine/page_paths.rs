//! Paths a page sends (`log_path`, `sip.tls_rootcertpath`) are honoured only
//! inside the folders the config lists (`[api] page_paths`): a web page must
//! not make the host read or write where it likes. Others are removed from
//! the request, and the response's errMsg says so while result stays 0.

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

/// The `config` parameters that name a path: (pointer, name for the page).
const PATH_PARAMS: &[(&str, &str)] = &[
    ("/log_path", "log_path"),
    ("/sip/tls_rootcertpath", "sip.tls_rootcertpath"),
];

/// Removes the paths outside `allowed` from a `config` param; returns a
/// sentence for each one removed.
pub fn vet(param: &mut Value, allowed: &[PathBuf]) -> Vec<String> {
    let mut notes = Vec::new();
    for (pointer, name) in PATH_PARAMS {
        let Some(value) = param.pointer(pointer) else {
            continue;
        };
        let keep = match value.as_str() {
            Some("") => true,
            Some(path) => is_inside(Path::new(path), allowed),
            None => true, // a wrong type is the owner's to refuse with result 2
        };
        if !keep {
            notes.push(format!(
                "{name} {value} was ignored: it is not inside a folder listed in [api] page_paths"
            ));
            if let Some((parent, key)) = pointer.rsplit_once('/') {
                let parent = if parent.is_empty() {
                    Some(&mut *param)
                } else {
                    param.pointer_mut(parent)
                };
                if let Some(Value::Object(obj)) = parent {
                    obj.remove(key);
                }
            }
        }
    }
    notes
}

fn is_inside(path: &Path, allowed: &[PathBuf]) -> bool {
    let Some(path) = absolute_clean(path) else {
        return false;
    };
    allowed
        .iter()
        .filter_map(|a| absolute_clean(a))
        .any(|a| path.starts_with(a))
}

/// Absolute, symlinks resolved where the path exists, and no `..` left.
fn absolute_clean(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = path.canonicalize() {
        return Some(real);
    }
    let base = if path.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir().ok()?
    };
    let mut out = base;
    for c in path.components() {
        match c {
            Component::ParentDir => return None,
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    // The part that exists may be a symlink: resolve it.
    let existing = out.ancestors().find(|a| a.exists())?;
    let rest = out.strip_prefix(existing).ok()?.to_path_buf();
    Some(existing.canonicalize().ok()?.join(rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_inside_listed_folders_pass_others_are_removed_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = vec![dir.path().to_path_buf()];
        let inside = dir.path().join("logs/today");
        let mut param = json!({
            "log_path": inside.to_str().unwrap(),
            "sip": {"tls_rootcertpath": "/etc/shadow", "trans_mode": 1}
        });
        let notes = vet(&mut param, &allowed);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("sip.tls_rootcertpath") && notes[0].contains("page_paths"));
        assert_eq!(
            param,
            json!({"log_path": inside.to_str().unwrap(), "sip": {"trans_mode": 1}})
        );
    }

    #[test]
    fn parent_components_and_empty_lists_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let sneaky = format!("{}/../etc", dir.path().display());
        let mut param = json!({ "log_path": sneaky });
        assert_eq!(vet(&mut param, &[dir.path().to_path_buf()]).len(), 1);
        let mut param = json!({ "log_path": "/tmp" });
        assert_eq!(vet(&mut param, &[]).len(), 1);
        assert_eq!(param, json!({}));
        let mut empty = json!({ "log_path": "" });
        assert!(vet(&mut empty, &[]).is_empty());
    }
}
