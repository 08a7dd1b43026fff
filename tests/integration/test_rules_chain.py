"""The rules for issue 21 from real YAML: welcome:, drills: and escalation.undelivered_after —
the sample, their defaults, mistakes as one line at their place, and the sealed rules copy."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.features.drills.runtime import next_scheduled
from relay.rules import RulesInvalid, load_rules
from relay.rules.compiled import from_plain, to_plain
from relay.rules.model import DrillPolicy, DrillSchedule, WelcomePolicy

SAMPLES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(SAMPLES, target)
    return target


def test_the_samples_welcome_drill_and_move_undelivered_alerts_on() -> None:
    rules = load_rules(SAMPLES, allow_placeholders=True)
    assert rules.welcome.enabled and rules.welcome.run_by == "the Night Owls collective"
    assert rules.welcome.line_for("es-MX") == rules.welcome.lines["es"]
    assert rules.welcome.line_for("fr") == rules.welcome.lines["en"]
    assert rules.drills == DrillPolicy((1,), timedelta(minutes=10), timedelta(days=1), None)
    assert rules.undelivered_after == timedelta(minutes=2)


def test_left_out_the_welcome_is_on_drills_use_the_first_tier_and_nothing_moves_early(
    folder: Path,
) -> None:
    (folder / "welcome.yaml").unlink()
    (folder / "drills.yaml").unlink()
    text = (folder / "escalation.yaml").read_text()
    (folder / "escalation.yaml").write_text(text.replace("  undelivered_after: 2m\n", ""))
    rules = load_rules(folder, allow_placeholders=True)
    assert rules.welcome == WelcomePolicy()
    assert rules.drills == DrillPolicy()
    assert rules.undelivered_after is None


def test_a_schedule_and_its_time_of_day_quoted_or_not(folder: Path) -> None:
    for written in ('"18:30"', "18:30", '"7:05"'):
        (folder / "drills.yaml").write_text(
            f"drills:\n  tiers: [1, 2]\n  schedule:\n    every: 4w\n    at: {written}\n"
        )
        rules = load_rules(folder, allow_placeholders=True)
        assert rules.drills.tiers == (1, 2)
        expected = "07:05" if "7:05" in written else "18:30"
        assert rules.drills.schedule == DrillSchedule(timedelta(weeks=4), expected)
        again = from_plain(to_plain(rules))  # the sealed copy a restart reads
        assert again.drills == rules.drills and again.welcome == rules.welcome
        assert again.undelivered_after == rules.undelivered_after


@pytest.mark.parametrize(
    ("file", "text", "expected"),
    [
        ("drills.yaml", "drills:\n  tiers: [4]\n", "drills.tiers[0]: there is no tier 4"),
        ("drills.yaml", "drills:\n  tiers: [0]\n", "drills.tiers[0]"),
        ("drills.yaml", 'drills:\n  schedule:\n    every: 4w\n    at: "25:00"\n', "HH:MM"),
        ("drills.yaml", "drills:\n  report_after: soon\n", "not a duration"),
        ("drills.yaml", "drills:\n  reports_after: 10m\n", "drills.reports_after"),
        ("welcome.yaml", "welcome:\n  enabled: maybe\n", "welcome.enabled"),
        ("welcome.yaml", "welcome:\n  lines:\n    english: hi\n", "welcome.lines"),
    ],
)
def test_each_mistake_is_one_line_in_its_file(
    folder: Path, file: str, text: str, expected: str
) -> None:
    (folder / file).write_text(text)
    with pytest.raises(RulesInvalid) as caught:
        load_rules(folder, allow_placeholders=True)
    lines = [str(issue) for issue in caught.value.issues if issue.is_error]
    assert len(lines) == 1, lines
    assert file in lines[0] and expected in lines[0], lines[0]


def test_undelivered_after_must_be_a_positive_duration(folder: Path) -> None:
    text = (folder / "escalation.yaml").read_text()
    (folder / "escalation.yaml").write_text(
        text.replace("undelivered_after: 2m", "undelivered_after: 0")
    )
    with pytest.raises(RulesInvalid) as caught:
        load_rules(folder, allow_placeholders=True)
    assert any("escalation.undelivered_after" in str(i) for i in caught.value.issues)


def test_the_next_scheduled_drill() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # 13:00 in London (summer time)
    first = next_scheduled(None, timedelta(weeks=4), "18:00", "Europe/London", now)
    assert first == datetime(2026, 6, 1, 17, 0, tzinfo=UTC)
    late = next_scheduled(None, timedelta(weeks=4), "09:00", "Europe/London", now)
    assert late == datetime(2026, 6, 2, 8, 0, tzinfo=UTC)  # 09:00 passed today: tomorrow's
    after = next_scheduled(first, timedelta(weeks=4), "18:00", "Europe/London", now)
    assert after == datetime(2026, 6, 29, 17, 0, tzinfo=UTC)
