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
