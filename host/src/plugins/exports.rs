//! Which libraries of the plugin folder are plugins, read from their export
//! tables without loading them.
//!
//! Loading a library runs its constructors and maps every library it links,
//! for good: a foreign `.so` dropped in the folder would run code in the
//! engine, and a plugin's helper library (the audio plugin's voice library
//! links libstdc++, which never unloads) would cost memory the plugin was
//! built to spare. So the file's dynamic symbols are read first:
//!
//! - exports abi_stable's root module → a plugin: loaded;
//! - exports `seatphone_plugin_helper` → a library a plugin loads itself:
//!   left alone, not listed;
//! - anything else → not loaded, listed in `/health` `skipped` as not a plugin.

use std::fs::File;
use std::path::Path;

use abi_stable::library::ROOT_MODULE_LOADER_NAME;
use object::elf::{FileHeader32, FileHeader64, SHT_DYNSYM, STB_GLOBAL, STB_GNU_UNIQUE, STB_WEAK};
use object::read::elf::{FileHeader, Sym};
use object::{Endianness, FileKind, Object, ReadCache, ReadRef};

/// The symbol a plugin's helper library exports so that the host skips it
/// quietly (README, "Writing a plugin").
pub const HELPER_MARKER: &str = "seatphone_plugin_helper";

#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Plugin,
    /// A library that belongs to a plugin, which loads it itself.
    Helper,
    /// Not a plugin, with why.
    Foreign(String),
}

/// Reads only the headers and the dynamic symbol table (a few KiB), never
/// the whole file: plugins carry megabytes of code and line tables.
pub fn classify(file: &Path) -> Kind {
    let f = match File::open(file) {
        Ok(f) => f,
        Err(e) => return Kind::Foreign(format!("cannot be read: {e}")),
    };
    let data = ReadCache::new(f);
    match exported_names(&data) {
        Ok(names) => kind_of(names.iter().map(Vec::as_slice)),
        Err(e) => Kind::Foreign(e),
    }
}

/// What a set of exported names says the library is.
pub fn kind_of<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Kind {
    // Mach-O prefixes C names with an underscore.
    let is = |name: &[u8], wanted: &str| {
        name == wanted.as_bytes() || name.strip_prefix(b"_") == Some(wanted.as_bytes())
    };
    let mut helper = false;
    for name in names {
        if is(name, ROOT_MODULE_LOADER_NAME) {
            return Kind::Plugin;
        }
        helper |= is(name, HELPER_MARKER);
    }
    if helper {
        Kind::Helper
    } else {
        Kind::Foreign(format!(
            "it exports no abi_stable root module ({ROOT_MODULE_LOADER_NAME}; built without export_plugin!?), not loaded"
        ))
    }
}

fn exported_names<'a, R: ReadRef<'a>>(data: R) -> Result<Vec<Vec<u8>>, String> {
    let not_library = |e: object::Error| format!("not a shared library ({e})");
    match FileKind::parse(data).map_err(not_library)? {
        FileKind::Elf64 => elf_exports::<FileHeader64<Endianness>, R>(data),
        FileKind::Elf32 => elf_exports::<FileHeader32<Endianness>, R>(data),
        _ => {
            let file = object::File::parse(data).map_err(not_library)?;
            let mut names = Vec::new();
            for export in file.exports().map_err(not_library)? {
                // PE exports may have an ordinal only: no name to match.
                if let Some(name) = export.map_err(not_library)?.name().name() {
                    names.push(name.to_vec());
                }
            }
            Ok(names)
        }
    }
}

/// The defined global names of `.dynsym`: what `dlsym` can find. (The
/// generic `object::File` would also read the full `.symtab`.)
fn elf_exports<'a, Elf, R>(data: R) -> Result<Vec<Vec<u8>>, String>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'a>,
{
    let broken = |e: object::Error| format!("its export table cannot be read ({e})");
    let header = Elf::parse(data).map_err(broken)?;
    let endian = header.endian().map_err(broken)?;
    let sections = header.sections(endian, data).map_err(broken)?;
    let symbols = sections.symbols(endian, data, SHT_DYNSYM).map_err(broken)?;
    let mut names = Vec::new();
    for sym in symbols.iter() {
        let global = matches!(sym.st_bind(), STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE);
        if global && !sym.is_undefined(endian) {
            names.push(symbols.symbol_name(endian, sym).map_err(broken)?.to_vec());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_module_makes_a_plugin_whatever_else_it_exports() {
        let root = ROOT_MODULE_LOADER_NAME.as_bytes();
        assert_eq!(kind_of([b"x".as_slice(), root]), Kind::Plugin);
        assert_eq!(
            kind_of([HELPER_MARKER.as_bytes(), root]),
            Kind::Plugin,
            "a plugin that also marks itself a helper is still loaded"
        );
        let macho = format!("_{ROOT_MODULE_LOADER_NAME}");
        assert_eq!(kind_of([macho.as_bytes()]), Kind::Plugin);
    }

    #[test]
    fn helper_marker_makes_a_helper_and_nothing_makes_a_foreign_library() {
        assert_eq!(
            kind_of([
                b"seatphone_voice_create".as_slice(),
                HELPER_MARKER.as_bytes()
            ]),
            Kind::Helper
        );
        assert_eq!(
            kind_of([b"_seatphone_plugin_helper".as_slice()]),
            Kind::Helper
        );
        // Near misses are neither.
        for names in [
            vec![b"seatphone_plugin_helpers".as_slice()],
            vec![b"__seatphone_plugin_helper".as_slice()],
            vec![],
        ] {
            let Kind::Foreign(reason) = kind_of(names) else {
                panic!("a near miss passed");
            };
            assert!(reason.contains("no abi_stable root module"), "{reason}");
        }
    }

    /// Real files: this test program (an ELF with a dynamic symbol table but
    /// no root module), libc, and files that are not libraries at all.
    #[test]
    fn files_are_classified_from_their_export_tables() {
        let exe = std::env::current_exe().unwrap();
        let Kind::Foreign(reason) = classify(&exe) else {
            panic!("the test program is no plugin");
        };
        assert!(reason.contains("no abi_stable root module"), "{reason}");

        let libc = std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("/libc.so"))
            .map(std::path::PathBuf::from)
            .expect("libc mapped");
        assert!(matches!(classify(&libc), Kind::Foreign(_)));

        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("empty.so", &b""[..]),
            ("text.so", b"not a library\n"),
            ("truncated.so", b"\x7fELF\x02\x01\x01\0\0\0"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let Kind::Foreign(reason) = classify(&path) else {
                panic!("{name} passed");
            };
            assert!(
                reason.contains("not a shared library") || reason.contains("cannot be read"),
                "{name}: {reason}"
            );
        }
        let Kind::Foreign(reason) = classify(&dir.path().join("missing.so")) else {
            panic!("a missing file passed");
        };
        assert!(reason.contains("cannot be read"), "{reason}");
    }
}
