#!/usr/bin/env bash
# Opt-in test: apply site.yml to a throwaway Debian root (trixie by default, SUITE=bookworm for
# the older release; debootstrap + Ansible's chroot connection) twice, with the example inventory's values (placeholders replaced); the second run
# must report no change. Then check the result inside the root: modes and owners, enabled units,
# `peer-relay check` on the installed config, `systemd-analyze verify` on the installed units.
#
# What a chroot cannot show: nothing is started (no systemd runs there, and Docker's engine does
# not run on the test machine), no firewall or sysctl is loaded and no swap is touched: those
# would act on the machine running the test. The roles skip exactly those steps when the target
# is not booted (*_booted, detected by the preflight play); the rest is applied for real.
#
# Needs root, debootstrap, network access to the Debian mirror and PyPI, and a few minutes:
#   sudo ansible/tests/chroot-apply.sh            # KEEP=1 keeps the root for inspection
# Environment: ANSIBLE_VENV (default /tmp/ansible-venv), PROJECT_PYTHON (default: .venv/bin/python of
# the checkout, else python3; builds the wheel), CHROOT_WORK (default /var/tmp/peer-relay-chroot),
# DEBIAN_MIRROR, SUITE (trixie or bookworm).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ansible_dir=$(cd "$here/.." && pwd)
repo=$(cd "$ansible_dir/.." && pwd)
venv=${ANSIBLE_VENV:-/tmp/ansible-venv}
suite=${SUITE:-trixie}
if [ -n "${PROJECT_PYTHON:-}" ]; then project_python=$PROJECT_PYTHON
elif [ -x "$repo/.venv/bin/python" ]; then project_python=$repo/.venv/bin/python
else project_python=python3; fi
work=${CHROOT_WORK:-/var/tmp/peer-relay-chroot}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$work/root
cache=$work/$suite-base.tar

say() { printf '\n=== chroot-apply: %s\n' "$*"; }
die() { printf 'chroot-apply: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
[ -x "$venv/bin/ansible-playbook" ] || die "no ansible in $venv (run ansible/ci-lint.sh first)"

mkdir -p "$work"

# 1. A pristine $suite root with what Raspberry Pi OS Lite has and the playbook expects (systemd,
#    python3 for Ansible), cached as a tarball so later runs start in seconds.
if [ ! -f "$cache" ]; then
    say "debootstrap $suite (cached in $cache)"
    rm -rf "$work/base"
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,procps,openssh-server \
        "$suite" "$work/base" "$mirror"
    tar -C "$work/base" -cf "$cache.partial" .
    mv "$cache.partial" "$cache"
    rm -rf "$work/base"
fi

say "fresh root in $root"
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xf "$cache"
# DNS for apt and pip inside the root.
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's trusted CAs too, so that apt and pip inside the root work behind the same
# TLS-inspecting proxy as this machine, if there is one (harmless otherwise).
mkdir -p "$root/usr/local/share/ca-certificates/test-host"
awk -v dir="$root/usr/local/share/ca-certificates/test-host" '
    /BEGIN CERTIFICATE/ { n++; file = sprintf("%s/host-%04d.crt", dir, n) }
    file { print > file }
    /END CERTIFICATE/ { close(file); file = "" }' /etc/ssl/certs/ca-certificates.crt
chroot "$root" update-ca-certificates > /dev/null 2>&1
# Package scripts must not start daemons in a chroot: they would run on this machine's kernel
# (Docker's engine among them). The standard Debian guard for chroots.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

cleanup() {
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$root"; else echo "kept $root"; fi
}
trap cleanup EXIT

# 2. The package, built from this checkout.
# Built from a copy (the files git tracks or would track), so the checkout gets no build/ litter.
say "building the wheel"
rm -rf "$work/dist" "$work/src"
mkdir -p "$work/src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src")
"$project_python" -m pip wheel --quiet --no-deps -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/peer_relay-*.whl)

# 3. An inventory naming the root, on top of the example inventory's group_vars; extra vars
#    replace what the preflight play refuses as placeholders.
cat > "$work/inventory.yml" <<EOF
peer_relay:
  hosts:
    $root:
      ansible_connection: community.general.chroot
      ansible_python_interpreter: /usr/bin/python3
EOF
cat > "$work/vars.yml" <<EOF
peer_relay_architectures: [x86_64, aarch64]
base_admin_users:
  - name: admin
    ssh_keys:
      - "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4mQmGqI5Jw0xq0v1H0ZbWm1yS9m4kZ0kEw8s2yV8Zq chroot-test"
relay_signal_number: "+447700900123"
relay_wheel: "$wheel"
relay_rules_src: "$repo/rules"
backups_dir: /var/backups/peer-relay
backups_require_mount: false
# Any well-formed digest: nothing is pulled in a chroot.
signal_cli_rest_api_image_digest: "sha256:$(printf '0%.0s' $(seq 64))"
# The sample rules' numbers are the 555-01xx fictional ones: run (and so check) refuses them
# unless the config allows placeholders.
relay_extra_config:
  allow_placeholder_numbers: true
