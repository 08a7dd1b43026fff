#!/usr/bin/env bash
# The boot test's checks, run as root inside the booted VM after the playbook (boot-test.sh pipes
# this file over SSH). Each check prints "ok  …"; the first failure prints "FAILED: …" with the
# relevant journal lines and exits 1. (No `| grep -q`: under pipefail, grep leaving early makes the
# writer die of SIGPIPE and the pipeline fail.) The simulator stands in for signal-cli-rest-api on
# 127.0.0.1:8080: /sim/inbound makes a member send something, /sim/sent lists what was sent.
set -euo pipefail

api=http://127.0.0.1:8080
admin=+447911123401  # alice, the relay's admin in the test rules
bob=+447911123402
start=$SECONDS

ok() { printf 'ok  [%4ss] %s\n' "$(( SECONDS - start ))" "$*"; }
fail() {
    printf 'FAILED: %s\n' "$*"
    journalctl --no-pager -n 40 -u peer-relay.service -u 'peer-relay-failure@*' || true
    exit 1
}
prop() { systemctl show --property="$2" --value "$1"; }
# wait_for SECONDS WHAT COMMAND…: run COMMAND every second until it succeeds. The limits are
# generous (several times what a busy machine's emulator has taken): they cost time only when a
# check is failing, and the boot test's budget still bounds the whole.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local until=$(( SECONDS + limit ))
    until "$@"; do
        [ "$SECONDS" -lt "$until" ] || fail "$what (waited ${limit}s)"
        sleep 1
    done
}
sent_count() { curl -sf "$api/sim/sent" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
# sent_to SINCE NUMBER: the texts sent to NUMBER from index SINCE on, one per line.
sent_to() {
    curl -sf "$api/sim/sent?since=$1" | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if sys.argv[1] in m["recipients"]:
        print(m["message"].replace("\n", " "))' "$2"
}
says() {
    curl -sf -X POST -H 'Content-Type: application/json' \
        -d "{\"from\": \"$1\", \"text\": \"$2\"}" "$api/sim/inbound" > /dev/null
}
has_reply() { [ -n "$(sent_to "$1" "$2")" ]; }
# answered WHAT: bob sends STATUS and gets an answer, through signalbot, the relay and the database.
answered() {
    local since
    since=$(sent_count)
    says "$bob" STATUS
    wait_for 240 "bob's STATUS was not answered $1" has_reply "$since" "$bob"
    ok "bob's STATUS answered $1: \"$(sent_to "$since" "$bob" | head -n 1 | cut -c1-70)…\""
}
active() { [ "$(prop peer-relay.service ActiveState)" = active ]; }
restarted_since() { [ "$(prop peer-relay.service NRestarts)" -gt "$1" ] && active; }
told_admin() { sent_to "$admin_since" "$admin" | grep "$1" > /dev/null; }

admin_since=$(sent_count)

# --- the relay: ready, sandboxed, answering ------------------------------------------------------
wait_for 300 "peer-relay.service is not active" active
[ "$(prop peer-relay.service Type)" = notify ] || fail "the relay's unit is not Type=notify"
# Type=notify: "active" means the relay sent READY=1 (until then the unit is "activating").
ok "peer-relay.service active after READY=1 (Type=notify): $(prop peer-relay.service StatusText)"
pid=$(prop peer-relay.service MainPID)
[ "$(stat -c %U "/proc/$pid")" = peer-relay ] || fail "the relay does not run as peer-relay"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" || fail "NoNewPrivs is not set"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status" || fail "no seccomp filter"
grep -q '^CapEff:[[:space:]]*0000000000000000' "/proc/$pid/status" || fail "the relay has capabilities"
grep -q '^CapBnd:[[:space:]]*0000000000000000' "/proc/$pid/status" || fail "the relay's bounding set is not empty"
ok "the relay runs as peer-relay with no capabilities, no_new_privs and a seccomp filter"
[ "$(prop peer-relay.service WatchdogUSec)" = 20s ] || fail "WatchdogSec is $(prop peer-relay.service WatchdogUSec)"
[ "$(prop peer-relay.service ProtectSystem)" = strict ] || fail "ProtectSystem is not strict"
[ "$(prop peer-relay.service MemoryMax)" = $(( 300 * 1024 * 1024 )) ] || fail "MemoryMax is not 300M"
exposure=$(systemd-analyze security --no-pager peer-relay.service | tail -n 1)
echo "    $exposure"
score=$(echo "$exposure" | grep -Eo '[0-9]+\.[0-9]+' | head -n 1)
python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)" \
    || fail "systemd-analyze security exposure $score > 2.0"
ok "systemd-analyze security: exposure $score (<= 2.0), WatchdogSec=20s, ProtectSystem=strict, MemoryMax=300M"
if journalctl -u peer-relay.service --no-pager | grep -E '\+44791112340|STATUS' > /dev/null; then
    fail "the relay's journal holds a number or a message text"
fi
answered "(end to end: simulator → signalbot → relay → database → outbox → simulator)"

