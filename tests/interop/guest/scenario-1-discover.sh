#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 1: "nvme discover" against the target's discovery listener shows
# our subsystem: its NQN, transport tcp, trsvcid, subtype; the discovery
# controller is gone afterwards (nvme discover without -p disconnects).
. "$(dirname "$0")/common.sh"

log "+ nvme discover -t tcp -a $T -s $NVMFT_DISC_PORT"
out=$(nvme discover -t tcp -a "$T" -s "$NVMFT_DISC_PORT" 2>&1) ||
	{ echo "$out"; fail "nvme discover failed"; }
echo "$out" | sed 's/^/    /'

# One record per "=====Discovery Log Entry N======"; find ours.
rec=$(awk -v nqn="$NVMFT_NQN" '
	/^=+Discovery Log Entry/ { if (r ~ ("subnqn: *" nqn "\n")) { print r; found = 1; exit } r = ""; next }
	{ r = r $0 "\n" }
	END { if (!found && r ~ ("subnqn: *" nqn "\n")) print r }' <<<"$out")
[ -n "$rec" ] || fail "no discovery log entry with subnqn $NVMFT_NQN"
val() { awk -v k="$1" '$1 == k":" { $1 = ""; sub(/^ +/, ""); print; exit }' <<<"$rec"; }
[ "$(val trtype)" = tcp ] || fail "trtype is '$(val trtype)', expected tcp"
[ "$(val trsvcid)" = "$NVMFT_PORT" ] || fail "trsvcid is '$(val trsvcid)', expected $NVMFT_PORT"
[ "$(val adrfam)" = ipv4 ] || fail "adrfam is '$(val adrfam)', expected ipv4"
case $(val subtype) in
*"nvme subsystem"*) ;;
*) fail "subtype is '$(val subtype)', expected nvme subsystem";;
esac
# The target advertises its own listener address (the namespace's
# loopback), which is why connects here always say -a $T.
[ "$(val traddr)" = 127.0.0.1 ] || fail "traddr is '$(val traddr)', expected 127.0.0.1"
log "discovery entry for $NVMFT_NQN: trtype tcp, trsvcid $NVMFT_PORT, traddr 127.0.0.1"

# JSON output parses and has the same record count as the text.
nrec=$(grep -c '^=*Discovery Log Entry' <<<"$out")
json=$(nvme discover -t tcp -a "$T" -s "$NVMFT_DISC_PORT" -o json 2>&1) ||
	fail "nvme discover -o json failed: $json"
njson=$(grep -c '"subnqn"' <<<"$json")
[ "$njson" -eq "$nrec" ] || fail "json has $njson records, text $nrec"

wait_for 10 no_ctrl nqn.2014-08.org.nvmexpress.discovery ||
	fail "discovery controller still connected after nvme discover"
log "PASS"
