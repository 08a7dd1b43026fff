#!/usr/bin/env bash
# Boot test: the real playbook applied over SSH to a Debian VM booted with systemd as PID 1, then
# checked on the running system (ansible/tests/boot-checks.sh, run inside the VM as root).
#
#   sudo ansible/tests/boot-test.sh          # KEEP=1 leaves the VM running and the work dir in place
#
# What it does, in order (docs/boot-test.md has a transcript and what it does not cover):
#  1. image (cached in $BOOT_WORK, keyed by what goes into it): debootstrap of Debian $SUITE
#     (default trixie, Python 3.13) with a kernel, systemd, sshd, Docker and the packages the
#     playbook installs (the VM has no network: apt has no sources in it), the relay's Python
#     dependencies downloaded as wheels from the hashed lock file, an `admin` user with a test
#     SSH key and passwordless sudo (as Raspberry Pi Imager makes it), a swap file in use, and a
#     stand-in image for signal-cli-rest-api: the project's simulator (python -m relay.sim) in a
#     container image imported into Docker (Docker Hub is not reachable here);
#  2. boots it under qemu (TCG; KVM only with BOOT_ACCEL=kvm), with two small extra disks
#     labelled relaykey and relaybackup standing in for USB sticks, SSH forwarded to a free port
#     on 127.0.0.1 and no other network (slirp restrict=on: the VM reaches nothing outside);
#  3. runs the preflight once with a key the VM would not accept (must refuse: no lockout), then
#     the whole playbook twice (the first through Mitogen, the second plain, by default; the
#     second run must change nothing);
#  4. runs boot-checks.sh in the VM (the relay's readiness and sandbox, a member answered end to
#     end, kill -9, the watchdog, exit 78 told to the admin, nftables and Docker, journald, swap,
#     backup and restore, the off-card mounts, the container's limits).
#
# Exit 0: passed. Exit 1: failed. Where qemu cannot run at all (not installed, not root), it says
# so plainly and exits 0 with "SKIPPED" unless BOOT_TEST_REQUIRED=1; so does a failed download
# while building the image. With a budget (CI: boot-test-ci.sh) it exits 0 with "INCOMPLETE" when
# the budget runs out.
# Environment: BOOT_WORK (default /var/tmp/peer-relay-boot), ANSIBLE_VENV (default
# /tmp/ansible-venv, made by ansible/ci-lint.sh), PROJECT_PYTHON (default: .venv/bin/python of the
# checkout, else the Ansible virtualenv's; builds the wheel), DEBIAN_MIRROR, SUITE (trixie or
# bookworm), BOOT_MEMORY (MB, default 1536), BOOT_ACCEL (tcg or kvm), BOOT_TEST_RUNS (how the first
# and the second playbook run connect; default "mitogen plain"), BOOT_TEST_BUDGET_MIN,
# BOOT_TEST_REQUIRED, KEEP, BOOT_BUILD_ONLY=1 (build and cache the image, then stop).
set -euo pipefail
# The whole script is one block, read before it runs: editing the file during a run cannot change it.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ansible_dir=$(cd "$here/.." && pwd)
repo=$(cd "$ansible_dir/.." && pwd)
venv=${ANSIBLE_VENV:-/tmp/ansible-venv}
work=${BOOT_WORK:-/var/tmp/peer-relay-boot}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${SUITE:-trixie}
memory=${BOOT_MEMORY:-1536}
accel=${BOOT_ACCEL:-tcg}
# Builds the wheel: the checkout's virtualenv, else the Ansible one (both have pip).
if [ -z "${PROJECT_PYTHON:-}" ]; then
    if [ -x "$repo/.venv/bin/python" ]; then PROJECT_PYTHON=$repo/.venv/bin/python; else PROJECT_PYTHON=$venv/bin/python; fi
fi
lock=$ansible_dir/roles/relay/files/requirements.lock
started=$(date +%s)

