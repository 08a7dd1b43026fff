"""The playbook's shape (STYLE.md point 19), read from the YAML files as Ansible would load them.

Fail-fast plays, a preflight play first, every task named and calling a module by its full name,
role variables prefixed, every default documented in the role's argument spec.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playbook_support import ANSIBLE_DIR, ROLES, load_yaml

SITE = ANSIBLE_DIR / "site.yml"

# Keys a task may carry besides its module; anything else is the module.
TASK_KEYWORDS = {
    "name", "when", "loop", "loop_control", "register", "notify", "listen", "tags", "vars",
    "become", "become_user", "changed_when", "failed_when", "until", "retries", "delay",
    "no_log", "ignore_errors", "check_mode", "diff", "environment", "delegate_to", "run_once",
    "args", "block", "rescue", "always", "with_items", "throttle",
}  # fmt: skip
FQCN_PREFIXES = ("ansible.builtin.", "ansible.posix.", "community.general.", "community.docker.",
                 "community.crypto.")  # fmt: skip


def _task_files() -> list[Path]:
    files = [SITE]
    for role in ROLES:
        for sub in ("tasks", "handlers"):
            files.extend(sorted((ANSIBLE_DIR / "roles" / role / sub).glob("*.yml")))
    return files


def _tasks(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items or []:
        yield item
        for nested in ("block", "rescue", "always"):
            yield from _tasks(item.get(nested, []))


def _all_tasks() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in _task_files():
        data = load_yaml(path)
        if path == SITE:
            for play in data:
                for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                    for task in _tasks(play.get(section, [])):
                        yield path, task
        else:
            for task in _tasks(data):
                yield path, task


def test_every_play_stops_all_hosts_at_the_first_error() -> None:
    plays = load_yaml(SITE)
    assert len(plays) >= 5
    for play in plays:
        assert play.get("any_errors_fatal") is True, play["name"]


def test_the_first_play_is_a_preflight_that_changes_nothing() -> None:
    first = load_yaml(SITE)[0]
    assert "preflight" in first["tags"]
    assert first["become"] is False
    assert "roles" not in first
    modules = {next(k for k in task if k not in TASK_KEYWORDS) for task in first["tasks"]}
    # Only checks and facts: nothing that writes to the box.
    assert modules <= {"ansible.builtin.assert", "ansible.builtin.stat", "ansible.builtin.set_fact"}


def test_the_roles_run_in_order_after_the_preflight() -> None:
    plays = load_yaml(SITE)
    order = [role["role"] for play in plays for role in play.get("roles", [])]
    assert order == list(ROLES)


def test_every_task_is_named_and_calls_its_module_by_full_name() -> None:
    seen = 0
    for path, task in _all_tasks():
        where = f"{path.relative_to(ANSIBLE_DIR)}: {task.get('name', task)}"
        assert task.get("name"), f"unnamed task in {where}"
        assert task["name"][0].isupper(), where
        if "block" in task:
            continue
        modules = [k for k in task if k not in TASK_KEYWORDS]
        assert len(modules) == 1, where
        assert modules[0].startswith(FQCN_PREFIXES), f"{where}: {modules[0]} is not an FQCN"
        seen += 1
    assert seen > 60


@pytest.mark.parametrize("role", ROLES)
def test_role_variables_are_prefixed_and_documented(role: str) -> None:
    role_dir = ANSIBLE_DIR / "roles" / role
    defaults = load_yaml(role_dir / "defaults" / "main.yml")
    role_vars = load_yaml(role_dir / "vars" / "main.yml") if (role_dir / "vars").exists() else {}
    spec = load_yaml(role_dir / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name in [*defaults, *role_vars, *spec]:
        assert name.startswith(f"{role}_"), f"{role}: {name} lacks the role prefix"
    # Every default is documented in the spec; every option has a default or is required.
    assert set(defaults) <= set(spec), set(defaults) - set(spec)
    for name, option in spec.items():
        assert option.get("description"), f"{role}: {name} has no description"
        if name not in defaults:
            assert option.get("required") is True, f"{role}: {name} has no default"
        else:
            assert not option.get("required"), f"{role}: {name} is required and has a default"
    # The spec states the same defaults as defaults/main.yml (templated ones aside).
    for name, value in defaults.items():
        if isinstance(value, str) and "{{" in value:
            continue
        assert spec[name].get("default") == value, f"{role}: {name}"


@pytest.mark.parametrize("role", ROLES)
def test_each_default_is_explained_in_a_comment(role: str) -> None:
    lines = (ANSIBLE_DIR / "roles" / role / "defaults" / "main.yml").read_text().splitlines()
    for number, line in enumerate(lines):
        if line and not line[0].isspace() and not line.startswith(("#", "---")):
            above = lines[number - 1]
            # Either a comment right above, or part of a group a comment introduces.
            assert above.startswith("#") or (above and not above.startswith("#")), (
                f"{role} defaults line {number + 1} ({line.split(':')[0]}) has no comment"
            )


def test_the_example_inventory_sets_every_required_role_input() -> None:
    values = load_yaml(ANSIBLE_DIR / "inventory" / "example" / "group_vars" / "peer_relay.yml")
    for role in ROLES:
        spec = load_yaml(ANSIBLE_DIR / "roles" / role / "meta" / "argument_specs.yml")
        for name, option in spec["argument_specs"]["main"]["options"].items():
            if option.get("required"):
                assert name in values, f"the example inventory lacks {name}"
