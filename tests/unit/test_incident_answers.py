"""What LOG and EXPORT answer, decided with no database: the sample rules, plain values for
her log, and the decision out — in her language and zone, to her alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from relay.core.builder import Builder, Purpose
from relay.features.incidents import answers
from relay.locales import load_catalog
from relay.rules import Member, load_rules

RULES = load_rules(Path(__file__).resolve().parents[2] / "rules", allow_placeholders=True)
CATALOG = load_catalog()
T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def member(alias: str) -> Member:
    found = RULES.member(alias)
    assert found is not None
    return found


def b() -> Builder:
    return answers.builder(RULES, CATALOG, "Europe/London", T0)


def test_a_log_entry_is_added_and_timed_in_her_zone() -> None:
    decision, adds = answers.log(b(), member("alice"), "he grabbed my arm", 0, 0, 4)
    assert adds
    (reply,) = decision.messages
    assert reply.to.address == "alice" and reply.purpose is Purpose.REPLY
    assert reply.text == (
        "🔒 Added to your log — entry 4, 2026-11-26 15:00. Only you can see it. "
        "EXPORT sends you the whole log."
    )  # alice lives in New York
    _, also = answers.log(b(), member("bob"), "", 2, 1, 1)
    assert also  # a photo alone is an entry


def test_an_empty_log_is_told_how_and_adds_nothing() -> None:
    decision, adds = answers.log(b(), member("elena"), "", 0, 0, 1)
    assert not adds
    assert decision.messages[0].text.startswith("Para añadir a tu registro privado: LOG")
    lost, adds = answers.log(b(), member("bob"), "", 2, 0, 1)
    assert not adds and lost.messages[0].text.startswith("2 photos")


def test_lost_photos_are_counted_beside_the_entry() -> None:
    decision, adds = answers.log(b(), member("bob"), "note", 3, 1, 2)
    assert adds and "2 photos" in decision.messages[0].text.split("\n")[-1]


def test_export_sends_the_files_then_the_photos_ten_at_a_time() -> None:
    photos = [f"copy-{n}" for n in range(23)]
    decision = answers.exported(b(), member("bob"), 5, ("readable", "json"), photos)
    first, *rest = decision.messages
    assert first.attachments == ("readable", "json") and "5" in first.text
    assert [len(m.attachments) for m in rest] == [10, 10, 3]
    assert {m.to.address for m in decision.messages} == {"bob"}
    assert [m.purpose for m in decision.messages] == [Purpose.REPLY] * 4
    empty = answers.export_empty(b(), member("dana"))
    assert empty.messages[0].text.startswith("Your log is empty.")
    assert not empty.messages[0].attachments
    assert answers.export_unavailable(b(), member("dana")).messages
