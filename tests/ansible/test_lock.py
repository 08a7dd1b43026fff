"""The hashed lock file the relay role installs from (ansible/lock-requirements.sh makes it): it
pins every dependency pyproject.toml names, inside the range pyproject.toml allows, each with its
hashes, and names no index or local folder."""

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from playbook_support import ANSIBLE_DIR, REPO

LOCK = ANSIBLE_DIR / "roles" / "relay" / "files" / "requirements.lock"


def _pins() -> dict[str, tuple[Version, list[str]]]:
    pins: dict[str, tuple[Version, list[str]]] = {}
    current = ""
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        pin = re.match(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", line)
        if pin:
            current = canonicalize_name(pin.group(1))
            pins[current] = (Version(pin.group(2)), [])
        hashed = re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line)
        if hashed:
            pins[current][1].append(hashed.group(1))
    return pins


def test_every_dependency_is_pinned_in_range_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    pins = _pins()
    for spec in project["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in the lock: run ansible/lock-requirements.sh"
        version, _ = pins[name]
        assert requirement.specifier.contains(version), f"{name}=={version} is outside {spec}"
    for name, (_, hashes) in pins.items():
        assert hashes, f"{name} has no hash"


def test_the_lock_names_no_index_or_local_folder() -> None:
    text = LOCK.read_text(encoding="utf-8")
    for option in ("--index-url", "--extra-index-url", "--find-links", "-f ", "file:"):
        assert option not in text
