"""The welcome's texts (relay.core.welcome), in every language: what the number is and who runs
it, the commands, her buddies or that she has none, the safety number, FORGET, one-tap SOS."""

from __future__ import annotations

import pytest

from relay.core.commands import KeywordTable, load_default_keywords, parse
from relay.core.intents import CheckIn, CheckOut, Forget, Help, Sos
from relay.core.voice import Voice
from relay.core.welcome import welcome_texts
from relay.locales import available_languages, load_catalog
from tests.unit.core_support import Collective


class Speaking(Collective):
    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    def member(self, alias):  # type: ignore[no-untyped-def]
        found = super().member(alias)
        return None if found is None else type(found)(alias, self.language, "Europe/London")


@pytest.mark.parametrize("language", available_languages())
def test_the_welcome_in_her_language_names_what_she_needs(language: str) -> None:
    voice = Voice(Speaking(language), load_catalog(), "Europe/London")
    first, second = welcome_texts(
        voice, "alice", run_by="the Owls", admin="dana", buddies=["bob", "carol"], own_line="Hi!"
    )
    assert first.startswith("👋") and "Alice" in first and "the Owls" in first
    assert "Bob, Carol" in first and "Dana" in first and first.endswith("Hi!")
    assert "🔐" in first
    for word in ("IN 60", "OUT", "SOS"):
        assert word in first, word
    # Every command word it teaches works for her, as written.
    table = KeywordTable.build(language=language, defaults=load_default_keywords(), aliases={})
    wanted = {"IN": CheckIn, "OUT": CheckOut, "SOS": Sos}
    commands = [line.split(" — ")[0] for line in first.splitlines() if " — " in line]
    assert len(commands) == 4, commands
    for line, kind in zip(commands, (CheckIn, CheckOut, Sos, Help), strict=True):
        for word in line.split(" / "):
            assert isinstance(parse(word, table), wanted.get(word.split()[0], kind)), word
    forget = load_catalog().text(language, "welcome_forget").split()[0]
    assert forget in first and isinstance(parse(forget, table), Forget), forget
    assert second.startswith("🆘") and "SOS" in second
    # The word she is told to try the shortcut with must never raise an alarm (AYUDA does).
    tries = {w.strip(".,:;!?¡¿“”") for w in second.split() if w.isupper() and len(w) > 2}
    tries -= {"SOS"}
    assert tries, second
    for word in tries:
        assert isinstance(parse(word, table), Help), (language, word)


def test_no_buddies_yet_and_no_run_by() -> None:
    voice = Voice(Collective(), load_catalog(), "Europe/London")
    first, _ = welcome_texts(voice, "alice", run_by=None, admin="dana", buddies=[])
    assert "no buddies yet — ask Dana" in first
    assert "run by your collective (your admin is Dana)" in first
