#!/usr/bin/env bash
# Runs every test of tabchain, installing what is missing first. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the crates every tab runs build for wasm32; the core stays free of browser and runtime crates"
cargo check -p tabchain-core -p tabchain-signal --target wasm32-unknown-unknown --locked
if cargo tree -p tabchain-core -e normal --prefix none | grep -E '^(wasm-bindgen|web-sys|js-sys|tokio) '; then
    echo "tabchain-core must not depend on the crates above" >&2
    exit 1
fi

step "Rust tests"
cargo test --workspace --locked