EOF

run_play() {
    ANSIBLE_CONFIG="$ansible_dir/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 \
        "$venv/bin/ansible-playbook" \
        -i "$ansible_dir/inventory/example" -i "$work/inventory.yml" --limit "$root" \
        -e "@$work/vars.yml" "$ansible_dir/site.yml" "$@"
}

say "first run"
start=$(date +%s)
run_play | tee "$work/run1.log"
say "first run took $(( $(date +%s) - start ))s"

say "second run (must change nothing)"
start=$(date +%s)
run_play --diff | tee "$work/run2.log"
say "second run took $(( $(date +%s) - start ))s"
recap=$(grep -E "^$root +:" "$work/run2.log" | tail -n 1)
echo "$recap" | grep -Eq 'changed=0 .*failed=0' || {
    grep -E '^(changed|TASK)' "$work/run2.log" | grep -B1 '^changed' >&2 || true
    die "the second run changed something: $recap"
}

say "checking the result inside the root"
check_mode() {  # path mode owner group
    actual=$(chroot "$root" stat -c "%a %U %G" "$1")
    [ "$actual" = "$2 $3 $4" ] || die "$1 is '$actual', expected '$2 $3 $4'"
    echo "ok  $1 $actual"
}
check_mode /etc/peer-relay/key 700 root root
check_mode /etc/peer-relay/key/relay.key 600 root root
check_mode /etc/peer-relay/config.yaml 640 root peer-relay
check_mode /etc/peer-relay/rules 750 root peer-relay
for f in "$root"/etc/peer-relay/rules/*.yaml; do check_mode "${f#"$root"}" 640 root peer-relay; done
check_mode /var/lib/signal-cli-rest-api 700 signal-cli signal-cli
check_mode /var/backups/peer-relay 700 peer-relay peer-relay
check_mode /etc/ssh/sshd_config.d/10-peer-relay.conf 644 root root
check_mode /etc/nftables.conf 640 root root

for unit in multi-user.target.wants/peer-relay.service multi-user.target.wants/signal-cli-rest-api.service \
            timers.target.wants/peer-relay-backup.timer sysinit.target.wants/systemd-time-wait-sync.service \
            sysinit.target.wants/nftables.service; do
    [ -L "$root/etc/systemd/system/$unit" ] || die "$unit is not enabled"
    echo "ok  enabled $unit"
done
[ "$(readlink "$root/etc/systemd/system/swap.target")" = /dev/null ] || die "swap.target is not masked"
echo "ok  swap.target masked"
[ "$(readlink "$root/etc/systemd/system/avahi-daemon.service")" = /dev/null ] || die "avahi-daemon is not masked"
echo "ok  avahi-daemon.service masked"

chroot "$root" /opt/peer-relay/venv/bin/peer-relay check /etc/peer-relay/rules --config /etc/peer-relay/config.yaml \
    > "$work/check.log" 2>&1 || { cat "$work/check.log" >&2; die "peer-relay check failed in the root"; }
tail -n 2 "$work/check.log"
echo "ok  peer-relay check"

# The root's own systemd-analyze, run inside it: this machine's may be older than the target's
# (bookworm's 252 against trixie's 257) and then flags Debian's own units for keys it does not know.
analyze=()
if [ -x "$root/usr/bin/systemd-analyze" ]; then analyze=(chroot "$root" systemd-analyze)
elif command -v systemd-analyze >/dev/null; then analyze=(systemd-analyze --root="$root"); fi
if [ "${#analyze[@]}" -gt 0 ]; then
    out=$("${analyze[@]}" verify --man=no \
        /etc/systemd/system/peer-relay.service /etc/systemd/system/signal-cli-rest-api.service \
        /etc/systemd/system/peer-relay-backup.service /etc/systemd/system/peer-relay-backup.timer \
        /etc/systemd/system/peer-relay-failure@.service 2>&1) \
        || die "systemd-analyze verify: $out"
    [ -z "$out" ] || die "systemd-analyze verify complained: $out"
    echo "ok  systemd-analyze verify (installed units, real executables; $("${analyze[@]}" --version | head -n 1))"
    "${analyze[@]}" security --offline=yes /etc/systemd/system/peer-relay.service 2>/dev/null | tail -n 1
fi

[ -f "$root/etc/systemd/system/nftables.service.d/10-peer-relay.conf" ] || die "the nftables drop-in is missing"
echo "ok  nftables.service drop-in (a restart leaves Docker's tables alone)"
echo "ok  $(chroot "$root" /opt/peer-relay/venv/bin/python --version) in the relay's virtualenv ($suite)"

say "PASSED: $suite, applied twice, second run changed nothing"
