"""What receipts say, in the pure core (relay.core.delivery): a tier that reached no phone, and
the STATUS lines she gets for her open alert."""

from __future__ import annotations

from datetime import timedelta

from relay.core.delivery import Reach, moves_on, status_lines, tier_unreached
from relay.core.state import Kind, Phase, Recipient, RecipientKind, Watch
from relay.core.types import MemberAlias
from relay.core.voice import Voice
from tests.unit.core_support import CATALOG, MIN, T0, Collective

VOICE = Voice(Collective(), CATALOG, "Europe/London")
BOB, CAROL, DANA = (Recipient.member(MemberAlias(n)) for n in ("bob", "carol", "dana"))
GROUP = Recipient(RecipientKind.GROUP, "group.x", "night-shift")


def test_a_tier_reached_no_phone_only_when_nobody_in_it_has_a_receipt() -> None:
    off = Reach("bob", False, 1, T0)
    on = Reach("carol", False, 1, T0, T0 + MIN)
    read_only = Reach("dana", False, 2, T0, None, T0 + MIN)  # a read receipt is on the phone too
    assert tier_unreached([off], 1)
    assert not tier_unreached([off, on], 1)
    assert not tier_unreached([off, read_only], 2)
    assert not tier_unreached([off], 2)  # a tier that alerted nobody new is not "unreached"
    assert read_only.on_phone == T0 + MIN


def test_an_alert_moves_on_only_while_it_still_waits_unreached_at_that_tier() -> None:
    alerted = Watch(MemberAlias("alice"), Kind.CHECKIN, Phase.ALERTED, T0, T0, None)
    waiting = alerted.evolve(tiers_alerted=1)
    off, on = Reach("bob", False, 1, T0), Reach("carol", False, 1, T0, T0 + MIN)
    assert moves_on(waiting, 1, [off])
    assert not moves_on(waiting, 1, [off, on])  # carol's phone has it
    assert not moves_on(waiting.evolve(phase=Phase.ACKED), 1, [off])  # someone is on it
    assert not moves_on(waiting.evolve(phase=Phase.CLOSED), 1, [off])  # it is over
    assert not moves_on(waiting.evolve(tiers_alerted=2), 1, [off])  # the ladder moved on
    assert not moves_on(None, 1, [off])  # gone (FORGET, retention)


def test_status_names_everyone_alerted_with_what_their_phone_said() -> None:
    reaches = [
        Reach("bob", False, 1, T0, T0 + timedelta(seconds=30)),
        Reach("carol", False, 1, T0, T0 + MIN, T0 + 2 * MIN),
        Reach("night-shift", True, 1, T0),
    ]
    lines = status_lines(VOICE, "alice", [BOB, CAROL, GROUP, DANA], reaches, T0 + 3 * MIN)
    assert lines == [
        "📱 Bob: reached the phone 20:00 — no answer yet",
        "📱 Carol: reached the phone 20:01, read 20:02 — no answer yet",
        "⏳ night-shift (group): sent 20:00 — not on the phone yet",
        "⏳ Dana: not sent yet — the relay keeps trying",
    ]
    acked = status_lines(VOICE, "alice", [BOB, CAROL], reaches, T0 + 3 * MIN, acked_by="carol")
    assert acked[1] == "💜 Carol: on it"


def test_status_lists_a_few_and_counts_the_rest() -> None:
    many = [Recipient.member(MemberAlias(f"m{i:02d}")) for i in range(12)]
    lines = status_lines(VOICE, "alice", many, [], T0)
    assert len(lines) == 9 and lines[-1] == "… and 4 more"
