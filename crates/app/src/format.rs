//! How numbers and times read on the page.

use tabchain_core::Timestamp;
use tabchain_web::view::SearchPath;

/// `14:03:27` in the viewer's time zone.
pub fn clock(at: Timestamp) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.millis() as f64));
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// `850 ms`, `3.2 s`, `5 min`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min", ms / 60_000),
    }
}

/// `512 H/s`, `48.2 kH/s`, `3.91 MH/s`.
pub fn hashrate(hps: u64) -> String {
    match hps {
        0..=999 => format!("{hps} H/s"),
        1_000..=999_999 => format!("{:.1} kH/s", hps as f64 / 1e3),
        _ => format!("{:.2} MH/s", hps as f64 / 1e6),
    }
}

/// How the workers search: `4 lanes (SIMD)`, `scalar`, or a dash before one is ready.
pub fn search_path(path: Option<SearchPath>) -> &'static str {
    match path {
        Some(SearchPath::Lanes) => "4 lanes (SIMD)",
        Some(SearchPath::Scalar) => "scalar",
        None => "–",
    }
}

/// Expected hashes as a short number: `1.05 M`, `20 k`.
pub fn quantity(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.0} k", n as f64 / 1e3),
        _ => format!("{:.2} M", n as f64 / 1e6),
    }
}

/// The first and last characters of a long hex string.
pub fn abbreviate(hex: &str) -> String {
    if hex.len() <= 16 {
        return hex.to_owned();
    }
    format!("{}…{}", &hex[..8], &hex[hex.len() - 6..])
}
