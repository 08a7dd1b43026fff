#!/usr/bin/env bash
# CI's form of the boot test: ansible/tests/boot-test.sh under a hard wall-clock cap, so that CI
# (90 minutes for everything) cannot be run over by a slow emulator.
#
#   bash ansible/tests/boot-test-ci.sh        # .ci/run runs this; BOOT_TEST_CAP_MIN=45 by default
#
# Within BOOT_TEST_CAP_MIN minutes, counted from its start: installs what the boot test needs
# when it can (root and apt-get, and qemu not there yet), then runs the boot test with the rest
# of the cap as its budget (BOOT_TEST_BUDGET_MIN), and kills it (and the VM with it) if it is
# still running two minutes after that. Exit status:
#   0  passed; or SKIPPED (no root, no qemu, no Debian mirror: said plainly); or INCOMPLETE (the
#      cap ran out: every check made up to then passed, but this is not a pass, and it says so);
#   1  a real failure: a check on the booted system, the playbook, the lockout refusal, the
#      second run changing something.
# Environment: BOOT_TEST_CAP_MIN; BOOT_TEST_CAP_S and BOOT_TEST_GRACE_S (the cap and the two
# minutes' grace in seconds, for tests), BOOT_TEST_SCRIPT (default: boot-test.sh beside this
# file; the tests stand a stub in); everything boot-test.sh reads (BOOT_TEST_RUNS, BOOT_WORK, …).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script=${BOOT_TEST_SCRIPT:-$here/boot-test.sh}
cap_min=${BOOT_TEST_CAP_MIN:-45}
cap_s=${BOOT_TEST_CAP_S:-$(( cap_min * 60 ))}
grace_s=${BOOT_TEST_GRACE_S:-120}
started=$(date +%s)

# A fresh CI machine has no qemu: install it when this is root on Debian (apt-get update has
# been run by .ci/run). A failed install is not a failure: boot-test.sh then says SKIPPED.
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    echo "boot-test-ci: installing qemu-system-x86, qemu-utils, debootstrap, e2fsprogs, openssh-client"
    timeout $(( cap_s / 3 )) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client > /dev/null \
        || echo "boot-test-ci: could not install them"
fi

left_s=$(( cap_s - ($(date +%s) - started) ))
if [ "$left_s" -lt 1 ]; then
    echo "boot-test: INCOMPLETE: CI's cap ($cap_min min) ran out before it started. Not a pass."
    exit 0
fi
budget_min=$(( left_s / 60 ))
[ "$budget_min" -ge 1 ] || budget_min=1
rc=0
# The budget inside ends the test first, with a precise message; this hard cap acts only if the
# script overruns it. timeout signals its whole process group: the VM goes with the script.
BOOT_TEST_BUDGET_MIN=$budget_min timeout -k 30 $(( left_s + grace_s )) bash "$script" || rc=$?
case $rc in
    0) ;;
    124|137)
        echo "boot-test: INCOMPLETE: stopped by CI's hard cap ($cap_min min) after $(( $(date +%s) - started ))s. Not a pass."
        rc=0 ;;
    *) echo "boot-test-ci: the boot test FAILED (exit $rc)" ;;
esac
echo "boot-test-ci: $(( $(date +%s) - started ))s in all"
exit "$rc"
