//! `--static`: the built site with the right types, compression and cache headers,
//! next to the API.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use tabchain_signaling::Config;

use crate::common::{http_get, key, TestServer};

/// A temporary directory that removes itself.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tabchain-signaling-site-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn the_built_site_is_served_with_the_right_headers() {
    let dir = TempDir::new();
    let index = "<!doctype html><title>tabchain</title><script type=module src=app.js></script>";
    let js = "export function start() { console.log('tabchain starting'); }\n".repeat(20);
    // The wasm magic number and version, then enough bytes to be worth compressing.
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(std::iter::repeat_n(0u8, 4096));
    std::fs::write(dir.0.join("index.html"), index).unwrap();
    std::fs::write(dir.0.join("app.js"), &js).unwrap();
    std::fs::write(dir.0.join("app-0123456789abcdef_bg.wasm"), &wasm).unwrap();

    let server = TestServer::start(Config {
        static_dir: Some(dir.0.clone()),
        ..Config::default()
    })
    .await;

    let root = http_get(server.addr, "/", &[]).await;
    assert_eq!(root.status, 200);
    assert!(root.headers["content-type"].starts_with("text/html"));
    assert_eq!(root.headers["cache-control"], "no-cache");
    assert_eq!(root.body, index.as_bytes());

    let script = http_get(server.addr, "/app.js", &[]).await;
    assert_eq!(script.status, 200);
    assert_eq!(script.headers["content-type"], "text/javascript");
    assert_eq!(script.body, js.as_bytes());
    assert!(!script.headers.contains_key("content-encoding"));

    let gzipped = http_get(server.addr, "/app.js", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gzipped.status, 200);
    assert_eq!(gzipped.headers["content-encoding"], "gzip");
    assert_eq!(gzipped.headers["content-type"], "text/javascript");

    let module = http_get(
        server.addr,
        "/app-0123456789abcdef_bg.wasm",
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(module.status, 200);
    assert_eq!(module.headers["content-type"], "application/wasm");
    assert_eq!(module.headers["content-encoding"], "gzip");
    assert_eq!(
        module.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );

    assert_eq!(http_get(server.addr, "/missing.js", &[]).await.status, 404);
    // Tried: climbing out of the directory.
    assert_ne!(
        http_get(server.addr, "/../Cargo.toml", &[]).await.status,
        200
    );

    // The API still answers next to the site.
    let health = http_get(server.addr, "/healthz", &[]).await;
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));
    server.join("r", &key(1)).await;
}

#[tokio::test]
async fn without_static_only_the_api_answers() {
    let server = TestServer::start(Config::default()).await;
    assert_eq!(http_get(server.addr, "/", &[]).await.status, 404);
    assert_eq!(http_get(server.addr, "/healthz", &[]).await.status, 200);
    let metrics = http_get(server.addr, "/metrics", &[]).await;
    assert!(metrics.headers["content-type"].starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(metrics.body).unwrap();
    for series in [
        // The scrape's own connection.
        "tabchain_signaling_connections 1",
        "tabchain_signaling_rooms 0",
        "tabchain_signaling_peers 0",
        "tabchain_signaling_messages_relayed_total 0",
        "tabchain_signaling_refusals_total{code=\"rate_limited\"} 0",
    ] {
        assert!(text.lines().any(|l| l == series), "{series} in\n{text}");
    }
}

/// `body` with its HTTP/1.1 chunked framing taken off.
fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line]).unwrap(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line + 2..line + 2 + size]);
        body = &body[line + 4 + size..];
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut brotli::Decompressor::new(bytes, 4096), &mut out).unwrap();
    out
}

/// Sets `path`'s modification time to `base` plus `seconds`.
fn touch(path: &std::path::Path, base: std::time::SystemTime, seconds: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(base + std::time::Duration::from_secs(seconds))
        .unwrap();
}

#[tokio::test]
async fn precompressed_copies_are_sent_as_they_are_while_not_older_than_their_file() {
    let dir = TempDir::new();
    let source = dir.0.join("app-0123456789abcdef_bg.wasm");
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    for i in 0..3000u32 {
        wasm.extend_from_slice(&i.to_le_bytes()[..2]);
    }
    std::fs::write(&source, &wasm).unwrap();
    let mut br = Vec::new();
    brotli::BrotliCompress(&mut &wasm[..], &mut br, &Default::default()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &wasm).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dir.0.join("app-0123456789abcdef_bg.wasm.br"), &br).unwrap();
    std::fs::write(dir.0.join("app-0123456789abcdef_bg.wasm.gz"), &gz).unwrap();
    let built = std::fs::metadata(&source).unwrap().modified().unwrap();
    touch(&dir.0.join("app-0123456789abcdef_bg.wasm.br"), built, 1);
    touch(&dir.0.join("app-0123456789abcdef_bg.wasm.gz"), built, 1);

    let server = TestServer::start(Config {
        static_dir: Some(dir.0.clone()),
        ..Config::default()
    })
    .await;
    let get = |accept: &'static str| {
        let headers: &'static [(&str, &str)] = match accept {
            "" => &[],
            "br" => &[("Accept-Encoding", "br")],
            "gzip" => &[("Accept-Encoding", "gzip, deflate")],
            _ => &[("Accept-Encoding", "gzip, deflate, br, zstd")],
        };
        http_get(server.addr, "/app-0123456789abcdef_bg.wasm", headers)
    };

    // What Chromium offers on localhost: the brotli copy, byte for byte.
    let response = get("all").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["content-encoding"], "br");
    assert_eq!(response.headers["content-type"], "application/wasm");
    assert_eq!(response.headers["vary"], "accept-encoding");
    assert_eq!(
        response.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.body, br);
    assert_eq!(unbrotli(&response.body), wasm);

    // What it offers to a LAN address over http: the gzip copy.
    let response = get("gzip").await;
    assert_eq!(response.headers["content-encoding"], "gzip");
    assert_eq!(response.headers["vary"], "accept-encoding");
    assert_eq!(response.body, gz);
    assert_eq!(gunzip(&response.body), wasm);

    // No Accept-Encoding: the file itself.
    let response = get("").await;
    assert!(!response.headers.contains_key("content-encoding"));
    assert_eq!(response.body, wasm);

    // A rebuild that skipped the step: the copies are older than the new file, and
    // neither is sent.
    let rebuilt: Vec<u8> = wasm.iter().rev().copied().collect();
    std::fs::write(&source, &rebuilt).unwrap();
    touch(&source, built, 2);
    let response = get("all").await;
    assert_eq!(response.headers["content-encoding"], "gzip");
    assert_eq!(response.headers["vary"], "accept-encoding");
    assert_eq!(gunzip(&unchunk(&response.body)), rebuilt);
    let response = get("br").await;
    assert!(!response.headers.contains_key("content-encoding"));
    assert_eq!(response.body, rebuilt);

    // Copies without their file are not sent either.
    std::fs::remove_file(&source).unwrap();
    assert_eq!(get("all").await.status, 404);
}
