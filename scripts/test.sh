#!/usr/bin/env bash
# Runs every test of tabchain, installing what is missing first. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
# trunk, wasm-bindgen-cli (with wasm-bindgen-test-runner), npm packages; PATH for them.
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the crates every tab runs build for wasm32 (and the browser crates lint clean there, the SIMD lanes too); the core stays free of browser and runtime crates"
cargo check -p tabchain-core -p tabchain-signal --target wasm32-unknown-unknown --locked
cargo clippy -p tabchain-web -p tabchain-app -p tabchain-miner --target wasm32-unknown-unknown \
    --all-targets --locked -- -D warnings
# The mining worker's SIMD build (scripts/miner-simd.sh, trunk's post_build hook) compiles
# the core's v128 lanes, which no other build sees; its own target dir, as in the hook.
RUSTFLAGS="-C target-feature=+simd128" cargo clippy -p tabchain-core -p tabchain-miner \
    --target wasm32-unknown-unknown --target-dir "${CARGO_TARGET_DIR:-target}/simd128" \
    --locked -- -D warnings
if cargo tree -p tabchain-core -e normal --prefix none | grep -E '^(wasm-bindgen|web-sys|js-sys|tokio) '; then
    echo "tabchain-core must not depend on the crates above" >&2
    exit 1
fi

step "coturn, which the signaling server's TURN tests start"
setup_coturn

step "Rust tests (with every fuzz target's corpus replayed on stable: fuzz/tests/corpus.rs)"
cargo test --workspace --locked

step "a browser for the wasm and end-to-end tests (chromium, chromedriver), and a Nostr relay for them"
setup_chromium
setup_nostr_relay

# The browser tests run in a private network namespace holding only a loopback
# interface: nothing can leave the machine, and 127.0.0.1 is the only ICE candidate.
# CI runs as root; anyone else gets a user namespace in which they are root.
offline() {
    local userns=()
    [ "$(id -u)" -eq 0 ] || userns=(--user --map-root-user)
    unshare "${userns[@]}" --net sh -c 'ip link set lo up && exec "$@"' offline "$@"
}

step "wasm tests (tabchain-web in headless Chromium through chromedriver)"
# Built (and its crates fetched) outside the namespace, run inside it.
cargo test -p tabchain-web --target wasm32-unknown-unknown --locked --no-run
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
CHROMEDRIVER=/usr/bin/chromedriver \
WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/crates/web/webdriver.json" \
    offline cargo test -p tabchain-web --target wasm32-unknown-unknown --locked --offline

step "site build (trunk, release), the signaling server that serves it, and the chain-file tool the long-chain tests start from"
trunk build --release --offline --skip-version-check
cargo build --release --locked -p tabchain-signaling
cargo build --release --locked -p tabchain-web --bin chain-file

step "browser end-to-end tests (e2e/*.test.mjs but lan-*: several tabs, one signaling server)"
loopback_tests=()
for file in e2e/*.test.mjs; do
    case "$file" in e2e/lan-*) ;; *) loopback_tests+=("$file") ;; esac
done
offline node --test --test-concurrency=1 --test-reporter=spec "${loopback_tests[@]}"

step "browser tests across separate network hosts (e2e/lan-*.test.mjs: a server host with TURN, two laptops)"
# Not inside `offline`: each test builds its own network namespaces (a server host and
# two laptops on a bridge of their own), checks that none of them forwards or has a way
# out, and removes them. Network namespaces need root (CI runs as root).
as_root node --test --test-concurrency=1 --test-reporter=spec e2e/lan-*.test.mjs

step "all tests passed"