say() { printf '\n=== boot-test [%4ss]: %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { printf 'boot-test: FAILED: %s\n' "$*" >&2; exit 1; }
skip() {
    printf 'boot-test: SKIPPED: %s\n' "$*"
    [ "${BOOT_TEST_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}
# BOOT_TEST_BUDGET_MIN (CI sets it): the test stops when its time is up, says so, and exits 0
# unless BOOT_TEST_REQUIRED=1. Under emulation on a busy machine the whole test can take longer
# than CI allows; a slow emulator is not a failure of the playbook, and everything checked before
# the budget ran out passed (any failure exits 1 at once).
budget_s=$(( ${BOOT_TEST_BUDGET_MIN:-0} * 60 ))
left() {
    if [ "$budget_s" -eq 0 ]; then echo 0; return; fi
    local rest=$(( budget_s - ($(date +%s) - started) ))
    [ "$rest" -gt 1 ] && echo "$rest" || echo 1
}
# fd 3: the script's own output, which a playbook run's redirection to its log does not capture.
exec 3>&1
incomplete() {
    printf '\nboot-test: INCOMPLETE: its time budget (%s min) ran out during %s, after %ss; every check up to there passed. Not a pass: run it on a quieter machine (docs/boot-test.md).\n' \
        "${BOOT_TEST_BUDGET_MIN}" "$1" "$(( $(date +%s) - started ))" >&3
    [ "${BOOT_TEST_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}
# budgeted PHASE COMMAND…: run COMMAND within what is left of the budget (no limit without one).
budgeted() {
    local phase=$1 rc=0
    shift
    timeout "$(left)" "$@" || rc=$?
    if [ "$rc" -eq 124 ] && [ "$budget_s" -gt 0 ]; then incomplete "$phase"; fi
    return "$rc"
}

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, mkfs), and this is not root"
for tool in qemu-system-x86_64 qemu-img debootstrap mkfs.ext4 ssh ssh-keygen; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client)"
done
[ "$(uname -m)" = x86_64 ] || skip "the boot test builds an amd64 VM and runs on x86_64 only"
[ -x "$venv/bin/ansible-playbook" ] || die "no ansible in $venv (run ansible/ci-lint.sh first)"
# BOOT_TEST_RUNS: how the first and the second playbook run connect, "plain" (as an admin runs
# it) or "mitogen" (faster under emulation; see run_play). By default the first run, which
# changes everything, goes through Mitogen, and the second, which must change nothing, is plain:
# every module then also runs once as plain Ansible runs it, on the configured system.
read -r run1_transport run2_transport <<< "${BOOT_TEST_RUNS:-mitogen plain}"
for transport in "$run1_transport" "$run2_transport"; do
    case $transport in plain|mitogen) ;; *) die "BOOT_TEST_RUNS must be two of plain and mitogen, e.g. \"mitogen plain\"" ;; esac
done
mitogen_dir=
if [ "$run1_transport" = mitogen ] || [ "$run2_transport" = mitogen ]; then
    mitogen_dir=$("$venv/bin/python" -c 'import os, ansible_mitogen; print(os.path.dirname(ansible_mitogen.__file__))' 2>/dev/null) \
        || die "no Mitogen in $venv (run ansible/ci-lint.sh, or BOOT_TEST_RUNS=\"plain plain\")"
fi
case $suite in trixie|bookworm) ;; *) die "SUITE must be trixie or bookworm" ;; esac

mkdir -p "$work"
chmod 0700 "$work"

# A command in a root, with a clean environment (this machine's pip settings stay out of it).
in_root() { local dir=$1; shift; env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 chroot "$dir" "$@"; }

# --- 1. The image ------------------------------------------------------------------------------

# Everything the playbook would install from the network is installed here, at build time: the VM
# has no network and apt has no sources in it (an `apt-get update` with no sources succeeds).
packages=linux-image-amd64,systemd-sysv,systemd-timesyncd,udev,dbus,kmod,openssh-server,sudo
packages+=,python3,python3-apt,python3-venv,python3-packaging,python3-requests,nftables,iptables,iproute2,procps
packages+=,docker.io,curl,unattended-upgrades,apt-listchanges,ca-certificates,tzdata,e2fsprogs,netbase
# Since trixie Docker's command line is a package of its own.
[ "$suite" = bookworm ] || packages+=,docker-cli
base_key=$(printf '%s\n' "$suite" "$packages" "$mirror" | cat - "$lock" | sha256sum | cut -c1-16)
base=$work/base-$suite-$base_key.tar

