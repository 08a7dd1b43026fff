"""`peer-relay failure-notice` as systemd runs it (a subprocess with the MONITOR_* variables)
against the simulator over real HTTP: the admin is told, a crash loop once, and a notice that
cannot get through says so and exits 1."""

import asyncio
import os
import sys
from pathlib import Path

import yaml

from relay.sim import SignalSim

RELAY_NUMBER = "+447700900100"
ADMIN = "+447700900001"


def _config(tmp_path: Path, service: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "members.yaml").write_text(
        yaml.safe_dump(
            {"members": {"alice": {"number": ADMIN}, "bob": {"number": "+447700900002"}}}
        )
    )
    # A rules file with a mistake: the very thing an exit 78 may be about.
    (rules / "timings.yaml").write_text("timings: {grace: [\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "signal": {"service": service, "number": RELAY_NUMBER},
                "rules_dir": str(rules),
                "data_dir": str(tmp_path / "no-database-here"),
                "admin": "alice",
                "timezone": "Europe/London",
            }
        )
    )
    return config


async def _notice(
    config: Path, state: Path, result: str, code: str, status: str
) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay", "failure-notice", "--config", str(config),
        "--unit", "peer-relay.service", "--state-dir", str(state),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "MONITOR_SERVICE_RESULT": result, "MONITOR_EXIT_CODE": code,
             "MONITOR_EXIT_STATUS": status},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_the_admin_is_told_once_per_crash_loop_and_of_every_config_stop(
    tmp_path: Path,
) -> None:
    async with SignalSim(RELAY_NUMBER) as sim:
        config = _config(tmp_path, sim.service)
        state = tmp_path / "state"
        state.mkdir()
        for _ in range(3):
            code, out = await _notice(config, state, "signal", "killed", "KILL")
            assert code == 0, out
        code, out = await _notice(config, state, "watchdog", "killed", "ABRT")
        assert code == 0, out
        assert "not told again" in out
        code, out = await _notice(config, state, "exit-code", "exited", "78")
        assert code == 0, out
        to_admin = [s for s in sim.sent if s.recipients == [ADMIN]]
        assert [s.number for s in to_admin] == [RELAY_NUMBER, RELAY_NUMBER]
        assert "crashed (signal KILL)" in to_admin[0].message
        assert "config or rules are invalid (exit 78)" in to_admin[1].message
        assert len(sim.sent) == 2
        # Nothing it printed names a number.
        assert ADMIN not in out
        assert RELAY_NUMBER not in out


async def test_a_notice_that_cannot_get_through_says_so_and_is_tried_next_time(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "127.0.0.1:9")  # nothing listens on the discard port
    state = tmp_path / "state"
    state.mkdir()
    code, out = await _notice(config, state, "signal", "killed", "KILL")
    assert code == 1
    assert "could not be told" in out
    assert ADMIN not in out
    assert not (state / "state.json").exists()
