#!/usr/bin/env bash
# The demo: builds the site and the signaling server, then serves both on one port.
#
#     ./scripts/demo.sh                       # http://127.0.0.1:8080/
#     BIND=0.0.0.0:8080 ./scripts/demo.sh     # a classroom: other machines may connect
#     ./scripts/demo.sh 0.0.0.0:9000          # the same, as an argument
#
# Installs what is missing first (scripts/setup.sh). Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

bind="${1:-${BIND:-127.0.0.1:8080}}"

# shellcheck source=scripts/setup.sh
source scripts/setup.sh

printf '\n== building the site (trunk, release) into dist/\n'
trunk build --release --offline --skip-version-check

printf '\n== building the signaling server\n'
cargo build --release --locked -p tabchain-signaling

host="${bind%:*}"
port="${bind##*:}"
case "$host" in
    0.0.0.0 | '[::]' | '') shown="$(hostname -I 2>/dev/null | cut -d' ' -f1)"; shown="${shown:-127.0.0.1}" ;;
    *) shown="$host" ;;
esac
cat <<MSG

== tabchain is up
Open  http://$shown:$port/  in several tabs (or on several machines) to form a network.
Each room is its own chain: add ?room=NAME to the address, e.g.
      http://$shown:$port/?room=class-a
Tabs only link with tabs of the same room. Press Ctrl-C to stop the server.

MSG
exec target/release/tabchain-signaling --static dist --bind "$bind"
