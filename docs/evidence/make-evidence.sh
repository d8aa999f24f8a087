#!/usr/bin/env bash
# Re-make the evidence of docs/lab-report.md from a real run of the container lab:
# start the lab (servers, datetime-client and the tcpdump sidecar), drive each client
# with piped input as a student would type it, stop the lab, then keep the capture
# and what the tools make of it:
#   lab.pcap        the capture (tcpdump on the lab's bridge)
#   report.txt      scripts/pcap-report lab.pcap
#   calc.svg        ladder of the calculator session;   chat.svg: Batman's chat session
#   tshark.txt      the socklab dissector's view (tshark -Y socklab)
#   calc-client.txt what the calculator client printed;  lost-request.txt: a request nobody answers
#   *.log           the calc and chat servers' and the date/time client's own output
#   ../lab-report.md the worked report, its numbers filled in from these files
#                   (scripts/lablib/worked_report.py; its template is lab-report.template.md)
# Usage: docs/evidence/make-evidence.sh            (about two minutes; needs Docker)
#        docs/evidence/make-evidence.sh --derive   (no lab: only re-make what the tools make of
#                                                   the committed lab.pcap and logs, and the report)
# SOCKLAB_PROJECT / SOCKLAB_NET_PREFIX / SOCKLAB_BRIDGE pick another project, subnet and
# bridge name when the default lab is already running on this machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="$root/docs/evidence"
cd "$root"
project=${SOCKLAB_PROJECT:-socklab}
run() { docker compose -p "$project" run --rm -T "$@"; }
# A client's output as the program printed it: without the "Container ... Running" lines Compose adds.
program() { grep -v '^ Container ' || true; }

run_lab() {
  scripts/lab up
  trap 'scripts/lab down' EXIT
  pcap_in_container=$(docker exec "$project-capture-1" cat /tmp/pcap-name)

  printf 'hello, world\nsocket programming\n' | run udp-echo-client
  printf 'hello, world\n' | run tcp-echo-client
  # The course's three examples (its "3.24 45" lost the "*" in print), one line the client
  # must refuse, a division by zero the server answers with ERROR, then q.
  printf '12 + 42\n4.5 / -6\n3.24 * 45\n12 plus 42\n1 / 0\nq\n' | run calc-client --name Alice 2>&1 | program >"$out/calc-client.txt"

  # The course's chat example: Batman first, then Voldemort; both type, Batman leaves first.
  # Each client reads a FIFO, so every line is typed only once the server has seen the last
  # step (a container takes a moment to start; piped text with sleeps would race it).
  tmp=$(mktemp -d)
  mkfifo "$tmp/batman" "$tmp/voldemort"
  server_said() {
    for _ in $(seq 150); do
      docker logs "$project-chat-server-1" 2>&1 | grep -q "$1" && return 0
      sleep 0.2
    done
    echo "chat server never logged '$1'" >&2
    return 1
  }
  run chat-client <"$tmp/batman" &
  exec 3>"$tmp/batman"
  echo Batman >&3
  server_said "joined as Batman"
  run chat-client <"$tmp/voldemort" &
  exec 4>"$tmp/voldemort"
  echo Voldemort >&4
  server_said "joined as Voldemort"
  sleep 1; echo "Anyone here?" >&3
  sleep 1; echo "Crucio!" >&4
  sleep 1; echo "Aaaaaaahrrhhhhhhh..." >&3
  sleep 1; echo quit >&3
  server_said "Batman left"
  sleep 1; echo quit >&4
  server_said "Voldemort left"
  exec 3>&- 4>&-
  wait
  rm -r "$tmp"

  # A date/time request to a port where nothing listens (12009 on datetime-server's host):
  # the host answers ICMP port unreachable; the client's UDP socket is connected, so the
  # kernel reports it as ConnectionRefusedError, which the client ignores on purpose and
  # waits out its 1.0 s timeout like any other lost reply.
  run --entrypoint "python3 -m services datetime-client --host datetime-server --port 12009 --count 1" \
    udp-echo-client 2>&1 | program >"$out/lost-request.txt"
  sleep 1 # a few more date/time requests, and the last ACKs

  # The servers' own logs: what they printed (Session ended, joins, relays).
  for service in calc-server chat-server datetime-client; do
    docker logs "$project-$service-1" >"$out/$service.log" 2>&1
  done

  trap - EXIT
  scripts/lab down
  cp "$root/captures/$(basename "$pcap_in_container")" "$out/lab.pcap"
}

[ "${1:-}" = --derive ] || run_lab

.venv/bin/python scripts/pcap-report docs/evidence/lab.pcap >"$out/report.txt"
calc=$(grep -m1 -o '^#[0-9]* TCP .*(calc)' "$out/report.txt" | cut -d' ' -f1 | tr -d '#')
chat=$(grep -m1 -o '^#[0-9]* TCP .*(chat)' "$out/report.txt" | cut -d' ' -f1 | tr -d '#')
.venv/bin/python scripts/pcap-report docs/evidence/lab.pcap -q -c "$calc" --svg "$out/calc.svg"
.venv/bin/python scripts/pcap-report docs/evidence/lab.pcap -q -c "$chat" --svg "$out/chat.svg"
tshark -n -2 -X "lua_script:$root/wireshark/socklab.lua" -r "$out/lab.pcap" -Y socklab 2>/dev/null >"$out/tshark.txt"
PYTHONPATH="$root/scripts" .venv/bin/python -m lablib.worked_report   # docs/lab-report.md from the evidence
echo "evidence written to $out"