# --- off the card: the key and the backups on their own disks ------------------------------------
[ "$(findmnt -n -o SOURCE --target /media/relay-key/relay.key)" = /dev/vdb ] || fail "the key is not on the key disk"
[ ! -e /etc/peer-relay/key ] || fail "a key directory exists on the card"
[ "$(findmnt -n -o SOURCE --mountpoint /media/peer-relay-backup)" = /dev/vdc ] || fail "the backup disk is not mounted"
systemctl is-enabled --quiet 'media-relay\x2dkey.mount' || fail "the key's mount unit is not enabled"
prop peer-relay.service Wants | grep 'x2dkey.mount' > /dev/null || fail "the relay does not want the key's mount"
prop peer-relay.service After | grep 'x2dkey.mount' > /dev/null || fail "the relay is not ordered after the key's mount"
ok "key on /dev/vdb (media-relay\\x2dkey.mount, wanted and ordered before the relay), none on the card; backups on /dev/vdc"

# --- kill -9: restarted, still answering; the admin told once ------------------------------------
n=$(prop peer-relay.service NRestarts)
systemctl kill --signal=KILL peer-relay.service
wait_for 300 "no restart after kill -9" restarted_since "$n"
ok "systemctl kill -s KILL → restarted (NRestarts $n → $(prop peer-relay.service NRestarts))"
answered "after kill -9"
wait_for 240 "the admin was not told of the crash" told_admin 'crashed (signal KILL)'
ok "the admin was told: \"$(sent_to "$admin_since" "$admin" | grep 'crashed' | head -n 1 | cut -c1-90)…\""

# --- a hung relay: the watchdog kills it ----------------------------------------------------------
n=$(prop peer-relay.service NRestarts)
since_watchdog=$(date '+%Y-%m-%d %H:%M:%S')
systemctl kill --signal=STOP --kill-whom=main peer-relay.service
wait_for 300 "no restart after the relay hung" restarted_since "$n"
journalctl -u peer-relay.service --since "$since_watchdog" --no-pager | grep -i 'watchdog timeout' > /dev/null \
    || fail "the journal does not say the watchdog fired"
ok "SIGSTOP (hung) → 'Watchdog timeout' → killed and restarted (NRestarts $n → $(prop peer-relay.service NRestarts))"
answered "after the watchdog"
sleep 10
crash_notices=$(sent_to "$admin_since" "$admin" | grep -c -E 'crashed|watchdog' || true)
[ "$crash_notices" -eq 1 ] || fail "the crash loop was told $crash_notices times, not once"
ok "kill -9 then the watchdog within the loop window: the admin was told once"

# --- exit 78: a broken config is not restarted, and the admin is told ----------------------------
cp /etc/peer-relay/config.yaml /root/config.yaml.good
echo 'not_a_key: true' >> /etc/peer-relay/config.yaml
systemctl restart peer-relay.service 2> /dev/null && fail "the relay started with a broken config"
failed() { [ "$(prop peer-relay.service ActiveState)" = failed ]; }
wait_for 180 "the relay is not in the failed state" failed
[ "$(prop peer-relay.service ExecMainStatus)" = 78 ] || fail "exit status $(prop peer-relay.service ExecMainStatus), not 78"
# (A manual restart resets NRestarts: count from the failure on.)
n=$(prop peer-relay.service NRestarts)
sleep 15
[ "$(prop peer-relay.service ActiveState)" = failed ] || fail "the relay was restarted after exit 78"
[ "$(prop peer-relay.service NRestarts)" = "$n" ] || fail "NRestarts moved after exit 78"
ok "exit 78 after a broken config: failed, not restarted (15 s later still failed)"
wait_for 240 "the admin was not told of exit 78" told_admin 'config or rules are invalid (exit 78)'
ok "the admin was told: \"$(sent_to "$admin_since" "$admin" | grep 'exit 78' | head -n 1 | cut -c1-100)…\""
install -m 0640 -o root -g peer-relay /root/config.yaml.good /etc/peer-relay/config.yaml
systemctl reset-failed peer-relay.service
systemctl start peer-relay.service
answered "after the config was fixed"

# --- nftables and Docker --------------------------------------------------------------------------
docker_rules() { iptables-save 2> /dev/null | grep -E -c 'DOCKER|docker0' || true; }
nft list table inet peer_relay > /dev/null || fail "the peer_relay table is not loaded"
before=$(docker_rules)
[ "$before" -gt 0 ] || fail "Docker's rules are not there to begin with"
iptables-save -t nat | grep -- '-j MASQUERADE' > /dev/null || fail "no MASQUERADE rule for the container"
systemctl restart nftables.service
nft list table inet peer_relay > /dev/null || fail "the peer_relay table is gone after restarting nftables"
after=$(docker_rules)
[ "$after" -eq "$before" ] || fail "restarting nftables changed Docker's rules ($before → $after lines)"
iptables-save -t nat | grep -- '-j MASQUERADE' > /dev/null || fail "the container's MASQUERADE rule is gone"
curl -sf -o /dev/null "$api/v1/about" || fail "the published port stopped answering"
ok "nftables loaded (inet peer_relay, input policy drop); 'systemctl restart nftables' kept Docker's $after rule lines and NAT"
answered "after restarting nftables"
nft list chain inet peer_relay input | grep 'policy drop' > /dev/null || fail "the input policy is not drop"

