"""Issue 16 in the pure core: what each phrase does in each language, that no near-miss of OUT
ends a check-in, photos that travel, times labelled for the reader, her newest locations counted.

Members of the table: alice (en, New York, she), bob (en, London, he — everyone's buddy), rosa
(pt, São Paulo, no pronouns), marie (fr, Paris, they), lucia (es, Madrid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core import intents
from relay.core.ages import render as render_ages
from relay.core.commands import KeywordTable, load_default_keywords, parse
from relay.core.decide import Context, Decision, Purpose, on_message, on_timer
from relay.core.photos import photos_along
from relay.core.policy import MemberInfo, Tier, Timings
from relay.core.state import Kind, Phase, Pin, Recipient, Watch
from relay.core.types import MemberAlias
from relay.locales import load_catalog

T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 15:00 in New York, 20:00 in London
MIN = timedelta(minutes=1)
CATALOG = load_catalog()
DEFAULTS = load_default_keywords()
TABLES = {lang: KeywordTable.build(lang, DEFAULTS) for lang in ("en", "es", "pt", "fr")}

MEMBERS = {
    "alice": ("en", "America/New_York", "she"),
    "bob": ("en", "Europe/London", "he"),
    "rosa": ("pt", "America/Sao_Paulo", None),
    "marie": ("fr", "Europe/Paris", "they"),
    "lucia": ("es", "Europe/Madrid", None),
}
BY_LANGUAGE = {"en": "alice", "pt": "rosa", "fr": "marie", "es": "lucia"}


@dataclass
class Policy:
    default_language: str = "en"

    def member(self, alias: MemberAlias) -> MemberInfo | None:
        found = MEMBERS.get(alias)
        return MemberInfo(alias, found[0], found[1], found[2]) if found else None

    def timings(self, alias: MemberAlias) -> Timings:
        return Timings(60 * MIN, 720 * MIN, 120 * MIN, 10 * MIN, 5 * MIN, 10 * MIN, 5 * MIN)

    def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
        buddy = "lucia" if alias == "bob" else "bob"
        return [Tier(timedelta(0), (Recipient.member(MemberAlias(buddy)),))]

    def directory(self, language: str) -> Sequence[tuple[str, str, str]]:
        return []


CTX = Context(Policy(), CATALOG, "Europe/London")


def text(language: str, key: str, **params: object) -> str:
    return CATALOG.text(language, key, **params)


def to(decision: Decision, alias: str) -> list[str]:
    return [m.text for m in decision.messages if m.to == Recipient.member(MemberAlias(alias))]


def live(alias: str) -> Watch:
    d = on_message(CTX, MemberAlias(alias), intents.CheckIn(90 * MIN, None), None, [], T0, "w1")
    (watch,) = d.watches
    return watch


def says(alias: str, message: str, own: Watch | None = None) -> Decision:
    language = MEMBERS[alias][0]
    intent = parse(message, TABLES[language])
    return on_message(CTX, MemberAlias(alias), intent, own, [], T0 + MIN, "w2")


# --- what each phrase does, in each language ---------------------------------------------------

SOS, GUESSED, ASK_OUT, ASK_SOS, MENU, SHORT = (
    "sos",
    "guessed",
    "ask_out",
    "ask_sos",
    "menu",
    "short",
)

PHRASES: list[tuple[str, str, str]] = [
    # English: cries for help raise the alarm; HELP alone is the menu.
    ("en", "SOS", SOS),
    ("en", "help me", SOS),
    ("en", "HELP ME!!", SOS),
    ("en", "I need help", SOS),
    ("en", "please help, he won't let me leave", SOS),
    ("en", "emergency", SOS),
    ("en", "🆘", SOS),
    ("en", "🚨", SOS),
    ("en", "mayday", SOS),
    ("en", "SOSS", GUESSED),
    ("en", "S0S", GUESSED),
    ("en", "SOOS", GUESSED),
    ("en", "S O S", GUESSED),
    ("en", "$O$", GUESSED),
    ("en", "helpme", GUESSED),
    ("en", "emergncy", GUESSED),
    ("en", "he has a knife SOS", GUESSED),
    ("en", "OTU", ASK_OUT),
    ("en", "OUUT", ASK_OUT),
    ("en", "SAFEE", ASK_OUT),
    ("en", "0UT", ASK_OUT),
    ("en", "im saf", ASK_OUT),
    ("en", "can you help me", ASK_SOS),
    ("en", "HELP", MENU),
    ("en", "hello", MENU),
    ("en", "inn 90", SHORT),
    ("en", "whoo", SHORT),
    # Spanish
    ("es", "socorro", SOS),
    ("es", "¡AYUDA!", SOS),
    ("es", "auxilio", SOS),
    ("es", "ayúdame", SOS),
    ("es", "necesito ayuda", SOS),
    ("es", "emergencia", SOS),
    ("es", "socoro", GUESSED),
    ("es", "ayudaa", GUESSED),
    ("es", "SALGI", ASK_OUT),
    ("es", "estoy bein", ASK_OUT),
    ("es", "soy yo", SHORT),  # one slip from "voy yo" (ACK): asked, and never an SOS
    ("es", "menú", MENU),
    ("es", "hola", MENU),
    # Portuguese
    ("pt", "socorro", SOS),
    ("pt", "SOCORRO!", SOS),
    ("pt", "me ajuda", SOS),
    ("pt", "ajuda", SOS),
    ("pt", "preciso de ajuda", SOS),
    ("pt", "emergência", SOS),
    ("pt", "socoro", GUESSED),
    ("pt", "S0S", GUESSED),
    ("pt", "sai", "out"),  # SAÍ without its accent: a real OUT
    ("pt", "estou bme", ASK_OUT),
    ("pt", "sou eu", MENU),  # "sou" is one slip from SOS and an everyday word: never an alarm
    ("pt", "menu", MENU),
    # French
    ("fr", "au secours", SOS),
    ("fr", "AU SECOURS !", SOS),
    ("fr", "à l'aide", SOS),
    ("fr", "A L’AIDE", SOS),
    ("fr", "aidez-moi", SOS),
    ("fr", "aide moi", SOS),
    ("fr", "j'ai besoin d'aide", SOS),
    ("fr", "urgence", SOS),
    ("fr", "au secour", GUESSED),
    ("fr", "SOSS", GUESSED),
    ("fr", "SORTEI", ASK_OUT),
    ("fr", "sors", MENU),  # "get out", and one slip from SOS: an everyday word, never an alarm
    ("fr", "sous", MENU),
    ("fr", "aide", MENU),
    ("fr", "bonjour", MENU),
]


@pytest.mark.parametrize(
    ("language", "phrase", "effect"),
    PHRASES,
    ids=[f"{lang}:{phrase}" for lang, phrase, _ in PHRASES],
)
def test_what_each_phrase_does_during_a_check_in(language: str, phrase: str, effect: str) -> None:
    alias = BY_LANGUAGE[language]
    own = live(alias)
    d = says(alias, phrase, own)
    (reply,) = to(d, alias)
    alerted = [m for m in d.messages if m.purpose is Purpose.ALERT]
    closed = any(w.phase is Phase.CLOSED for w in d.watches)
    sent = text(language, "sos_sent", watchers="Bob")
    if effect in (SOS, GUESSED):
        assert [m.to.address for m in alerted] == ["bob"], phrase
        assert sent in reply and not closed
        guessed = text(language, "sos_guessed")
        assert reply.startswith(guessed) == (effect == GUESSED), reply
        return
    assert not alerted, phrase
    if effect == "out":
        assert closed
        return
    assert not closed and all(w.phase is not Phase.CLOSED for w in d.watches), phrase
    expected = {
        ASK_OUT: text(language, "did_you_mean_out"),
        ASK_SOS: text(language, "ask_sos"),
        MENU: text(language, "help"),
    }
    if effect == SHORT:
        assert reply.count("\n") == 0 and "?" in reply, reply  # one line, never the menu
        assert reply.startswith(text(language, "did_you_mean", options="X").split("X")[0])
    elif effect == MENU:
        assert reply.endswith(expected[MENU]), reply
    else:
        assert reply == expected[effect], reply


def test_every_shipped_cry_for_help_raises_the_alarm_in_its_language() -> None:
    for language, table in TABLES.items():
        for word in table.words("sos"):
            assert isinstance(parse(word, table), intents.Sos), (language, word)


def test_an_ask_first_word_of_the_rules_asks_before_alerting() -> None:
    table = KeywordTable.build("pt", DEFAULTS, {"ask_first": ["socorro"]})
    assert parse("socorro", table) == intents.Unknown("distress", ("sos", "help"))
    assert parse("SOCORRO!", table) == intents.Unknown("distress", ("sos", "help"))
    assert parse("socoro", table) == intents.Unknown("distress", ("sos", "help"))
    assert isinstance(parse("SOS", table), intents.Sos)  # the others still alert
    assert isinstance(parse("me ajuda", table), intents.Sos)
    d = on_message(
        CTX, MemberAlias("rosa"), parse("socorro", table), None, [], T0, "w1"
    )  # one line: are you in danger? reply SOS
    assert to(d, "rosa") == [text("pt", "ask_sos")] and not d.watches


def test_a_guessed_sos_with_nobody_to_alert_claims_nothing() -> None:
    class Nobody(Policy):
        def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
            return []

    ctx = Context(Nobody(), CATALOG, "Europe/London")
    d = on_message(ctx, MemberAlias("alice"), parse("S0S", TABLES["en"]), None, [], T0, "w1")
    (reply,) = to(d, "alice")
    assert reply == "\n".join([text("en", "sos_guessed"), text("en", "sos_nobody")])


# --- no near-miss of OUT ever ends a check-in (property) ---------------------------------------

_DIGITS_FOR = {"o": "0", "s": "5", "i": "1", "e": "3", "a": "4"}


@st.composite
def near_misses_of_out(draw: st.DrawFn) -> tuple[str, str]:
    language = draw(st.sampled_from(sorted(TABLES)))
    table = TABLES[language]
    word = draw(st.sampled_from([w for w in table.words("out") if w.replace(" ", "").isalpha()]))
    chars = list(word)
    i = draw(st.integers(0, len(chars) - 1))
    how = draw(st.sampled_from(["double", "drop", "swap", "insert", "replace", "digit"]))
    letter = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz0 "))
    if how == "double":
        chars.insert(i, chars[i])
    elif how == "drop" and len(chars) > 2:
        del chars[i]
    elif how == "swap" and i + 1 < len(chars):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    elif how == "insert":
        chars.insert(i, letter)
    elif how == "replace":
        chars[i] = letter
    elif how == "digit":
        chars = [_DIGITS_FOR.get(c, c) for c in chars]
    variant = "".join(chars)
    variant = draw(st.sampled_from([variant, variant.upper(), variant.title()]))
    variant += draw(st.sampled_from(["", "!", ".", " ", "?!"]))
    return language, variant


@settings(max_examples=400, deadline=None)
@given(near_misses_of_out())
def test_no_near_miss_of_out_ends_a_check_in(case: tuple[str, str]) -> None:
    language, variant = case
    table = TABLES[language]
    if table.command_for(variant) == "out" or not variant.strip():
        return  # another spelling listed on purpose ("salí", "sali"), or nothing left
    intent = parse(variant, table)
    assert not isinstance(intent, intents.CheckOut), (language, variant)
    alias = BY_LANGUAGE[language]
    d = on_message(CTX, MemberAlias(alias), intent, live(alias), [], T0 + MIN, "w2")
    assert all(w.phase is not Phase.CLOSED for w in d.watches), (language, variant)


# --- photos always travel -----------------------------------------------------------------------


def photo_message(alias: str, message: str, own: Watch | None, photos: tuple[str, ...]) -> Decision:
    intent = parse(message, TABLES[MEMBERS[alias][0]])
    d = on_message(CTX, MemberAlias(alias), intent, own, [], T0 + MIN, "w2", photos=photos)
    return photos_along(CTX, d, MemberAlias(alias), intent, own, photos, T0 + MIN, "w2")


def test_a_photo_with_sos_goes_with_the_alert() -> None:
    d = photo_message("alice", "SOS he has a knife", None, ("p1",))
    (alert,) = [m for m in d.messages if m.purpose is Purpose.ALERT]
    assert alert.attachments == ("p1",) and "1 photo attached" in alert.text
    (reply,) = to(d, "alice")
    assert reply.endswith(text("en", "photos_kept_alert", count=1))


def test_a_photo_alone_during_a_check_in_is_kept_and_she_is_told() -> None:
    d = photo_message("alice", "", live("alice"), ("p1", "p2"))
    (watch,) = d.watches
    assert watch.photos == ("p1", "p2") and watch.phase is Phase.ACTIVE
    assert to(d, "alice") == [text("en", "photos_kept", count=2)]  # not "didn't get that"
    assert text("en", "photos_kept", count=2).startswith("📎 2 photos kept")
    # …and they go with the alert when it comes.
    alert = on_timer(CTX, watch.evolve(next_at=T0 + 95 * MIN), T0 + 95 * MIN)
    (sent,) = [m for m in alert.messages if m.purpose is Purpose.ALERT]
    assert sent.attachments == ("p1", "p2")


def test_a_photo_with_any_text_while_the_alert_is_out_reaches_those_alerted() -> None:
    d = photo_message("alice", "SOS", None, ())
    (alerted,) = d.watches
    d = photo_message("alice", "he took my phone charger lol", alerted, ("p3",))
    (forward,) = to(d, "bob")
    assert forward == text("en", "alert_photos_more", who="Alice", count=1)
    (sent,) = [m for m in d.messages if m.to.address == "bob"]
    assert sent.attachments == ("p3",) and sent.purpose is Purpose.ALERT
    assert d.watches[0].photos == ("p3",)
    assert to(d, "alice")[0].endswith(text("en", "photos_kept_alert", count=1))


def test_a_photo_with_no_check_in_is_kept_for_the_next_one() -> None:
    d = photo_message("rosa", "", None, ("p1",))
    (draft,) = d.watches
    assert draft.phase is Phase.DRAFT and draft.photos == ("p1",)
    assert to(d, "rosa") == [text("pt", "photos_kept_next", count=1)]


def test_a_photo_with_out_or_the_duress_word_leaves_the_out_reply_untouched() -> None:
    plain = photo_message("alice", "OUT", live("alice"), ())
    with_photo = photo_message("alice", "OUT", live("alice"), ("p1",))
    assert to(with_photo, "alice") == to(plain, "alice")
    # Under a silent alert, a photo alone reads as it would had she really checked out.
    duress = on_message(
        CTX, MemberAlias("alice"), intents.Duress(), live("alice"), [], T0 + MIN, "w2"
    )
    (silent,) = duress.watches
    assert silent.kind is Kind.DURESS
    after = photo_message("alice", "", silent, ("p2",))
    assert to(after, "alice") == [text("en", "photos_kept_next", count=1)]
    assert [m.to.address for m in after.messages if m.purpose is Purpose.ALERT] == ["bob"]


# --- times: the reader's zone, labelled when hers differs ---------------------------------------

LABELS = {
    "en": "20:00 your time / 15:00 in New York",
    "es": "20:00 tu hora / 15:00 en Nueva York",
    "fr": "20:00 chez toi / 15:00 à New York",
    "pt": "20:00 no seu horário / 15:00 em Nova York",
}


@pytest.mark.parametrize("language", sorted(LABELS))
def test_a_time_about_her_is_labelled_for_a_reader_in_another_zone(language: str) -> None:
    reader = {"en": "bob", "es": "lucia", "fr": "marie", "pt": "rosa"}[language]

    class Buddy(Policy):
        def member(self, alias: MemberAlias) -> MemberInfo | None:
            info = super().member(alias)
            if info is not None and alias == reader:  # the reader in London, whatever her tongue
                return MemberInfo(alias, info.language, "Europe/London", info.pronouns)
            return info

        def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
            return [Tier(timedelta(0), (Recipient.member(MemberAlias(reader)),))]

    ctx = Context(Buddy(), CATALOG, "Europe/London")
    d = on_message(ctx, MemberAlias("alice"), intents.Sos(), None, [], T0, "w1")
    (alert,) = to(d, reader)
    assert LABELS[language] in alert, alert
    (reply,) = to(d, "alice")
    assert "your time" not in reply and "New York" not in reply  # her own clock: no label


def test_a_reader_in_her_own_zone_sees_one_plain_time() -> None:
    class SameZone(Policy):
        def member(self, alias: MemberAlias) -> MemberInfo | None:
            info = super().member(alias)
            return MemberInfo(alias, "en", "America/New_York", None) if info else None

    ctx = Context(SameZone(), CATALOG, "Europe/London")
    d = on_message(ctx, MemberAlias("alice"), intents.Sos(), None, [], T0, "w1")
    (alert,) = to(d, "bob")
    assert "SOS from Alice at 15:00. Alice asked for help." in alert
    assert "your time" not in alert


def test_missed_check_in_labels_the_end_time_and_says_how_long_ago() -> None:
    watch = live("alice")
    alert = on_timer(CTX, watch.evolve(next_at=T0 + 95 * MIN), T0 + 96 * MIN)
    (sent,) = to(alert, "bob")
    # "ago" is rendered when the message is handed to signal-cli (relay.core.ages): here, at once.
    sent = render_ages(sent, T0 + 96 * MIN)
    assert "Her check-in ended at 21:30 your time / 16:30 in New York (6 min ago)" in sent


# --- her newest locations, counted ---------------------------------------------------------------


def test_an_alert_says_when_it_shows_only_some_of_her_locations() -> None:
    pins = tuple(Pin(T0 + i * MIN, 51.5 + i / 100, -0.1, f"place {i}", "x") for i in range(5))
    d = on_message(
        CTX, MemberAlias("alice"), intents.Sos(), live("alice").evolve(pins=pins), [], T0, "w"
    )
    (alert,) = to(d, "bob")
    assert "📍 The 3 newest of 5 locations:" in alert
    assert "place 4" in alert and "place 2" in alert and "place 1" not in alert
    few = on_message(CTX, MemberAlias("alice"), intents.Sos(), live("alice"), [], T0, "w")
    assert "newest of" not in to(few, "bob")[0]
