//! Finding a plugin's helper library (the audio plugin's voice library, the
//! video plugin's codec library) in the folder of the plugin's own file.
//!
//! This crate is linked into each plugin, so the file that holds this
//! function is the plugin's library in the engine (and the test executable
//! in a test). Found through `/proc/self/maps`, with no unsafe code.

use std::path::PathBuf;

/// `lib<name>.so` (the platform's spelling) beside the calling plugin.
pub fn beside_plugin(name: &str) -> Result<PathBuf, String> {
    let file = format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    Ok(own_file()?
        .parent()
        .ok_or("the plugin's folder is unknown")?
        .join(file))
}

/// The file mapped where this function's code is.
#[inline(never)]
fn own_file() -> Result<PathBuf, String> {
    let here = own_file as fn() -> Result<PathBuf, String> as usize;
    let maps = std::fs::read_to_string("/proc/self/maps")
        .map_err(|e| format!("the plugin's file is unknown (/proc/self/maps: {e})"))?;
    maps.lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let (start, end) = (
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            );
            let path = fields.nth(4)?;
            (start <= here && here < end && path.starts_with('/')).then(|| PathBuf::from(path))
        })
        .ok_or_else(|| "the plugin's file is not in /proc/self/maps".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a test the code is the test executable's.
    #[test]
    fn the_helper_is_looked_for_beside_this_code() {
        let exe = std::env::current_exe().unwrap();
        let want = exe.parent().unwrap().join("libseatphone_x.so");
        assert_eq!(beside_plugin("seatphone_x").unwrap(), want);
    }
}
