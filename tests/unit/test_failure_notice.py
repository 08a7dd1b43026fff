"""What `peer-relay failure-notice` decides and says: which stops are told, a crash loop told
once, and a message that says what stopped and what to do (plain values, no I/O)."""

from pathlib import Path

import pytest

from relay.admin.failure_notice import Failure, admin_recipient, compose, decide, route_from_config

RELAY = "peer-relay.service"


def _failure(result: str, code: str, status: str, unit: str = RELAY) -> Failure:
    return Failure(unit=unit, result=result, exit_code=code, exit_status=status)


@pytest.mark.parametrize(
    ("failure", "kind", "how"),
    [
        (_failure("exit-code", "exited", "78"), "config", "exit 78"),
        (_failure("exit-code", "exited", "77"), "key", "exit 77"),
        (_failure("exit-code", "exited", "65"), "schema", "exit 65"),
        (_failure("exit-code", "exited", "243"), "key", "exit 243"),
        (_failure("exit-code", "exited", "70"), "crash", "exit 70"),
        (_failure("signal", "killed", "KILL"), "crash", "signal KILL"),
        (_failure("watchdog", "killed", "ABRT"), "watchdog", "signal ABRT"),
        (_failure("core-dump", "dumped", "SEGV"), "crash", "signal SEGV"),
        (_failure("exit-code", "exited", "1", "peer-relay-backup.service"), "backup", "exit 1"),
        (_failure("resources", "", ""), "crash", "resources"),
    ],
)  # fmt: skip
def test_each_stop_is_named_by_what_systemd_says(failure: Failure, kind: str, how: str) -> None:
    assert failure.kind == kind
    assert failure.how == how


def test_a_crash_loop_is_told_once_and_a_later_crash_again() -> None:
    crash = _failure("signal", "killed", "KILL")
    told = []
    state: dict[str, object] = {}
    # Six crashes, five seconds apart (RestartSec=5): one loop.
    for n in range(6):
        tell, state = decide(crash, 1000.0 + 5 * n, state, quiet=1800)
        told.append(tell)
    assert told == [True, False, False, False, False, False]
    # The relay then ran for an hour: the next crash starts a new loop.
    tell, state = decide(crash, 1025.0 + 3600, state, quiet=1800)
    assert tell


def test_a_watchdog_kill_inside_a_crash_loop_is_not_told_again() -> None:
    tell, state = decide(_failure("signal", "killed", "KILL"), 0.0, {}, quiet=1800)
    assert tell
    tell, state = decide(_failure("watchdog", "killed", "ABRT"), 60.0, state, quiet=1800)
    assert not tell


@pytest.mark.parametrize("status", ["65", "77", "78"])
def test_a_stop_systemd_will_not_retry_is_always_told(status: str) -> None:
    _, state = decide(_failure("signal", "killed", "KILL"), 0.0, {}, quiet=1800)
    tell, state = decide(_failure("exit-code", "exited", status), 10.0, state, quiet=1800)
    assert tell
    tell, _ = decide(_failure("exit-code", "exited", status), 20.0, state, quiet=1800)
    assert tell


def test_units_are_counted_apart() -> None:
    _, state = decide(_failure("signal", "killed", "KILL"), 0.0, {}, quiet=1800)
    tell, _ = decide(_failure("signal", "killed", "KILL", "other.service"), 5.0, state, 1800)
    assert tell


def test_a_broken_state_file_means_tell() -> None:
    tell, _ = decide(_failure("signal", "killed", "KILL"), 5.0, {RELAY: "garbage"}, 1800)
    assert tell


@pytest.mark.parametrize(
    ("failure", "says"),
    [
        (_failure("exit-code", "exited", "78"),
         ["stopped", "config or rules are invalid", "will not restart", "peer-relay check",
          "systemctl restart peer-relay"]),
        (_failure("exit-code", "exited", "77"),
         ["stopped", "key is missing", "will not restart", "systemctl restart peer-relay"]),
        (_failure("exit-code", "exited", "65"),
         ["stopped", "newer version", "will not restart", "Install that newer version again",
          "restore a backup", "systemctl restart peer-relay"]),
        (_failure("watchdog", "killed", "ABRT"), ["watchdog", "restarts it by itself"]),
        (_failure("signal", "killed", "KILL"), ["crashed (signal KILL)", "restarts it by itself"]),
        (_failure("exit-code", "exited", "1", "peer-relay-backup.service"),
         ["backup", "failed", "drive"]),
    ],
)  # fmt: skip
def test_the_message_says_what_stopped_and_what_to_do(failure: Failure, says: list[str]) -> None:
    text = compose(failure, "pi-kitchen")
    for words in says:
        assert words in text
    assert "pi-kitchen" in text
    assert len(text) < 420  # read on a phone


def test_the_admin_is_found_even_when_another_rules_file_is_broken(tmp_path: Path) -> None:
    (tmp_path / "a-broken.yaml").write_text("members: [unclosed\n")
    (tmp_path / "members.yaml").write_text(
        'members:\n  dana:\n    number: "+44 7700 900123"\n  bob: {number: "+447700900002"}\n'
    )
    (tmp_path / "notes.txt").write_text("members: {dana: {number: '+15555555555'}}")
    assert admin_recipient(tmp_path, "dana") == "+447700900123"
    assert admin_recipient(tmp_path, "nobody") is None
    assert admin_recipient(tmp_path / "missing", "dana") is None


def test_an_admin_known_by_uuid_only_is_sent_to_her_uuid(tmp_path: Path) -> None:
    (tmp_path / "members.yaml").write_text("members:\n  dana:\n    uuid: 1b6c8f3e-2f2a\n")
    assert admin_recipient(tmp_path, "dana") == "1b6c8f3e-2f2a"


def test_an_unreadable_config_names_what_is_missing(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("signal: {service: '127.0.0.1:8080'}\n")
    reason = route_from_config(config, None)
    assert isinstance(reason, str)
    assert "signal.number" in reason
    config.write_text(
        "signal: {service: '127.0.0.1:8080', number: '+447700900100'}\n"
        f"admin: dana\nrules_dir: {tmp_path}\n"
    )
    assert route_from_config(config, None) == "the admin's number could not be found in the rules"
