# shellcheck shell=bash
# Installs what building and testing tabchain needs, skipping whatever is already there.
# Sourced (not run) by scripts/demo.sh and scripts/test.sh, from the repository root:
#
#     source scripts/setup.sh
#
# setup_chromium, setup_coturn and setup_nostr_relay are only defined here: the scripts call them when they
# need them. Afterwards PATH holds node_modules/.bin (binaryen's wasm-opt, which trunk
# uses) and ~/.cargo/bin (trunk, wasm-bindgen, wasm-bindgen-test-runner). Safe to source again:
# each step checks first and does nothing when its tool is already at the pinned version.
#
# The versions below must match the repository: TRUNK_VERSION is what the site is built
# with (0.22 needs a newer rustc), WASM_BINDGEN_VERSION must equal the `wasm-bindgen`
# crate in Cargo.lock, and binaryen's version lives in package.json (pinned in Trunk.toml
# as `wasm_opt = "version_132"`).

TABCHAIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130

setup_note() { printf -- '-- %s\n' "$*"; }

# `sudo` only when we are not root already (CI runs as root, a laptop usually not).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

setup_wasm_target() {
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        setup_note "adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
}

setup_trunk() {
    if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
        setup_note "installing trunk $TRUNK_VERSION (takes several minutes)"
        cargo install --locked "trunk@$TRUNK_VERSION"
    fi
}

# Also provides wasm-bindgen-test-runner, which runs the wasm tests in a browser.
# Not --locked: the crate's lockfile pins a dependency version the registry no longer has.
setup_wasm_bindgen() {
    if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ] \
        || ! command -v wasm-bindgen-test-runner >/dev/null; then
        setup_note "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
        cargo install "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
    fi
}

# `npm ci` only when package-lock.json changed since the last install (a stamp file in
# node_modules holds the lockfile's hash). Never downloads a browser: playwright-core has
# no install script, and the variable below covers any package that might.
setup_npm() {
    local stamp="$TABCHAIN_ROOT/node_modules/.tabchain-lock.sha256"
    local want
    want="$(sha256sum "$TABCHAIN_ROOT/package-lock.json" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
        || [ ! -x "$TABCHAIN_ROOT/node_modules/.bin/wasm-opt" ]; then
        setup_note "installing npm packages (npm ci)"
        (cd "$TABCHAIN_ROOT" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
        printf '%s\n' "$want" >"$stamp"
    fi
}

# Only the tests need a browser: Chromium for playwright-core and chromedriver for
# wasm-bindgen-test-runner, both from the distribution's packages.
setup_chromium() {
    if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
        setup_note "installing chromium and chromium-driver"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
    fi
}

# STUN and TURN: with --turn the signaling server runs Debian's coturn (`turnserver`)
# itself, with a configuration of its own; the tests also use coturn's
# turnutils_uclient. On a machine running systemd, Debian 12's package enables and starts
# its own coturn service when installed, on port 3478 with /etc/turnserver.conf (the
# TURNSERVER_ENABLED switch in /etc/default/coturn gates only the SysV init script), and
# that service would hold the port the demo uses: it is disabled right after installing.
# A coturn that was already there is left as it is; if its service holds the port, the
# signaling server says so.
setup_coturn() {
    if ! command -v turnserver >/dev/null || ! command -v turnutils_uclient >/dev/null; then
        setup_note "installing coturn (STUN and TURN)"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y coturn
        if [ -d /run/systemd/system ]; then
            as_root systemctl disable --now coturn.service
        fi
    fi
}

# A Nostr relay for the browser tests of signaling without a server: nostr-relay from
# PyPI in a virtual environment of its own, .tools/nostr-relay, at the versions in
# scripts/nostr-relay-requirements.txt (a stamp holds that file's hash). Debian's python3
# (3.11, for which every pinned package has a wheel) and its venv module, from apt.
setup_nostr_relay() {
    local venv="$TABCHAIN_ROOT/.tools/nostr-relay"
    local requirements="$TABCHAIN_ROOT/scripts/nostr-relay-requirements.txt"
    local want
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [ -x "$venv/bin/nostr-relay" ] && [ "$(cat "$venv/.tabchain-requirements.sha256" 2>/dev/null)" = "$want" ]; then
        return
    fi
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        setup_note "installing python3 and python3-venv"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv
    fi
    setup_note "installing the nostr-relay test relay (pip, into .tools/nostr-relay)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
    printf '%s\n' "$want" >"$venv/.tabchain-requirements.sha256"
}

setup_wasm_target
export PATH="$TABCHAIN_ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
setup_trunk
setup_wasm_bindgen
setup_npm
# trunk asks the network for a newer version of itself on every build unless told not to.
export TRUNK_SKIP_VERSION_CHECK=true
