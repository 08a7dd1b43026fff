"""Shared by the playbook tests: where ansible/ is, the Ansible tools, running a playbook.

Templates are rendered by Ansible itself (ansible/tests/render.yml, run on this machine with an
inventory's values and the roles' defaults), never by re-implementing Jinja here.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
EXAMPLE_INVENTORY = ANSIBLE_DIR / "inventory" / "example"
ROLES = ("base", "signal_cli_rest_api", "relay", "backups")


def ansible_tool(name: str) -> str:
    """Path of an Ansible command: $ANSIBLE_VENV, then /tmp/ansible-venv (ci-lint.sh), then PATH."""
    default_venv = str(Path(tempfile.gettempdir()) / "ansible-venv")
    for venv in (os.environ.get("ANSIBLE_VENV"), default_venv):
        if venv and (Path(venv) / "bin" / name).is_file():
            return str(Path(venv) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (run ansible/ci-lint.sh, which installs it)")
    return found


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run_playbook(
    playbook: Path, *args: str, inventory: Path = EXAMPLE_INVENTORY
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    return subprocess.run(
        [ansible_tool("ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