# --- the container's limits -------------------------------------------------------------------------
inspect=$(docker inspect --format '{{.HostConfig.CapDrop}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.SecurityOpt}} {{range $p, $b := .HostConfig.PortBindings}}{{(index $b 0).HostIp}}{{end}}' signal-cli-rest-api)
echo "    docker inspect: $inspect"
echo "$inspect" | grep '^\[ALL\] 629145600 512 true \[no-new-privileges:true\] 127.0.0.1$' > /dev/null \
    || fail "the container does not run with caps dropped, 600m, 512 pids, read-only, loopback only"
ok "container: --cap-drop ALL, --memory 600m, --pids-limit 512, --read-only, no-new-privileges, 127.0.0.1 only"

# --- logs in RAM, no swap -------------------------------------------------------------------------
[ ! -e /var/log/journal ] || fail "/var/log/journal exists"
journalctl --header --no-pager 2> /dev/null | grep '/run/log/journal/' > /dev/null || fail "the journal is not in /run"
ok "journald volatile: /run/log/journal only, no /var/log/journal"
[ -z "$(swapon --noheadings --show)" ] || fail "swap is on: $(swapon --noheadings --show)"
[ ! -e /var/swap ] || fail "/var/swap is still there"
[ "$(systemctl is-enabled swap.target 2> /dev/null || true)" = masked ] || fail "swap.target is not masked"
ok "swap off: none active, /var/swap removed, swap.target masked"

# --- backups: the timer, a run, and a restore ------------------------------------------------------
systemctl is-active --quiet peer-relay-backup.timer || fail "the backup timer is not active"
echo "    next backup: $(prop peer-relay-backup.timer NextElapseUSecRealtime)"
systemctl start peer-relay-backup.service || fail "the backup service failed"
backup=$(ls /media/peer-relay-backup/relay-*.sealed | tail -n 1)
[ -n "$backup" ] || fail "no backup file"
[ "$(stat -c '%a %U' "$backup")" = "600 peer-relay" ] || fail "the backup is $(stat -c '%a %U' "$backup")"
ok "peer-relay-backup.timer active; a run wrote $(basename "$backup") ($(stat -c %s "$backup") bytes, 0600 peer-relay)"
systemctl stop peer-relay.service
systemd-run --quiet --wait --pipe --property=User=peer-relay --property=StateDirectory=peer-relay \
    --property=LoadCredential=relay.key:/media/relay-key/relay.key \
    /opt/peer-relay/venv/bin/peer-relay restore --config /etc/peer-relay/config.yaml --from "$backup" \
    || fail "peer-relay restore refused the backup"
ok "peer-relay restore opened and restored it (as documented in docs/deploy.md)"
systemctl start peer-relay.service
answered "after the restore"

# --- the heartbeat (test URL: the simulator's /v1/health) ------------------------------------------
systemctl start peer-relay-heartbeat.service || fail "the heartbeat failed"
[ "$(prop peer-relay-heartbeat.service Result)" = success ] || fail "the heartbeat did not succeed"
ok "heartbeat timer active; one ping succeeded"

# --- a pulled key stick: the relay keeps running; a restart without it is refused and told ---------
systemctl stop 'media-relay\x2dkey.mount'
sleep 3
active || fail "unmounting the key's stick stopped the running relay"
ok "key stick unmounted: the running relay keeps running (it holds the key in memory)"
# Pulled out: the disk's driver lets go of it, so /dev/vdb and its label are gone (the relay's
# Wants= would otherwise mount the still-present disk again at the restart).
key_disk=$(basename "$(readlink -f /sys/block/vdb/device)")
echo "$key_disk" > /sys/bus/virtio/drivers/virtio_blk/unbind
systemctl restart peer-relay.service 2> /dev/null && fail "the relay started without its key"
wait_for 180 "the relay is not in the failed state" failed
[ "$(prop peer-relay.service ExecMainStatus)" = 243 ] || [ "$(prop peer-relay.service ExecMainStatus)" = 77 ] \
    || fail "exit status $(prop peer-relay.service ExecMainStatus) without the key"
wait_for 240 "the admin was not told the key is missing" told_admin 'key is missing'
ok "restart with the stick pulled (its disk unbound): exit $(prop peer-relay.service ExecMainStatus), not retried, the admin told"
echo "$key_disk" > /sys/bus/virtio/drivers/virtio_blk/bind
key_label() { [ -e /dev/disk/by-label/relaykey ]; }
wait_for 180 "the key's disk did not come back" key_label
systemctl start 'media-relay\x2dkey.mount'
systemctl reset-failed peer-relay.service
systemctl start peer-relay.service
answered "with the stick back"

echo "boot-checks: all passed in $(( SECONDS - start ))s"
