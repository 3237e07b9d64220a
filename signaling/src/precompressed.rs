//! The built site's precompressed copies (`app.wasm.br`, `app.wasm.gz`, written by
//! `crates/precompress` after each release build), which `ServeDir` sends as they are.
//!
//! `ServeDir` picks a copy by the request's `Accept-Encoding` alone. A copy older than its
//! source is what a rebuild that skipped the step leaves behind, and would send the old
//! build: this layer hides such encodings from `ServeDir` (the file then goes out
//! compressed on the fly), and marks a precompressed response `Vary: Accept-Encoding`,
//! which neither `ServeDir` nor the compression layer (it leaves encoded responses alone)
//! does.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use axum::middleware::Next;
use axum::response::Response;
use percent_encoding::percent_decode_str;

/// The copies `ServeDir` looks for: the encoding's name and the suffix of the copy.
const COPIES: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

/// The middleware; its state is the served directory.
pub async fn fresh_copies_only(
    State(dir): State<Arc<Path>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(file) = requested_file(&dir, request.uri().path()) {
        let stale = stale_encodings(&file).await;
        if !stale.is_empty() {
            let offered = request
                .headers()
                .get_all(ACCEPT_ENCODING)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
                .join(",");
            let kept = without_encodings(&offered, &stale);
            let headers = request.headers_mut();
            headers.remove(ACCEPT_ENCODING);
            if let Ok(value) = HeaderValue::from_str(&kept) {
                headers.insert(ACCEPT_ENCODING, value);
            }
        }
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let varies = headers
        .get_all(VARY)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"accept-encoding"));
    if headers.contains_key(CONTENT_ENCODING) && !varies {
        headers.append(VARY, HeaderValue::from_name(ACCEPT_ENCODING));
    }
    response
}

/// The file `ServeDir` serves for `uri_path`, found the way it finds it (percent-decoded,
/// only plain path components, `index.html` for a directory); `None` when it serves none.
fn requested_file(dir: &Path, uri_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(uri_path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    let mut file = dir.to_path_buf();
    for component in Path::new(&*decoded).components() {
        match component {
            Component::Normal(part) => file.push(part),
            Component::CurDir => {}
            Component::Prefix(_) | Component::RootDir | Component::ParentDir => return None,
        }
    }
    if uri_path.ends_with('/') {
        file.push("index.html");
    }
    Some(file)
}

/// The encodings whose copy of `file` exists but is older than `file`, or whose `file`
/// is gone: sending that copy would send something other than the file.
async fn stale_encodings(file: &Path) -> Vec<&'static str> {
    let source = modified(file).await.ok();
    let mut stale = Vec::new();
    for (encoding, suffix) in COPIES {
        let mut copy = file.as_os_str().to_owned();
        copy.push(suffix);
        let Ok(copy) = modified(Path::new(&copy)).await else {
            continue;
        };
        if source.is_none_or(|source| copy < source) {
            stale.push(encoding);
        }
    }
    stale
}

async fn modified(path: &Path) -> io::Result<std::time::SystemTime> {
    tokio::fs::metadata(path).await?.modified()
}

/// `offered` (an `Accept-Encoding` value) less the codings named in `hidden`, the rest
/// with their weights as they were.
fn without_encodings(offered: &str, hidden: &[&str]) -> String {
    offered
        .split(',')
        .map(str::trim)
        .filter(|item| {
            let coding = item.split(';').next().unwrap_or_default().trim();
            !item.is_empty() && !hidden.iter().any(|h| coding.eq_ignore_ascii_case(h))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_codings_leave_the_offer_and_the_rest_keep_their_weights() {
        let chromium = "gzip, deflate, br, zstd";
        assert_eq!(without_encodings(chromium, &["br"]), "gzip, deflate, zstd");
        assert_eq!(
            without_encodings(chromium, &["br", "gzip"]),
            "deflate, zstd"
        );
        assert_eq!(
            without_encodings("BR;q=1.0,gzip;q=0.5 , identity", &["br"]),
            "gzip;q=0.5, identity"
        );
        assert_eq!(without_encodings("gzip", &["gzip"]), "");
    }

    #[test]
    fn the_requested_file_is_the_one_serve_dir_opens() {
        let dir = Path::new("/site");
        assert_eq!(
            requested_file(dir, "/app_bg.wasm"),
            Some(PathBuf::from("/site/app_bg.wasm"))
        );
        assert_eq!(
            requested_file(dir, "/"),
            Some(PathBuf::from("/site/index.html"))
        );
        assert_eq!(
            requested_file(dir, "/a%20b/"),
            Some(PathBuf::from("/site/a b/index.html"))
        );
        assert_eq!(requested_file(dir, "/../secret"), None);
        assert_eq!(requested_file(dir, "/%2e%2e/secret"), None);
    }
}
