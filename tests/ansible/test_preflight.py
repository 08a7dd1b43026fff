"""The preflight play, run for real against this machine (it only reads: facts, asserts, a stat).

`--tags preflight` runs the first play and, in the later plays, only each role's argument check
(tagged "always"), so nothing is changed here; ansible_become=false keeps sudo out of it.
"""

import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playbook_support import ANSIBLE_DIR, REPO, run_playbook


def _bookworm() -> bool:
    try:
        release = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(f"VERSION_CODENAME={name}" in release for name in ("bookworm", "trixie"))


pytestmark = pytest.mark.skipif(
    not _bookworm(),
    reason="the preflight play accepts Debian trixie or bookworm only, and reads this host",
)

GOOD_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4mQmGqI5Jw0xq0v1H0ZbWm1yS9m4kZ0kEw8s2yV8Zq admin@laptop"
)


DIGEST = "sha256:" + "0123456789abcdef" * 4
STRANGER_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKb7lVbJ2V1cZkZ3dGb0c3RyYW5nZXJrZXlzdHJhbmdlcmtleQ"
    " other@box"
)


def _preflight(tmp_path: Path, overrides: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    extra = tmp_path / "extra.json"
    extra.write_text(
        json.dumps(
            {
                "ansible_connection": "local",
                "ansible_become": False,
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "peer_relay_architectures": [platform.machine(), "aarch64"],
                **overrides,
            }
        ),
        encoding="utf-8",
    )
    return run_playbook(ANSIBLE_DIR / "site.yml", "--tags", "preflight", "-e", f"@{extra}")


def _real_values(tmp_path: Path) -> dict[str, Any]:
    wheel = tmp_path / "peer_relay-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"stand-in: only its existence is checked here")
    return {
        "base_admin_users": [{"name": "admin", "ssh_keys": [GOOD_KEY]}],
        "relay_signal_number": "+447700900123",
        "relay_wheel": str(wheel),
        "relay_rules_src": str(REPO / "rules"),
        "signal_cli_rest_api_image_digest": DIGEST,
    }


def test_the_example_inventory_is_refused_until_its_placeholders_are_replaced(
    tmp_path: Path,
) -> None:
    result = _preflight(tmp_path, {})
    assert result.returncode != 0
    assert "Replace the example values in the inventory: base_admin_users" in result.stdout
    assert "relay_signal_number (a fictional" in result.stdout
    # It stopped before any role's play.
    assert "Harden the base system" not in result.stdout


def test_real_values_pass_and_every_role_accepts_its_inputs(tmp_path: Path) -> None:
    result = _preflight(tmp_path, _real_values(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    for role in ("base", "signal_cli_rest_api", "relay", "backups"):
        assert f"{role} : Validating arguments against arg spec" in result.stdout
    assert "failed=0" in result.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"relay_signal_number": 447700900123}, "quote the number"),
        ({"base_admin_users": [{"name": "admin", "ssh_keys": ["my password"]}]},
         "are not OpenSSH public keys"),
        ({"relay_wheel": "/nonexistent/peer_relay.whl"}, "relay_wheel a built wheel"),
        ({"signal_cli_rest_api_image_digest": ""}, "Set signal_cli_rest_api_image_digest"),
        ({"signal_cli_rest_api_image_digest": "sha256:ab"}, "Set signal_cli_rest_api_image_digest"),
        ({"signal_cli_rest_api_pull": False}, "is for the boot test only"),
    ],
)  # fmt: skip
def test_mistakes_stop_the_play_with_a_message_that_names_them(
    change: dict[str, Any], message: str, tmp_path: Path
) -> None:
    result = _preflight(tmp_path, {**_real_values(tmp_path), **change})
    assert result.returncode != 0
    assert message in result.stdout


def test_the_boot_test_inventory_may_run_an_unpinned_local_image(tmp_path: Path) -> None:
    values = {**_real_values(tmp_path), "signal_cli_rest_api_image_digest": ""}
    values.update(peer_relay_test_inventory=True, signal_cli_rest_api_pull=False)
    result = _preflight(tmp_path, values)
    assert result.returncode == 0, result.stdout + result.stderr


# The lockout check looks at the SSH connection; here the play runs locally, so the connecting
# user, the controller's keys and the client address are handed in as the check would find them.
def _as_if_over_ssh(user: str, keys: list[str], source: str = "192.168.1.20") -> dict[str, Any]:
    return {
        "peer_relay_check_lockout": True,
        "peer_relay_connecting_user": user,
        "peer_relay_controller_keys": [key.split()[1] for key in keys],
        "peer_relay_connecting_from": source,
    }


def test_connecting_with_a_listed_user_and_key_passes(tmp_path: Path) -> None:
    values = {**_real_values(tmp_path), **_as_if_over_ssh("admin", [STRANGER_KEY, GOOD_KEY])}
    result = _preflight(tmp_path, values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Check that the account and key you connect with will still be let in" in result.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_as_if_over_ssh("admin", [STRANGER_KEY]), "none of the SSH keys this controller offers"),
        (_as_if_over_ssh("pi", [GOOD_KEY]), "you log in as pi, who is not in base_admin_users"),
        ({**_as_if_over_ssh("admin", [GOOD_KEY], "203.0.113.9"),
          "base_ssh_allowed_sources": ["192.168.1.0/24"]},
         "your address 203.0.113.9 is not in base_ssh_allowed_sources"),
    ],
)  # fmt: skip
def test_an_inventory_that_would_lock_the_admin_out_stops_before_any_change(
    change: dict[str, Any], message: str, tmp_path: Path
) -> None:
    result = _preflight(tmp_path, {**_real_values(tmp_path), **change})
    assert result.returncode != 0
    assert "would lock you out" in result.stdout
    assert message in result.stdout
    assert "Harden the base system" not in result.stdout
