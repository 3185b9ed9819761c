//! Who else shares the pages of a memory figure. PSS splits each resident
//! page evenly among the processes that map it, so another baresip or
//! Seatphone on the machine lowers that side's figure, and so does any
//! process mapping the same libraries: baresip holds about 3.4 MiB of
//! libcrypto.so.3 resident while idle (OpenSSL's start-up in libre), and
//! rustc maps the same file, so a build running beside the bench takes
//! megabytes off baresip's PSS and nothing off Seatphone's.

use std::collections::{BTreeMap, HashMap, HashSet};

use seatphone_tests::measure;

/// Files every process maps, for both phones and in every run alike: no
/// reason to warn.
const EVERYONE_MAPS: [&str; 4] = [
    "libc.so.6",
    "ld-linux-x86-64.so.2",
    "libm.so.6",
    "libgcc_s.so.1",
];

/// A file counts when `measured` holds at least this much of it resident.
const BIG_KIB: u64 = 256;

/// What skews a PSS reading of `measured` now, outside the driver's own
/// processes: other baresip or Seatphone processes, and processes mapping a file the measured ones hold
/// ≥ 256 KiB of resident. One line per finding, empty when nothing does;
/// printed to stderr too.
pub fn others(measured: &[u32]) -> Vec<String> {
    // The driver's own processes (Kamailio, the SIPp callee) are the same
    // for both phones and documented in bench/README.md.
    let mine: HashSet<u32> = measured
        .iter()
        .copied()
        .chain(measure::tree(std::process::id()))
        .collect();
    let big = big_files(measured);
    let mut same_program: Vec<String> = Vec::new();
    let mut by_file: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for pid in all_pids().into_iter().filter(|p| !mine.contains(p)) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        if comm.is_empty() {
            continue;
        }
        if comm == "baresip" || comm == "seatphone" {
            same_program.push(format!("{comm} {pid}"));
        }
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        for file in big.keys() {
            if maps.contains(file.as_str()) {
                by_file
                    .entry(file.as_str())
                    .or_default()
                    .push(format!("{comm} {pid}"));
            }
        }
    }
    let mut out = Vec::new();
    if !same_program.is_empty() {
        out.push(format!(
            "other baresip/Seatphone processes ran: {}",
            same_program.join(", ")
        ));
    }
    for (file, who) in by_file {
        let name = file.rsplit('/').next().unwrap_or(file);
        out.push(format!(
            "{name} ({} KiB resident here) is also mapped by {}",
            big[file],
            summarise(&who)
        ));
    }
    for line in &out {
        eprintln!("    warning, PSS shared: {line}");
    }
    out
}

/// Files of `pids` with at least [`BIG_KIB`] resident, but those
/// [`EVERYONE_MAPS`]; KiB by path.
fn big_files(pids: &[u32]) -> HashMap<String, u64> {
    let mut rss: HashMap<String, u64> = HashMap::new();
    for pid in pids {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let first = fields.next().unwrap_or_default();
            if first == "Rss:" {
                let kib = fields.next().and_then(|k| k.parse::<u64>().ok());
                if let (Some(path), Some(kib)) = (&current, kib) {
                    *rss.entry(path.clone()).or_default() += kib;
                }
            } else if !first.ends_with(':') {
                // A mapping's header: address perms offset dev inode [path].
                current = line
                    .split_whitespace()
                    .nth(5)
                    .filter(|p| p.starts_with('/'))
                    .map(str::to_owned);
            }
        }
    }
    rss.retain(|path, kib| {
        *kib >= BIG_KIB
            && !EVERYONE_MAPS
                .iter()
                .any(|f| path.ends_with(&format!("/{f}")))
    });
    rss
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// "rustc ×3 (1 2 3), kamailio 7": the programs, with their pids.
fn summarise(who: &[String]) -> String {
    let mut by_program: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for w in who {
        let (comm, pid) = w.rsplit_once(' ').unwrap_or((w, ""));
        by_program.entry(comm).or_default().push(pid);
    }
    by_program
        .into_iter()
        .map(|(comm, pids)| {
            if pids.len() == 1 {
                format!("{comm} {}", pids[0])
            } else {
                format!("{comm} ×{} ({})", pids.len(), pids.join(" "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
