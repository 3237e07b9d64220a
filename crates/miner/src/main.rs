//! The mining Web Worker. Trunk builds it with `data-type="worker"`; the page starts it
//! with `new Worker("miner_loader.js")`. On native targets it is an empty program, so
//! the workspace still builds and tests natively.

#[cfg(target_arch = "wasm32")]
mod worker;

fn main() {
    #[cfg(target_arch = "wasm32")]
    worker::start();
}
