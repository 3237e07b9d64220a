//! Serving the built site (`--static dist/`), so one command starts a classroom:
//! MIME types from the file extension (`application/wasm` included), `index.html` for
//! directories, the build's precompressed brotli or gzip copy when the browser accepts
//! it (`precompressed.rs`), gzip on the fly for a file without a fresh copy, and cache
//! headers that never leave a student on a stale build.

use std::path::Path;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{HeaderValue, CACHE_CONTROL};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use crate::precompressed;

/// A router that serves the files under `dir`.
pub fn router(dir: &Path) -> Router {
    // The brotli copy when offered, else the gzip one: Chromium offers brotli to https
    // and localhost only, so a classroom's laptops on http://192.168.x.y take gzip.
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn_with_state(
            Arc::<Path>::from(dir),
            precompressed::fresh_copies_only,
        ))
        .layer(middleware::from_fn(cache_control))
        .layer(CompressionLayer::new())
}

async fn cache_control(request: Request, next: Next) -> Response {
    let policy = cache_policy(request.uri().path());
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

/// Files whose name carries a content hash (trunk writes `app-<16 hex>_bg.wasm`) never
/// change under that name, so browsers may keep them. Everything else, `index.html`
/// first, is revalidated on each load (a cheap 304 when unchanged), so a rebuilt site
/// shows up on the next reload.
fn cache_policy(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    if is_fingerprinted(name) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

fn is_fingerprinted(name: &str) -> bool {
    name.split('-').skip(1).any(|part| {
        let digits = part.bytes().take_while(u8::is_ascii_hexdigit).count();
        digits >= 16 && matches!(part.as_bytes().get(digits), Some(b'.' | b'_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_file_names_are_cached_for_long() {
        let long = "public, max-age=31536000, immutable";
        for path in [
            "/tabchain-app-0123456789abcdef_bg.wasm",
            "/tabchain-app-0123456789abcdef.js",
            "/assets/style-fedcba9876543210.css",
        ] {
            assert_eq!(cache_policy(path), long, "{path}");
        }
        for path in [
            "/",
            "/index.html",
            "/style.css",
            "/app-deadbeef.js",
            "/app-0123456789abcdefg.js",
            "/0123456789abcdef0123.js",
            "/app-0123456789abcdef",
        ] {
            assert_eq!(cache_policy(path), "no-cache", "{path}");
        }
    }
}
