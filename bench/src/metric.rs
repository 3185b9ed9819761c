//! One figure's numbers for both sides, their medians and ratio, as printed
//! and as written to `results.json`.

use seatphone_tests::measure::median;
use serde_json::{json, Value};

/// One figure's numbers: a sample per round (or per call) for each side.
pub struct Metric {
    pub figure: u32,
    pub key: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub lower_is_better: bool,
    pub seatphone: Vec<f64>,
    pub baresip: Vec<f64>,
    /// Why a side could not be measured (printed and written; never a number).
    pub missing: Vec<String>,
    pub note: String,
    /// What may have skewed the figure (other processes sharing its
    /// pages): printed and written beside the numbers.
    pub warnings: Vec<String>,
}

impl Metric {
    pub fn new(
        figure: u32,
        key: &'static str,
        name: &'static str,
        unit: &'static str,
        lower: bool,
    ) -> Self {
        Metric {
            figure,
            key,
            name,
            unit,
            lower_is_better: lower,
            seatphone: Vec::new(),
            baresip: Vec::new(),
            missing: Vec::new(),
            note: String::new(),
            warnings: Vec::new(),
        }
    }

    pub fn miss(&mut self, why: impl Into<String>) {
        let why = why.into();
        eprintln!("  [{}] missing: {why}", self.key);
        if !self.missing.contains(&why) {
            self.missing.push(why);
        }
    }

    pub fn warn(&mut self, lines: impl IntoIterator<Item = String>) {
        for line in lines {
            if !self.warnings.contains(&line) {
                self.warnings.push(line);
            }
        }
    }

    pub fn complete(&self) -> bool {
        !self.seatphone.is_empty() && !self.baresip.is_empty()
    }

    pub fn ratio(&self) -> Option<f64> {
        if !self.complete() {
            return None;
        }
        let (s, b) = (median(&self.seatphone)?, median(&self.baresip)?);
        (b != 0.0).then_some(s / b)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "figure": self.figure,
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "lower_is_better": self.lower_is_better,
            "seatphone": {"median": median(&self.seatphone), "samples": self.seatphone},
            "baresip": {"median": median(&self.baresip), "samples": self.baresip},
            "ratio": self.ratio(),
            "status": if self.complete() { "measured" } else { "missing" },
            "missing": self.missing,
            "note": self.note,
            "warnings": self.warnings,
        })
    }
}

pub fn fmt(v: Option<f64>) -> String {
    match v {
        None => "MISSING".into(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

pub fn print_metric(m: &Metric) {
    let side = |v: &[f64]| {
        if v.is_empty() {
            "MISSING".to_owned()
        } else {
            format!("{} {}", fmt(median(v)), m.unit)
        }
    };
    println!(
        "{:<44} {:>14} {:>14} {:>9}",
        format!("{}. {}", m.figure, m.name),
        side(&m.seatphone),
        side(&m.baresip),
        m.ratio().map(|r| format!("{r:.2}")).unwrap_or("-".into())
    );
    for why in &m.missing {
        println!("      missing: {why}");
    }
    for line in &m.warnings {
        println!("      warning: {line}");
    }
}
