#!/usr/bin/env bash
# The test suite on Debian 13 trixie's own Python (3.13), in a throwaway debootstrap root on this
# machine (a chroot: native speed, unlike the boot test's emulated VM). Raspberry Pi OS is based on
# trixie, so this is the Python the relay runs on there.
#
#   sudo ansible/tests/suite-on-trixie.sh                          # tests/unit and tests/integration
#   sudo ansible/tests/suite-on-trixie.sh tests/e2e -k watchdog    # any pytest arguments
#
# Needs root, debootstrap, Debian's mirror and PyPI. Reuses the boot test's cached root when there
# is one (BOOT_WORK, default /var/tmp/peer-relay-boot), else debootstraps a small one (cached in
# SUITE_WORK, default /var/tmp/peer-relay-py313). KEEP=1 keeps the root.
set -euo pipefail
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${SUITE_WORK:-/var/tmp/peer-relay-py313}
boot_work=${BOOT_WORK:-/var/tmp/peer-relay-boot}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$work/root

die() { printf 'suite-on-trixie: FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot)"
mkdir -p "$work"

base=$(ls "$boot_work"/base-trixie-*.tar 2> /dev/null | head -n 1 || true)
if [ -z "$base" ]; then
    base=$work/trixie-python.tar
    if [ ! -f "$base" ]; then
        command -v debootstrap > /dev/null || die "debootstrap is not installed"
        rm -rf "$work/base"
        debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tzdata,git \
            trixie "$work/base" "$mirror" > "$work/debootstrap.log" 2>&1 || die "debootstrap failed"
        tar -C "$work/base" -cf "$base.partial" .
        mv "$base.partial" "$base"
        rm -rf "$work/base"
    fi
fi

rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xf "$base"
cleanup() {
    for fs in dev/pts dev proc; do umount "$root/$fs" 2> /dev/null || true; done
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$root"; fi
}
trap cleanup EXIT
mount --bind /proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/usr/local/share/ca-certificates/test-host"
awk -v dir="$root/usr/local/share/ca-certificates/test-host" '
    /BEGIN CERTIFICATE/ { n++; file = sprintf("%s/host-%04d.crt", dir, n) }
    file { print > file }
    /END CERTIFICATE/ { close(file); file = "" }' /etc/ssl/certs/ca-certificates.crt
chroot "$root" update-ca-certificates > /dev/null 2>&1
mkdir -p "$root/src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$root/src")

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(tests/unit tests/integration)
printf -v quoted ' %q' "${args[@]}"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt chroot "$root" /bin/sh -c "
    set -e
    cd /src
    python3 --version
    python3 -m venv /venv
    /venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
    /venv/bin/python -m pytest -q -p no:cacheprovider$quoted"
exit 0
}
