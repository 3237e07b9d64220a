#!/bin/sh
# trunk's post_build hook (Trunk.toml): builds the mining worker a second time with wasm
# SIMD (simd128) into the staging dist as miner_simd.js and miner_simd_bg.wasm, next to
# trunk's own scalar build (miner.js); www/miner_worker.js picks one per browser.
#
# trunk has no per-asset RUSTFLAGS, and simd128 must be on for the whole crate graph so
# that the lanes' SIMD intrinsics inline; a target dir of its own keeps these artifacts
# from evicting the scalar build's. Same profile, same wasm-bindgen and wasm-opt as
# trunk's worker (index.html: data-type="worker" is wasm-bindgen's no-modules target,
# data-wasm-opt="3"); nothing is downloaded.
set -eu

: "${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}"
target_dir="${CARGO_TARGET_DIR:-target}/simd128"
if [ "${TRUNK_PROFILE:-debug}" = release ]; then
    profile=release
    profile_flag=--release
else
    profile=debug
    profile_flag=
fi

# shellcheck disable=SC2086 # profile_flag is empty or one word
RUSTFLAGS="-C target-feature=+simd128" cargo build --offline $profile_flag \
    --target wasm32-unknown-unknown --target-dir "$target_dir" \
    -p tabchain-miner --bin miner
wasm-bindgen --target no-modules --no-typescript --out-name miner_simd \
    --out-dir "$TRUNK_STAGING_DIR" "$target_dir/wasm32-unknown-unknown/$profile/miner.wasm"
if [ "$profile" = release ]; then
    wasm-opt -O3 --enable-simd -o "$TRUNK_STAGING_DIR/miner_simd_bg.wasm" \
        "$TRUNK_STAGING_DIR/miner_simd_bg.wasm"
fi
