//! Embeds the page assets of `web/` (the SDK and the demo page) into the
//! binary, so a deployment is the executable and its plugins. A file that is
//! absent embeds as `None` and is answered 404. Also links with the recorded
//! function order (`link-order/`), as the plugins do.

use std::fmt::Write;
use std::path::Path;

#[path = "../link-order/apply.rs"]
mod link_order;

const ASSETS: &[(&str, &str)] = &[
    ("SDK_JS", "OpenEye_SDK.js"),
    ("DEMO_HTML", "demo/index.html"),
    ("DEMO_JS", "demo/demo.js"),
    ("DEMO_CSS", "demo/demo.css"),
];

fn main() {
    link_order::apply("seatphone");
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    println!("cargo:rerun-if-changed={}", web.display());
    let mut out = String::new();
    for (name, file) in ASSETS {
        let path = web.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let value = match path.canonicalize() {
            Ok(p) if p.is_file() => format!("Some(include_str!({:?}))", p.display().to_string()),
            _ => "None".to_string(),
        };
        writeln!(out, "pub const {name}: Option<&str> = {value};").unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("assets.rs");
    std::fs::write(dest, out).unwrap();
}
