"""ansible/tests/boot-test.sh where qemu cannot run: it says so plainly and fails nothing else
(the boot itself is run by hand for now; docs/boot-test.md)."""

import os
import shutil
import subprocess
from pathlib import Path

from playbook_support import ANSIBLE_DIR

SCRIPT = ANSIBLE_DIR / "tests" / "boot-test.sh"


def _without_qemu(tmp_path: Path) -> dict[str, str]:
    """A PATH with the few tools the script needs before it looks for qemu, and no qemu."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "date", "id", "uname", "cat"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    return {**os.environ, "PATH": str(bin_dir), "BOOT_WORK": str(tmp_path / "work")}


def test_without_qemu_it_says_skipped_and_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(
        ["/bin/bash", str(SCRIPT)], env=_without_qemu(tmp_path),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("boot-test: SKIPPED: ")
    assert not (tmp_path / "work").exists()


def test_when_required_a_skip_is_a_failure(tmp_path: Path) -> None:
    env = {**_without_qemu(tmp_path), "BOOT_TEST_REQUIRED": "1"}
    result = subprocess.run(
        ["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "SKIPPED" in result.stdout


# ansible/tests/boot-test-ci.sh: CI's cap around the boot test, driven with a stub boot test.
CI_SCRIPT = ANSIBLE_DIR / "tests" / "boot-test-ci.sh"


def _ci_env(tmp_path: Path, stub: str, **extra: str) -> dict[str, str]:
    """A PATH without apt-get (nothing is installed) and a stub standing in for boot-test.sh."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "date", "id", "timeout", "sleep", "echo", "cat"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    script = tmp_path / "stub-boot-test.sh"
    script.write_text(stub, encoding="utf-8")
    return {"PATH": str(bin_dir), "BOOT_TEST_SCRIPT": str(script), **extra}


def _run_ci(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(CI_SCRIPT)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_ci_gives_the_boot_test_the_rest_of_its_cap_as_budget(tmp_path: Path) -> None:
    env = _ci_env(tmp_path, 'echo "budget=$BOOT_TEST_BUDGET_MIN"\n', BOOT_TEST_CAP_MIN="40")
    result = _run_ci(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "budget=39" in result.stdout or "budget=40" in result.stdout


def test_ci_fails_when_the_boot_test_fails(tmp_path: Path) -> None:
    result = _run_ci(_ci_env(tmp_path, "echo 'boot-test: FAILED: a check'; exit 1\n"))
    assert result.returncode == 1
    assert "the boot test FAILED (exit 1)" in result.stdout


def test_ci_hard_cap_stops_the_test_and_its_vm_and_says_incomplete(tmp_path: Path) -> None:
    vm_pid = tmp_path / "vm.pid"
    # A boot test that ignores its budget, with a child standing in for qemu.
    stub = f"sleep 300 &\necho $! > {vm_pid}\nwait\n"
    env = _ci_env(tmp_path, stub, BOOT_TEST_CAP_S="2", BOOT_TEST_GRACE_S="1")
    result = _run_ci(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "boot-test: INCOMPLETE: stopped by CI's hard cap" in result.stdout
    assert "Not a pass" in result.stdout
    # The stand-in for qemu went with the script: the cap signals the whole process group.
    status = Path(f"/proc/{int(vm_pid.read_text(encoding='utf-8'))}/status")
    assert not status.exists() or "zombie" in status.read_text(encoding="utf-8")
