//! How the host opens a plugin's root module, by the rules in
//! [`crate::abi`] "Versions": a plugin built against an older or the same
//! minor version of this major version loads; another major version, or a
//! newer minor one than the host's, is refused with both versions named.
//!
//! abi_stable's own check (`init_root_module`) holds the other way round:
//! it lets a library be newer than its loader and refuses one whose
//! vtables have fewer methods than the loader's, which is every older
//! plugin once the host's API appended a method. So the versions are
//! compared here, and the layouts are checked with the roles swapped: the
//! plugin's types must be a prefix of the host's (same fields in the same
//! order, the host's vtables possibly longer). Methods the plugin lacks
//! then run their default bodies (`#[sabi(missing_field(option))]`).

use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::library::{LibHeader, RootModule};
use abi_stable::sabi_types::{VersionNumber, VersionStrings};
use abi_stable::StableAbi;

use crate::abi::PluginModRef;

/// Why a library's root module was not opened.
#[derive(Debug)]
pub enum LoadRefusal {
    /// Its plugin API version cannot be read.
    BadVersion(String),
    /// Built against another major version, or a newer minor one.
    Version {
        plugin: VersionNumber,
        host: VersionNumber,
    },
    /// Its types are not a prefix of the host's (the formatted difference).
    Layout(String),
    /// Its root module's constructor failed.
    Module(String),
}

/// The plugin API version the host speaks.
pub fn host_version() -> VersionNumber {
    version(PluginModRef::VERSION_STRINGS).expect("this crate's own version parses")
}

fn version(strings: VersionStrings) -> Result<VersionNumber, String> {
    VersionNumber::new(strings).map_err(|e| e.to_string())
}

/// The plugin module of `header` and the plugin API version it was built
/// against, if this host may load it.
pub fn open(header: &LibHeader) -> Result<(PluginModRef, VersionNumber), LoadRefusal> {
    let plugin = version(header.version_strings()).map_err(LoadRefusal::BadVersion)?;
    let host = host_version();
    if plugin.major != host.major || plugin.minor > host.minor {
        return Err(LoadRefusal::Version { plugin, host });
    }
    // export_plugin! always embeds the layout; a library without one
    // cannot be checked, so it is not trusted.
    let Some(layout) = header.layout() else {
        return Err(LoadRefusal::Layout(
            "the library carries no layout of its types to check".into(),
        ));
    };
    check_layout_compatibility(layout, <PluginModRef as StableAbi>::LAYOUT)
        .map_err(|e| LoadRefusal::Layout(e.to_string()))?;
    // SAFETY: the layout of the library's root module (and everything it
    // reaches: the vtables, `MediaFrame`) was just checked to be a prefix of
    // `PluginModRef`'s, and prefix-type accessors only read the fields the
    // library's own vtables say they have.
    let module = unsafe { header.unchecked_layout::<PluginModRef>() }
        .map_err(|e| LoadRefusal::Module(e.to_string()))?;
    Ok((module, plugin))
}