if [ ! -f "$base" ]; then
    say "debootstrap $suite (cached in $base)"
    rm -rf "$work/base"
    # A failed download is not a failure of the playbook: said plainly, and SKIPPED (exit 0 unless
    # BOOT_TEST_REQUIRED=1), like a machine without qemu.
    budgeted "the image's debootstrap" debootstrap --variant=minbase --include="$packages" "$suite" "$work/base" "$mirror" \
        > "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; skip "could not build the VM image: debootstrap of $suite from $mirror failed (its last lines above; network or mirror?)"; }
    say "downloading the relay's Python dependencies (hashed lock file) as wheels for the VM's Python"
    # pip runs inside the new root (its own Python and platform), with this machine's DNS and CAs.
    cp /etc/resolv.conf "$work/base/etc/resolv.conf"
    mkdir -p "$work/base/usr/local/share/ca-certificates/test-host"
    awk -v dir="$work/base/usr/local/share/ca-certificates/test-host" '
        /BEGIN CERTIFICATE/ { n++; file = sprintf("%s/host-%04d.crt", dir, n) }
        file { print > file }
        /END CERTIFICATE/ { close(file); file = "" }' /etc/ssl/certs/ca-certificates.crt
    chroot "$work/base" update-ca-certificates > /dev/null 2>&1
    cp "$lock" "$work/base/tmp/requirements.lock"
    budgeted "the download of the relay's wheels" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        chroot "$work/base" /bin/sh -c '
        set -e
        python3 -m venv /tmp/dl
        /tmp/dl/bin/pip download --quiet --disable-pip-version-check --require-hashes --only-binary=:all: \
            -r /tmp/requirements.lock -d /var/cache/peer-relay-wheels
        rm -rf /tmp/dl /tmp/requirements.lock' \
        || skip "could not build the VM image: pip could not download the locked wheels (network or index?)"
    rm -rf "$work/base/usr/local/share/ca-certificates/test-host"
    chroot "$work/base" update-ca-certificates --fresh > /dev/null 2>&1
    tar -C "$work/base" -cf "$base.partial" .
    mv "$base.partial" "$base"
    rm -rf "$work/base"
fi

# The simulator's image depends on the relay's code (relay.sim imports relay); the disk image is
# rebuilt when that changes, from the cached base (about two minutes).
code_key=$(cd "$repo" && { echo "image recipe 2"; git ls-files -s relay pyproject.toml; git diff HEAD -- relay pyproject.toml; } | sha256sum | cut -c1-16)
image=$work/disk-$suite-$base_key-$code_key.raw
kernel=$work/vmlinuz-$suite-$base_key
initrd=$work/initrd-$suite-$base_key

say "building the relay's wheel"
rm -rf "$work/dist" "$work/src"
mkdir -p "$work/src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src")
"$PROJECT_PYTHON" -m pip wheel --quiet --no-deps -w "$work/dist" "$work/src" > /dev/null
wheel=$(ls "$work"/dist/peer_relay-*.whl)

