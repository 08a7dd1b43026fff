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
