#!/usr/bin/env bash
# The demo: builds the site and the signaling server, then serves both on one port.
#
#     ./scripts/demo.sh                       # http://127.0.0.1:8080/
#     BIND=0.0.0.0:8080 ./scripts/demo.sh     # a classroom: other machines may connect
#     ./scripts/demo.sh 0.0.0.0:9000          # the same, as an argument
#     LAN_IP=192.168.1.20 BIND=0.0.0.0:8080 ./scripts/demo.sh   # pick the LAN address
#
# On any address but loopback the server also serves STUN and TURN on the LAN address,
# port 3478 (TURN_PORT=), so laptops that cannot reach each other link through it, and
# prints the join URL with a QR code. The LAN address is the one bound, or for 0.0.0.0
# the first IPv4 address of `hostname -I`, unless LAN_IP says otherwise. On loopback (one
# machine) no TURN is needed.
#
# Installs what is missing first (scripts/setup.sh). Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

bind="${1:-${BIND:-127.0.0.1:8080}}"
host="${bind%:*}"
port="${bind##*:}"
case "$host" in
    127.* | localhost | '[::1]') lan="" ;;
    0.0.0.0 | '[::]' | '')
        lan="${LAN_IP:-$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+(\.[0-9]+){3}$' || true)}"
        if [ -z "$lan" ]; then
            echo "cannot tell this machine's LAN address: set LAN_IP=<address>" >&2
            exit 1
        fi
        ;;
    *) lan="${LAN_IP:-$host}" ;;
esac

# shellcheck source=scripts/setup.sh
source scripts/setup.sh
[ -z "$lan" ] || setup_coturn

printf '\n== building the site (trunk, release) into dist/\n'
trunk build --release --offline --skip-version-check

printf '\n== building the signaling server\n'
cargo build --release --locked -p tabchain-signaling

if [ -z "$lan" ]; then
    cat <<MSG

== tabchain is up
Open  http://$host:$port/  in several tabs to form a network.
Each room is its own chain: add ?room=NAME to the address, e.g.
      http://$host:$port/?room=class-a
Tabs only link with tabs of the same room. A keeper on this machine keeps every
room's chain in ${DATA:-tabchain-data}/, so a room outlives its last tab; see it at
      http://$host:$port/rooms/lobby/chain
Press Ctrl-C to stop the server.

MSG
    exec target/release/tabchain-signaling --static dist --bind "$bind" --keep --data "${DATA:-tabchain-data}"
fi

turn="$lan:${TURN_PORT:-3478}"
url="http://$lan:$port/"
cat <<MSG

== tabchain for a classroom
Open  $url  in several tabs, or on several machines, to form a network.
Each room is its own chain: add ?room=NAME to the address, e.g.
      ${url}?room=class-a
Tabs only link with tabs of the same room. STUN and TURN run on $turn, so
laptops that cannot reach each other directly link through this machine; a firewall
here must let in TCP $port, UDP and TCP ${TURN_PORT:-3478}, and UDP 49152-65535.
A keeper on this machine keeps every room's chain in ${DATA:-tabchain-data}/, so a room
outlives its last tab and the next class finds it: ${url}rooms/lobby/chain shows it.
Press Ctrl-C to stop the server. The join URL and its QR code follow once it is up.

MSG
exec target/release/tabchain-signaling --static dist --bind "$bind" --turn "$turn" --join-url "$url" \
    --keep --data "${DATA:-tabchain-data}" --keep-ip "$lan" --keep-ip 127.0.0.1