# A test SSH key for the admin, made once per work dir.
[ -f "$work/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C boot-test-admin -f "$work/id_ed25519"
[ -f "$work/stranger_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C boot-test-stranger -f "$work/stranger_ed25519"

if [ ! -f "$image" ]; then
    say "making the disk image from the cached root"
    root=$work/root
    rm -rf "$root"
    mkdir -p "$root"
    tar -C "$root" -xf "$base"
    echo peer-relay-boot-test > "$root/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 peer-relay-boot-test\n' > "$root/etc/hosts"
    # The root file system, and a swap file in use as on a fresh Raspberry Pi OS (the playbook
    # must switch it off).
    printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n/var/swap none swap sw 0 0\n' > "$root/etc/fstab"
    # Not zeros: mkfs.ext4 -d would copy them as a hole, and swapon refuses a file with holes.
    dd if=/dev/urandom of="$root/var/swap" bs=1M count=64 status=none
    chmod 0600 "$root/var/swap"
    mkswap "$root/var/swap" > /dev/null
    # DHCP from qemu's user network, by systemd-networkd.
    mkdir -p "$root/etc/systemd/network"
    printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' > "$root/etc/systemd/network/10-wired.network"
    ln -sf /usr/lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
    # No apt sources: nothing to reach, and `apt-get update` then succeeds with nothing to do.
    rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
    : > "$root/etc/resolv.conf"
    # The first user, as Raspberry Pi Imager creates it: key login, passwordless sudo.
    chroot "$root" useradd --create-home --shell /bin/bash --groups sudo admin
    install -d -m 0700 -o 1000 -g 1000 "$root/home/admin/.ssh"
    install -m 0600 -o 1000 -g 1000 "$work/id_ed25519.pub" "$root/home/admin/.ssh/authorized_keys"
    echo 'admin ALL=(ALL) NOPASSWD: ALL' > "$root/etc/sudoers.d/010_admin-nopasswd"
    chmod 0440 "$root/etc/sudoers.d/010_admin-nopasswd"
    passwd -R "$root" -l root > /dev/null
    # The stand-in for signal-cli-rest-api: the simulator, in a container image made from this
    # root's own Python (imported into Docker after the boot, below).
    cp "$wheel" "$root/tmp/"
    in_root "$root" /bin/sh -c '
        set -e
        python3 -m venv /opt/sim
        /opt/sim/bin/pip install --quiet --disable-pip-version-check --no-index \
            --find-links /var/cache/peer-relay-wheels /tmp/peer_relay-*.whl
        rm -f /tmp/peer_relay-*.whl'
    (cd "$root" && tar -cf var/cache/peer-relay-sim.tar --exclude='__pycache__' \
        ./bin ./lib ./lib64 ./sbin ./etc ./usr/bin/python3 ./usr/bin/python3.* ./usr/lib/python3.* \
        ./usr/lib/x86_64-linux-gnu ./usr/lib64 ./usr/share/zoneinfo ./opt/sim)
    rm -rf "$root/opt/sim"
    # Kernel and initrd for qemu's direct boot.
    cp "$root"/boot/vmlinuz-* "$kernel"
    cp "$root"/boot/initrd.img-* "$initrd"
    rm -f "$image.partial"
    mkfs.ext4 -q -F -L peer-relay-root -d "$root" "$image.partial" 6G
    mv "$image.partial" "$image"
    rm -rf "$root"
fi
# Older images and roots of this work dir are of no further use.
find "$work" -maxdepth 1 \( -name 'disk-*.raw' -o -name 'base-*.tar' -o -name 'vmlinuz-*' -o -name 'initrd-*' \) \
    ! -name "$(basename "$image")" ! -name "$(basename "$base")" ! -name "$(basename "$kernel")" \
    ! -name "$(basename "$initrd")" -delete

if [ "${BOOT_BUILD_ONLY:-0}" = 1 ]; then
    say "image ready: $image (BOOT_BUILD_ONLY=1: not booting it)"
    exit 0
fi

# --- 2. Boot -----------------------------------------------------------------------------------

run=$work/run
rm -rf "$run"
mkdir -p "$run"
qemu-img create -q -f qcow2 -F raw -b "$image" "$run/disk.qcow2"
mkfs.ext4 -q -F -L relaykey "$run/key.raw" 32M
mkfs.ext4 -q -F -L relaybackup "$run/backup.raw" 64M
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

vm_pid=
cleanup() {
    if [ -n "$vm_pid" ] && [ "${KEEP:-0}" != 1 ]; then
        kill "$vm_pid" 2>/dev/null || true
        wait "$vm_pid" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept: VM on ssh -p $port -i $work/id_ed25519 admin@127.0.0.1 (pid $vm_pid), $run"
    fi
}
trap cleanup EXIT

if [ "$accel" = kvm ]; then accel_args=(-accel kvm -cpu host); else accel_args=(-accel tcg,thread=multi); fi
say "booting $suite under qemu ($accel, ${memory} MB, 2 CPUs); SSH on 127.0.0.1:$port"
qemu-system-x86_64 "${accel_args[@]}" -m "$memory" -smp 2 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1" \
    -drive "file=$run/disk.qcow2,if=virtio,format=qcow2" \
    -drive "file=$run/key.raw,if=virtio,format=raw" \
    -drive "file=$run/backup.raw,if=virtio,format=raw" \
    -netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22" \
    -device virtio-net-pci,netdev=net0 \
    -serial "file:$run/console.log" -monitor none \
    < /dev/null > "$run/qemu.log" 2>&1 &
vm_pid=$!

ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
          -o ConnectTimeout=10 -o BatchMode=yes -i "$work/id_ed25519" -p "$port")
vm() { ssh "${ssh_opts[@]}" admin@127.0.0.1 "$@"; }

deadline=$(( $(date +%s) + 900 ))
until vm true 2>/dev/null; do
    kill -0 "$vm_pid" 2>/dev/null || { tail -n 40 "$run/console.log" >&2; cat "$run/qemu.log" >&2; die "qemu exited"; }
    [ "$budget_s" -eq 0 ] || [ "$(left)" -gt 1 ] || incomplete "the boot"
    [ "$(date +%s)" -lt "$deadline" ] || { tail -n 40 "$run/console.log" >&2; die "no SSH after 15 minutes"; }
    sleep 5
done
say "booted: $(vm 'systemctl is-system-running --wait 2>/dev/null; . /etc/os-release; echo "$PRETTY_NAME, systemd $(systemctl --version | head -n1 | cut -d" " -f2), $(python3 --version)"')"
# The VM has no network, so no NTP: say the clock is synchronised, which is what
# systemd-time-wait-sync (and so time-sync.target, which the relay waits for) looks for.
vm 'sudo install -d -o systemd-timesync -g systemd-timesync /run/systemd/timesync && sudo touch /run/systemd/timesync/synchronized'
# The stand-in image, as `docker pull` would have left it. SIGINT stops it: the simulator is PID 1
# in the container, and PID 1 ignores a SIGTERM it has no handler for.
vm 'sudo docker image rm --force peer-relay-sim:test > /dev/null 2>&1; sudo docker import \
        --change "CMD [\"/opt/sim/bin/python\", \"-m\", \"relay.sim\", \"--host\", \"0.0.0.0\", \"--port\", \"8080\", \"--account\", \"+447911123400\"]" \
        --change "ENV PYTHONDONTWRITEBYTECODE=1" --change "STOPSIGNAL SIGINT" \
        /var/cache/peer-relay-sim.tar peer-relay-sim:test > /dev/null' || die "could not import the simulator's image"

# --- 3. The playbook ----------------------------------------------------------------------------

cat > "$run/inventory.yml" <<EOF
peer_relay:
  hosts:
    boot-test-vm:
      ansible_host: 127.0.0.1
      ansible_port: $port
      ansible_user: admin
      ansible_ssh_private_key_file: $work/id_ed25519
      ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
EOF
mkdir -p "$run/rules"
# Rules with well-formed numbers (the relay refuses the samples' made-up ones). No message
# leaves the VM: they only ever reach the simulator.
cat > "$run/rules/members.yaml" <<'EOF'
members:
  alice:
    number: "+447911123401"
    admin: true
    buddies: [bob]
  bob:
    number: "+447911123402"
escalation:
  missed:
    - buddies: true
    - admin: true
  sos:
    - buddies: true
      admin: true
EOF
cat > "$run/vars.yml" <<EOF
peer_relay_architectures: [x86_64, aarch64]
base_admin_users:
  - name: admin
    ssh_keys:
      - "$(cat "$work/id_ed25519.pub")"
relay_signal_number: "+447911123400"
relay_admin: alice
relay_wheel: "$wheel"
relay_rules_src: "$run/rules"
# Wheels were put in the image from the lock file's hashes; the VM has no index to reach.
relay_pip_extra_args: "--no-index --find-links /var/cache/peer-relay-wheels"
relay_watchdog_sec: 20
relay_heartbeat_url: "http://127.0.0.1:8080/v1/health"
relay_heartbeat_every: 1min
# The key and the backups on their own disks (the USB sticks of docs/deploy.md).
relay_key_path: /media/relay-key/relay.key
relay_key_device: LABEL=relaykey
backups_dir: /media/peer-relay-backup
backups_device: LABEL=relaybackup
# The test-only switch: signal-cli-rest-api is stood in for by the simulator's image, already
# loaded into Docker (no pull, no digest). Refused unless peer_relay_test_inventory is true.
peer_relay_test_inventory: true
signal_cli_rest_api_image: peer-relay-sim
signal_cli_rest_api_version: test
signal_cli_rest_api_pull: false
signal_cli_rest_api_read_only: true
# The simulator serves signal-cli-rest-api's HTTP API and WebSocket, not the reviewed entrypoint
# that gives signal-cli its own receive socket (issue 15's role setting; unknown, and so unused,
# where that setting does not exist yet).
signal_cli_rest_api_receive_socket: false
EOF

# run_play TRANSPORT ARGS…: site.yml over SSH, either as an admin runs it ("plain": one Python
# process per task on the target) or through Mitogen's strategy ("mitogen": one interpreter kept
# on the target for the whole run). Under emulation a plain task costs 10 s or more, most of it
# Python starting and compiling Ansible's module code afresh for every task; Mitogen does that
# once. The modules and the playbook are the same either way.
run_play() {
    local transport=$1
    shift
    local strategy=()
    if [ "$transport" = mitogen ]; then
        strategy=(ANSIBLE_STRATEGY_PLUGINS="$mitogen_dir/plugins/strategy" ANSIBLE_STRATEGY=mitogen_linear
                  ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3)
    fi
    budgeted "a playbook run" env ANSIBLE_CONFIG="$ansible_dir/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=0 \
        ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks "${strategy[@]}" \
        "$venv/bin/ansible-playbook" -i "$ansible_dir/inventory/example" -i "$run/inventory.yml" \
        --limit boot-test-vm -e "@$run/vars.yml" "$ansible_dir/site.yml" "$@"
}

say "preflight with an admin key that is not the one connecting (must refuse before touching sshd)"
stranger=$(cat "$work/stranger_ed25519.pub")
if run_play plain --tags preflight -e "{\"base_admin_users\": [{\"name\": \"admin\", \"ssh_keys\": [\"$stranger\"]}]}" \
        > "$run/lockout.log" 2>&1; then
    cat "$run/lockout.log"; die "the preflight accepted an inventory that would lock the admin out"
fi
grep -q 'would lock you out' "$run/lockout.log" || { cat "$run/lockout.log"; die "the lockout refusal did not say why"; }
grep -A3 'would lock you out' "$run/lockout.log" | head -n 4
echo "ok  refused: the connecting key is not among base_admin_users' keys"

say "first run ($run1_transport)"
t0=$(date +%s)
run_play "$run1_transport" > "$run/run1.log" 2>&1 || { tail -n 60 "$run/run1.log"; die "the first run failed"; }
# The recap, then profile_tasks' slowest tasks.
sed -n '/^PLAY RECAP/,$p' "$run/run1.log" | grep -v -e '^$' -e Deprecation -e 'from cryptography' | head -n 16
say "first run took $(( $(date +%s) - t0 ))s"

say "second run ($run2_transport; must change nothing)"
t0=$(date +%s)
run_play "$run2_transport" --diff > "$run/run2.log" 2>&1 || { tail -n 60 "$run/run2.log"; die "the second run failed"; }
say "second run took $(( $(date +%s) - t0 ))s"
recap=$(grep -E '^boot-test-vm +:' "$run/run2.log" | tail -n 1)
echo "$recap"
grep -c '^TASK' "$run/run2.log" | sed 's/^/tasks in the second run: /'
echo "$recap" | grep -Eq 'changed=0 .*failed=0' || {
    grep -E '^(changed|TASK)' "$run/run2.log" | grep -B1 '^changed' >&2 || true
    die "the second run changed something"
}

# --- 4. The booted system ------------------------------------------------------------------------

say "checking the booted system"
budgeted "the checks on the booted system" ssh "${ssh_opts[@]}" admin@127.0.0.1 "sudo bash -s" \
    < "$here/boot-checks.sh" || die "a check on the booted system failed (above)"

say "PASSED in $(( $(date +%s) - started ))s ($suite, $accel)"
exit 0
}
