"""Fixtures for the playbook tests: templates rendered by Ansible itself (ansible/tests/render.yml,
run on this machine with an inventory's values and the roles' defaults).
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from playbook_support import ANSIBLE_DIR, run_playbook

Render = Callable[[dict[str, Any]], dict[str, str]]


@pytest.fixture(scope="session")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Render every role template with the example inventory plus `overrides` (extra vars)."""

    def _render(overrides: dict[str, Any]) -> dict[str, str]:
        out = tmp_path_factory.mktemp("render")
        extra = out / "extra.json"
        extra.write_text(json.dumps(overrides), encoding="utf-8")
        result = run_playbook(
            ANSIBLE_DIR / "tests" / "render.yml",
            "--tags",
            "render",
            "-e",
            f"render_file={out / 'rendered.json'}",
            "-e",
            f"@{extra}",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        rendered: dict[str, str] = json.loads((out / "rendered.json").read_text(encoding="utf-8"))
        return rendered

    return _render


@pytest.fixture(scope="session")
def rendered(render: Render) -> dict[str, str]:
    """The templates as the example inventory renders them."""
    return render({})


@pytest.fixture(scope="session")
def rendered_variant(render: Render) -> dict[str, str]:
    """The other branches: SSH from named networks, a key on a USB stick, encrypted, IPv6
    loopback, an rsync target, backups on the card."""
    return render(
        {
            "base_ssh_allowed_sources": ["192.168.1.0/24", "fd00::/8"],
            "base_ssh_port": 2222,
            "relay_key_path": "/media/relay-key/relay.key",
            "relay_key_device": "LABEL=relaykey",
            "relay_key_encrypted": True,
            "relay_heartbeat_url": "https://hc.example.org/ping/abc",
            "signal_cli_rest_api_bind_address": "::1",
            "signal_cli_rest_api_port": 8081,
            "signal_cli_rest_api_trust_new_identities": "always",
            "backups_rsync_target": "backup@nas.example.org:/srv/peer-relay",
            "backups_rsync_known_hosts": "nas.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA",
            "backups_require_mount": False,
        }
    )


@pytest.fixture(scope="session")
def rendered_backup(render: Render) -> dict[str, str]:
    """The backup script for a stand-in directory and command, which tests replace with real
    paths in their tmp_path."""
    return render(
        {
            "backups_dir": "/srv/BACKUPS",
            "backups_keep": 3,
            "backups_relay_bin": "/srv/FAKE/peer-relay",
            "backups_require_mount": False,
        }
    )
