#!/usr/bin/env bash
# Fuzzes tabchain's decoders of outside bytes with cargo-fuzz (libFuzzer). Long runs
# belong here, not in the test command: `cargo test -p tabchain-fuzz` (part of
# `cargo test --workspace`) replays each target's committed corpus on stable.
#
#   scripts/fuzz.sh list                     the targets
#   scripts/fuzz.sh seed                     add the encoders' valid samples to fuzz/corpus/
#   scripts/fuzz.sh run [TARGET...]          fuzz each target in turn (all by default)
#   scripts/fuzz.sh cmin [TARGET...]         fold new finds into fuzz/corpus/, minimize, reseed
#   scripts/fuzz.sh crash TARGET FILE        run one input (a crash artifact) again
#
# Environment: FUZZ_RUNS (executions per target, default 10000000), FUZZ_SECONDS (a cap
# on each target's time, default none), FUZZ_ARGS (more libFuzzer flags).
#
# The targets' bodies are functions in fuzz/src/lib.rs; fuzz/libfuzzer holds the
# libFuzzer binaries, a workspace of their own. cargo-fuzz needs nightly features: on a
# stable toolchain RUSTC_BOOTSTRAP=1 unlocks them (install it with `cargo install
# cargo-fuzz`). The settings are the fastest: release build, no sanitizer (the crates
# forbid unsafe code), no debug assertions, one job. New finds go to
# fuzz/libfuzzer/work/<target>/ (not committed) until `cmin` folds them in; crashes land
# in fuzz/libfuzzer/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC_BOOTSTRAP=1
FUZZ_DIR=fuzz/libfuzzer
RUNS=${FUZZ_RUNS:-10000000}
BUILD=(--fuzz-dir "$FUZZ_DIR" --sanitizer none --release)

targets() {
    sed -n 's/^name = "\(.*\)"$/\1/p' "$FUZZ_DIR/Cargo.toml" | grep -v '^tabchain-fuzz-libfuzzer$'
}

need_cargo_fuzz() {
    cargo fuzz --version >/dev/null 2>&1 || {
        echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
        exit 1
    }
}

seed() {
    local tmp
    tmp=$(mktemp -d)
    cargo run --quiet --locked -p tabchain-fuzz --bin fuzz-seeds -- "$tmp"
    for dir in "$tmp"/*/; do
        local target
        target=$(basename "$dir")
        mkdir -p "fuzz/corpus/$target"
        cp "$dir"* "fuzz/corpus/$target/"
    done
    rm -rf "$tmp"
}

command=${1:-run}
shift || true
case "$command" in
    list)
        targets
        ;;
    seed)
        seed
        ;;
    run)
        need_cargo_fuzz
        selected=("$@")
        [ ${#selected[@]} -gt 0 ] || mapfile -t selected < <(targets)
        cargo fuzz build "${BUILD[@]}"
        limit=()
        crashed=()
        [ -z "${FUZZ_SECONDS:-}" ] || limit=("-max_total_time=$FUZZ_SECONDS")
        for target in "${selected[@]}"; do
            mkdir -p "$FUZZ_DIR/work/$target" "fuzz/corpus/$target"
            printf '\n== %s: %s executions\n' "$target" "$RUNS"
            log="$FUZZ_DIR/work/$target.log"
            status=0
            # shellcheck disable=SC2086
            cargo fuzz run "${BUILD[@]}" "$target" "$FUZZ_DIR/work/$target" "fuzz/corpus/$target" \
                -- "-runs=$RUNS" "${limit[@]}" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 \
                || status=$?
            grep -E '^stat::(number_of_executed_units|average_exec_per_sec)|DONE|panicked|ERROR|Test unit written' "$log" || true
            if [ "$status" -ne 0 ]; then
                echo "$target crashed (log $log, input in $FUZZ_DIR/artifacts/$target/)" >&2
                crashed+=("$target")
            fi
        done
        [ ${#crashed[@]} -eq 0 ] || { echo "crashed: ${crashed[*]}" >&2; exit 1; }
        ;;
    cmin)
        need_cargo_fuzz
        selected=("$@")
        [ ${#selected[@]} -gt 0 ] || mapfile -t selected < <(targets)
        for target in "${selected[@]}"; do
            mkdir -p "fuzz/corpus/$target"
            if [ -d "$FUZZ_DIR/work/$target" ]; then
                cp "$FUZZ_DIR/work/$target/." "fuzz/corpus/$target/" -r
            fi
            # Edges only (no hit counts): the smallest corpus that keeps every edge.
            cargo fuzz cmin "${BUILD[@]}" "$target" "fuzz/corpus/$target" -- -use_counters=0
            rm -rf "$FUZZ_DIR/work/$target"
        done
        # The encoders' valid samples stay in the corpus even where others cover them.
        seed
        ;;
    crash)
        need_cargo_fuzz
        [ $# -eq 2 ] || { echo "usage: scripts/fuzz.sh crash TARGET FILE" >&2; exit 2; }
        cargo fuzz run "${BUILD[@]}" "$1" "$2"
        ;;
    *)
        echo "unknown command $command: list, seed, run, cmin or crash" >&2
        exit 2
        ;;
esac
