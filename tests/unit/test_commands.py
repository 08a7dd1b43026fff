"""The member-command parser: every command shape, in several languages, and its limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from relay.core.commands import KeywordTable, load_default_keywords, parse
from relay.core.intents import (
    Ack,
    Approve,
    BadArgument,
    Buddies,
    Check,
    CheckIn,
    CheckOut,
    Client,
    Duress,
    Export,
    Extend,
    Forget,
    Help,
    Intent,
    Loc,
    Log,
    Reject,
    Report,
    Resolved,
    Sos,
    Status,
    Unknown,
    Who,
    Withdraw,
)
from relay.core.locations import Location

DEFAULTS = load_default_keywords()
EN = KeywordTable.build(language="en", defaults=DEFAULTS)
ES = KeywordTable.build(
    language="es", defaults=DEFAULTS, aliases={"sos": ["🌹", "rosa", "Sálvame"]}
)
PT = KeywordTable.build(language="pt", defaults=DEFAULTS)
FR = KeywordTable.build(language="fr", defaults=DEFAULTS)

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def cases(table: KeywordTable, rows: list[tuple[str, Intent]]) -> list[object]:
    return [
        pytest.param(table, text, expected, id=f"{table.language}:{text!r}")
        for text, expected in rows
    ]


ENGLISH: list[tuple[str, Intent]] = [
    # IN [duration] [note]
    ("IN 90", CheckIn(90 * MIN, None)),
    ("in 1h30 Hotel Rex room 12", CheckIn(HOUR + 30 * MIN, "Hotel Rex room 12")),
    ("IN 1h30m Hotel Rex", CheckIn(90 * MIN, "Hotel Rex")),
    ("IN 1:30 Hotel Rex", CheckIn(90 * MIN, "Hotel Rex")),
    ("IN 90m", CheckIn(90 * MIN, None)),
    ("IN 90s", CheckIn(timedelta(seconds=90), None)),
    ("IN 10m Rex", CheckIn(10 * MIN, "Rex")),
    ("IN 2 h Hotel", CheckIn(2 * HOUR, "Hotel")),
    ("IN 2h", CheckIn(2 * HOUR, None)),
    ("IN 45 min Hotel Rex", CheckIn(45 * MIN, "Hotel Rex")),
    ("IN 1 hour 30 minutes", CheckIn(90 * MIN, None)),
    ("IN two hours Hotel", CheckIn(2 * HOUR, "Hotel")),
    ("IN half an hour", CheckIn(30 * MIN, None)),
    ("IN 1.5h", CheckIn(90 * MIN, None)),
    ("IN for 2h Hotel", CheckIn(2 * HOUR, "Hotel")),
    ("IN 90, Hotel Rex", CheckIn(90 * MIN, "Hotel Rex")),
    ("in90 Hotel", CheckIn(90 * MIN, "Hotel")),
    ("IN:90", CheckIn(90 * MIN, None)),
    ("IN", CheckIn(None, None)),
    ("In.", CheckIn(None, None)),
    ("IN Hotel Rex", CheckIn(None, "Hotel Rex")),
    ("IN 221B Baker Street", CheckIn(None, "221B Baker Street")),
    ("  /in   90   Hotel  Rex  ", CheckIn(90 * MIN, "Hotel  Rex")),
    ("!IN 90", CheckIn(90 * MIN, None)),
    ("/ in 90", CheckIn(90 * MIN, None)),
    ("IN 90 Hotel Rex\nroom 12\n", CheckIn(90 * MIN, "Hotel Rex\nroom 12")),
    ("IN 90 \u200bHotel Rex\u200f", CheckIn(90 * MIN, "Hotel Rex")),
    (
        "IN 90 with him 👩\u200d❤\ufe0f\u200d👨 Ünïcödé",
        CheckIn(90 * MIN, "with him 👩\u200d❤\ufe0f\u200d👨 Ünïcödé"),
    ),
    ("ＩＮ　９０", CheckIn(90 * MIN, None)),
    ("IN\u200b90 Rex", CheckIn(90 * MIN, "Rex")),
    ("IN soon", BadArgument("in", "unreadable")),
    ("IN soon-ish 99999h", BadArgument("in", "unreadable")),
    ("IN a while", BadArgument("in", "unreadable")),
    ("IN 1.5", BadArgument("in", "unreadable")),
    ("IN 99999h", BadArgument("in", "out_of_range")),
    ("IN 99999", BadArgument("in", "out_of_range")),
    ("IN 25h", BadArgument("in", "out_of_range")),
    ("IN 0", BadArgument("in", "out_of_range")),
    ("IN Ritz 2h", BadArgument("in", "time_not_first")),
    ("IN Hotel Rex until 10:30", BadArgument("in", "time_not_first")),
    ("IN Hotel for two hours", BadArgument("in", "time_not_first")),
    # OUT / SAFE
    ("OUT", CheckOut()),
    ("out", CheckOut()),
    ("Out!", CheckOut()),
    ("SAFE", CheckOut()),
    ("safe.", CheckOut()),
    ("/out", CheckOut()),
    ("I'm safe", CheckOut()),
    ("I’m safe", CheckOut()),
    ("OUT all good thanks", CheckOut()),
    ("ＯＵＴ", CheckOut()),
    ("𝐎𝐔𝐓", CheckOut()),
    ("O\u200bUT", CheckOut()),
    # EXTEND
    ("EXTEND 30", Extend(30 * MIN)),
    ("extend 1h", Extend(HOUR)),
    ("EXTEND by 30", Extend(30 * MIN)),
    ("+30", Extend(30 * MIN)),
    ("+ 30", Extend(30 * MIN)),
    ("+1h", Extend(HOUR)),
    ("+1h30", Extend(90 * MIN)),
    ("EXTEND", Extend(None)),
    ("EXTEND please", Extend(None)),
    ("+", Extend(None)),
    ("EXTEND soon", BadArgument("extend", "unreadable")),
    ("EXTEND another 30 please 20", Extend(30 * MIN)),
    ("EXTEND maybe 30", BadArgument("extend", "unreadable")),
    ("EXTEND 99999", BadArgument("extend", "out_of_range")),
    ("+44 7700 900123", Unknown()),
    ("+447700900123", Unknown()),
    # ACK
    ("ACK", Ack()),
    ("ack alice", Ack("alice", "alice")),
    ("ACK @Alice!", Ack("alice", "@Alice!")),
    ("\ufffc on my way, 5 min", Ack(None, "5 min")),
    ("On it", Ack()),
    ("omw", Ack()),
    # RESOLVED, STATUS, HELP
    ("RESOLVED", Resolved()),
    ("resolved!", Resolved()),
    ("resolve", Resolved()),
    ("STATUS", Status()),
    ("status?", Status()),
    ("HELP", Help()),
    ("help me please", Sos("please")),  # a cry for help, not the menu
    ("?", Help()),
    ("??", Help()),
    ("MENU", Help()),
    # SOS
    ("SOS", Sos()),
    ("sos!!!", Sos()),
    ("S.O.S.", Sos()),
    ("🆘", Sos()),
    ("🆘🆘🆘", Sos()),
    ("emergency", Sos()),
    ("SOS he has a knife", Sos("he has a knife")),
    ("SOS 2h", Sos("2h")),
    # LOC
    ("LOC 51.5,-0.12", Loc(Location(51.5, -0.12, None, "coordinates", "51.5,-0.12"))),
    (
        "LOC Hotel Rex, Main St 1",
        Loc(Location(None, None, "Hotel Rex, Main St 1", "address", "Hotel Rex, Main St 1")),
    ),
    ("LOC", BadArgument("loc", "missing")),
    ("LOC 91,0", BadArgument("loc", "unreadable")),
    ("LOC 51.5", BadArgument("loc", "unreadable")),
    # CLIENT, REPORT, CHECK, LOG, EXPORT, FORGET
    (
        "CLIENT John, 07700 900123, blue Ford AB12 CDE",
        Client("John, 07700 900123, blue Ford AB12 CDE"),
    ),
    ("client", Client(None)),
    ("REPORT grey van KA01AB1234, refused to pay", Report("grey van KA01AB1234, refused to pay")),
    ("CHECK 07700 900123", Check("07700 900123")),
    ("check AB12 CDE", Check("AB12 CDE")),
    ("CHECK", BadArgument("check", "missing")),
    ("LOG he grabbed my arm at 23:10", Log("he grabbed my arm at 23:10")),
    ("EXPORT", Export()),
    ("FORGET", Forget(confirmed=False)),
    ("FORGET YES", Forget(confirmed=True)),
    ("forget yes!", Forget(confirmed=True)),
    ("FORGET confirm", Forget(confirmed=True)),
    ("FORGET it", Forget(confirmed=False)),
    # WHO, BUDDIES, moderation
    ("WHO", Who()),
    ("CALL", Who()),
    ("BUDDIES", Buddies()),
    ("buddy", Buddies()),
    ("APPROVE 12", Approve(12)),
    ("approve #12", Approve(12)),
    ("APPROVE # 12", Approve(12)),
    ("approve12", Approve(12)),
    ("APPROVE", BadArgument("approve", "missing")),
    ("APPROVE twelve", BadArgument("approve", "unreadable")),
    ("APPROVE 0", BadArgument("approve", "unreadable")),
    ("REJECT 4 duplicate of #3", Reject(4, "duplicate of #3")),
    ("REJECT 4", Reject(4)),
    ("WITHDRAW 7", Withdraw(7)),
    ("WITHDRAW x", BadArgument("withdraw", "unreadable")),
    # Not commands
    ("hello", Unknown()),
    ("checkin ok - home safe", Unknown()),
    ("typed on the phone", Unknown()),
    ("👍", Unknown()),
]

SPANISH: list[tuple[str, Intent]] = [
    ("ENTRO 90 Hotel Rex", CheckIn(90 * MIN, "Hotel Rex")),
    ("entro 1h30 Hotel", CheckIn(90 * MIN, "Hotel")),
    ("Entro una hora", CheckIn(HOUR, None)),
    ("entro 2 horas", CheckIn(2 * HOUR, None)),
    ("ENTRO 1 hora y media", CheckIn(90 * MIN, None)),
    ("ENTRO media hora Hotel", CheckIn(30 * MIN, "Hotel")),
    ("ENTRO luego", BadArgument("in", "unreadable")),
    ("IN 90", CheckIn(90 * MIN, None)),
    ("SALGO", CheckOut()),
    ("salí", CheckOut()),
    ("SALI", CheckOut()),
    ("¡SALGO!", CheckOut()),
    ("estoy bien", CheckOut()),
    ("OUT", CheckOut()),
    ("extender 30", Extend(30 * MIN)),
    ("en camino", Ack()),
    ("me encargo", Ack()),
    ("voy al hotel", Unknown()),
    ("resuelto", Resolved()),
    ("estado", Status()),
    ("AYUDA", Sos()),  # "¡ayuda!" is the cry: an alarm, not the menu
    ("¿ayuda?", Sos()),
    ("socorro", Sos()),
    ("auxilio", Sos()),
    ("ayúdame", Sos()),
    ("necesito ayuda", Sos()),
    ("menú", Help()),
    ("MENU", Help()),
    ("HELP", Help()),
    ("SOS", Sos()),
    ("emergencia", Sos()),
    ("Sálvame", Sos()),
    ("SALVAME", Sos()),
    ("rosa", Sos()),
    ("🌹", Sos()),
    ("ubicación 51.5,-0.12", Loc(Location(51.5, -0.12, None, "coordinates", "51.5,-0.12"))),
    ("cliente alto, coche rojo", Client("alto, coche rojo")),
    ("reporte no pagó", Report("no pagó")),
    ("revisar 612 34 56 78", Check("612 34 56 78")),
    ("diario me gritó", Log("me gritó")),
    ("exportar", Export()),
    ("olvidar", Forget(confirmed=False)),
    ("olvidar sí", Forget(confirmed=True)),
    ("OLVIDAR SI", Forget(confirmed=True)),
    ("quién", Who()),
    ("compañeras", Buddies()),
    ("aprobar 3", Approve(3)),
    ("rechazar 3 repetido", Reject(3, "repetido")),
    ("retirar 3", Withdraw(3)),
]

PORTUGUESE: list[tuple[str, Intent]] = [
    ("ENTREI 90 Motel", CheckIn(90 * MIN, "Motel")),
    ("entrei uma hora", CheckIn(HOUR, None)),
    ("entrei meia hora", CheckIn(30 * MIN, None)),
    ("SAÍ", CheckOut()),
    ("sai", CheckOut()),
    ("estou bem", CheckOut()),
    ("SOCORRO", Sos()),
    ("socorro, não entendi nada", Sos("não entendi nada")),  # in jest: one OUT undoes it
    ("ajuda", Sos()),
    ("me ajuda", Sos()),
    ("preciso de ajuda", Sos()),
    ("menu", Help()),
    ("emergência", Sos()),
    ("SOS", Sos()),
    ("a caminho", Ack()),
    ("esquecer sim", Forget(confirmed=True)),
    (
        "localização Rua Augusta 100",
        Loc(Location(None, None, "Rua Augusta 100", "address", "Rua Augusta 100")),
    ),
]

FRENCH: list[tuple[str, Intent]] = [
    ("ENTRÉE 90 Hôtel du Nord", CheckIn(90 * MIN, "Hôtel du Nord")),
    ("entree 1h30", CheckIn(90 * MIN, None)),
    ("entrée une heure", CheckIn(HOUR, None)),
    ("ENTRÉE Ritz jusqu'à 23h", BadArgument("in", "time_not_first")),
    ("ENTRÉE bientôt", BadArgument("in", "unreadable")),
    ("SORTIE", CheckOut()),
    ("AIDE", Help()),
    ("AU SECOURS", Sos()),
    ("au secours !", Sos()),
    ("à l'aide", Sos()),
    ("A L’AIDE !", Sos()),
    ("aidez-moi", Sos()),
    ("aide moi", Sos()),
    ("urgence", Sos()),
    ("SOS", Sos()),
    ("j'y vais", Ack()),
    ("J’y vais", Ack()),
    ("oublier oui", Forget(confirmed=True)),
    ("qui", Who()),
    ("binômes", Buddies()),
]


@pytest.mark.parametrize(
    ("table", "text", "expected"),
    cases(EN, ENGLISH) + cases(ES, SPANISH) + cases(PT, PORTUGUESE) + cases(FR, FRENCH),
)
def test_command_shapes(table: KeywordTable, text: str, expected: Intent) -> None:
    assert parse(text, table) == expected


def test_a_maps_link_in_a_check_in_note_is_its_location() -> None:
    intent = parse("IN 90 Hotel Rex https://maps.app.goo.gl/AbC123", EN)
    assert intent == CheckIn(
        90 * MIN,
        "Hotel Rex https://maps.app.goo.gl/AbC123",
        Location(None, None, None, "google-short", "https://maps.app.goo.gl/AbC123"),
    )


def test_a_long_note_is_kept_whole() -> None:
    note = "x" * 10_000
    assert parse(f"IN 90 {note}", EN) == CheckIn(90 * MIN, note)


# --- typos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "text", "expected"),
    [
        (EN, "STAUTS", Status()),  # two letters swapped
        (EN, "statsu", Status()),
        (EN, "statuss", Status()),  # one extra
        (EN, "stats", Status()),  # one missing
        (EN, "EXPROT", Export()),
        (EN, "CLEINT tall, beard", Client("tall, beard")),
        (EN, "REPROT grey van", Report("grey van")),
        (EN, "hell", Help()),
        (EN, "extned 30", Extend(30 * MIN)),
        (ES, "COMNADOS", Help()),
        (ES, "ENTOR 90", CheckIn(90 * MIN, None)),
        (FR, "SECOURS", Unknown()),  # a phrase's word alone is not the phrase
        (FR, "AIED", Help()),
    ],
)
def test_one_typo_is_forgiven_in_long_keywords(
    table: KeywordTable, text: str, expected: Intent
) -> None:
    assert parse(text, table) == expected


@pytest.mark.parametrize(
    ("text", "likely"),
    [
        ("SAFR", ("out",)),  # a near-miss of OUT asks, never ends a watch
        ("SAME", ("out",)),
        ("SAVE", ("out",)),
        ("OUTT", ("out",)),
        ("OTU", ("out",)),
        ("0UT", ("out",)),
        ("SAFEE", ("out",)),
        ("ACKK", ("ack",)),  # ACK stops an escalation
        ("RESOLVD", ("resolved",)),
        ("FORGOT", ("forget",)),  # FORGET deletes data
        ("TATUS", ("status",)),  # first letter wrong: asked, not guessed
        ("BALL", ("who",)),  # "call" with another first letter: asked, not guessed
        ("STATUSES", ()),  # two letters off: nothing near
        ("HEL", ("help",)),
    ],
)
def test_slips_on_words_where_a_guess_could_hurt_are_asked_about(
    text: str, likely: tuple[str, ...]
) -> None:
    intent = parse(text, EN)
    assert isinstance(intent, Unknown)
    assert intent.likely[: len(likely)] == likely, intent
    assert intent.reason == ("near" if likely else "unknown")


def test_a_typo_near_two_commands_is_not_guessed() -> None:
    table = KeywordTable.build(language="en", defaults=DEFAULTS, aliases={"check": ["statue"]})
    intent = parse("statux", table)
    assert isinstance(intent, Unknown) and set(intent.likely) == {"check", "status"}
    assert parse("statue 07700 900123", table) == Check("07700 900123")
    assert parse("statuss", table) == Status()


GUARDED = ("out", "ack", "resolved", "forget")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def one_typo_variants(word: str) -> set[str]:
    deletions = {word[:i] + word[i + 1 :] for i in range(len(word))}
    swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    substitutions = {word[:i] + c + word[i + 1 :] for i in range(len(word)) for c in LETTERS}
    insertions = {word[:i] + c + word[i:] for i in range(len(word) + 1) for c in LETTERS}
    return (deletions | swaps | substitutions | insertions) - {word}


@pytest.mark.parametrize("table", [EN, ES, PT, FR], ids=lambda t: t.language)
def test_no_typo_ever_reaches_an_out_an_ack_or_a_deletion(table: KeywordTable) -> None:
    for command in GUARDED:
        for word in table.words(command):
            if " " in word or not word.isalpha():
                continue
            for variant in one_typo_variants(word.lower()):
                if table.command_for(variant) == command:
                    continue  # another spelling listed on purpose ("resolve")
                intent = parse(variant, table)
                assert not (command == "out" and isinstance(intent, CheckOut)), variant
                assert not (command == "ack" and isinstance(intent, Ack)), variant
                assert not (command == "resolved" and isinstance(intent, Resolved)), variant
                assert not (command == "forget" and isinstance(intent, Forget)), variant


# --- duress word and check-in secret -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pineapple", Duress()),
        ("Pineapple!", Duress()),
        ("  PINEAPPLE  ", Duress()),
        ("/pineapple", Duress()),
        ("OUT pineapple", Duress()),
        ("safe pineapple", Duress()),
        ("pine apple", Unknown()),
        ("pineapples", Unknown()),
        ("OUT", CheckOut()),
    ],
)
def test_duress_word(text: str, expected: Intent) -> None:
    assert parse(text, EN, duress_word="Pineapple") == expected


def test_a_duress_phrase_ignores_case_accents_and_spacing() -> None:
    assert parse("home   SAFE", EN, duress_word="Home safe") == Duress()
    assert parse("tout va bien", FR, duress_word="Tout va bién") == Duress()
    assert parse("home safe now", EN, duress_word="home safe") == Unknown()


def test_the_duress_word_wins_over_a_keyword() -> None:
    # The rules validator refuses this configuration (table.command_for shows the clash);
    # if it slips through, a missed silent alarm is the worse mistake.
    assert EN.command_for("safe") == "out"
    assert parse("SAFE", EN, duress_word="safe") == Duress()


@pytest.mark.parametrize("blank", ["", "   ", "!!", "\u200b"])
def test_a_blank_duress_word_or_secret_is_ignored(blank: str) -> None:
    assert parse("", EN, duress_word=blank) == Unknown("empty")
    assert parse("OUT", EN, duress_word=blank, checkin_secret=blank) == CheckOut()


@pytest.mark.parametrize(
    ("text", "verified"),
    [
        ("OUT 4821", True),
        ("out 4821 thanks", True),
        ("SAFE 4821", True),
        ("out4821", True),
        ("OUT", False),
        ("OUT 1234", False),
        ("OUT 48211", False),
        ("SALGO 4821", None),  # Spanish word: not in the English table
    ],
)
def test_check_in_secret(text: str, verified: bool | None) -> None:
    intent = parse(text, EN, checkin_secret="4821")
    if verified is None:
        assert intent == Unknown()
    else:
        assert intent == CheckOut(verified=verified)


def test_a_secret_phrase_is_compared_normalised() -> None:
    assert parse("out BLUE  moon!", EN, checkin_secret="Blue Moon") == CheckOut(verified=True)
    assert parse("salgo blue moon", ES, checkin_secret="Blue Moon") == CheckOut(verified=True)
    assert parse("out blue", EN, checkin_secret="Blue Moon") == CheckOut(verified=False)


def test_duress_after_out_wins_over_the_secret() -> None:
    intent = parse("OUT 1111", EN, duress_word="1111", checkin_secret="4821")
    assert intent == Duress()


# --- Signal location shares -----------------------------------------------------------------

SHARE = "Alexanderplatz 1, 10178 Berlin, Germany\nhttps://maps.google.com/maps?q=52.5219184%2C13.4132147"
SHARED = Location(
    52.5219184,
    13.4132147,
    "Alexanderplatz 1, 10178 Berlin, Germany",
    "signal",
    "https://maps.google.com/maps?q=52.5219184%2C13.4132147",
)


def test_a_signal_share_is_a_location() -> None:
    assert parse(SHARE, EN) == Loc(SHARED)


def test_a_share_with_a_check_in_caption_is_a_check_in_with_its_location() -> None:
    assert parse(SHARE + "\n\nIN 90 Hotel Rex", EN) == CheckIn(90 * MIN, "Hotel Rex", SHARED)


def test_a_share_with_an_sos_caption_is_an_alarm_with_its_location() -> None:
    assert parse(SHARE + "\n\nSOS", EN) == Sos(None, SHARED)
    assert parse(SHARE + "\n\n🌹", ES) == Sos(None, SHARED)


def test_a_share_with_a_duress_caption_is_a_silent_alarm_with_its_location() -> None:
    assert parse(SHARE + "\n\npineapple", EN, duress_word="pineapple") == Duress(SHARED)


def test_a_share_with_other_text_keeps_the_text_as_its_note() -> None:
    assert parse(SHARE + "\n\nwith him now", EN) == Loc(SHARED, "with him now")
    assert parse(SHARE + "\n\nOUT", EN) == CheckOut()


def test_a_share_whose_place_name_reads_like_a_command_is_still_a_location() -> None:
    text = "Out & About\nMain St 3\nhttps://maps.google.com/maps?q=51.5%2C-0.12"
    assert parse(text, EN) == Loc(
        Location(
            51.5,
            -0.12,
            "Out & About, Main St 3",
            "signal",
            "https://maps.google.com/maps?q=51.5%2C-0.12",
        )
    )


def test_a_share_line_that_is_exactly_sos_raises_the_alarm() -> None:
    text = "SOS\nhttps://maps.google.com/maps?q=51.5%2C-0.12"
    intent = parse(text, EN)
    assert isinstance(intent, Sos)
    assert intent.location is not None and intent.location.lat == 51.5


def test_any_maps_link_alone_is_a_location() -> None:
    intent = parse("here https://www.google.com/maps/@51.5,-0.12,17z", EN)
    assert intent == Loc(
        Location(51.5, -0.12, None, "google", "https://www.google.com/maps/@51.5,-0.12,17z"), "here"
    )
    assert parse("geo:51.5,-0.12", EN) == Loc(Location(51.5, -0.12, None, "geo", "geo:51.5,-0.12"))


# --- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Unknown("empty")),
        ("   ", Unknown("empty")),
        ("\n\n\t", Unknown("empty")),
        ("\u200b\u200e\u202e\ufeff", Unknown("empty")),
        ("\x00\x01\x7f\x9f", Unknown("empty")),
        ("\ud800", Unknown("empty")),
        ("OUT\x00", CheckOut()),
        ("\ud800OUT", CheckOut()),
        ("\u202eTUO", Unknown()),  # looks like OUT on screen, is not
        ("😀😀😀", Unknown()),
        ("x" * 10_000, Unknown()),
        ("/", Unknown("empty")),
        ("!!!", Unknown("empty")),
        ("?!", Help()),
        ("IN " + "9" * 10_000, BadArgument("in", "unreadable")),
        ("IN " + "1" * 30, BadArgument("in", "unreadable")),
        ("APPROVE " + "9" * 50, BadArgument("approve", "unreadable")),
        ("IN \u0663\u0660", CheckIn(30 * MIN, None)),  # Arabic-Indic digits
        ("LOC geo:91,0", BadArgument("loc", "unreadable")),
        ("\ufffc", Unknown("empty")),
    ],
)
def test_malformed_input(text: str, expected: Intent) -> None:
    assert parse(text, EN) == expected


def test_not_even_text_is_answered() -> None:
    assert parse(None, EN) == Unknown("empty")  # type: ignore[arg-type]
    assert parse(b"OUT", EN) == Unknown("empty")  # type: ignore[arg-type]


# --- the keyword table ----------------------------------------------------------------------


def test_default_keyword_files_cover_every_command_in_every_language() -> None:
    from relay.core.commands import COMMANDS

    assert {"en", "es", "pt", "fr"} <= set(DEFAULTS)
    for language, words in DEFAULTS.items():
        assert set(words) == set(COMMANDS) | {"confirm"}, language


@pytest.mark.parametrize("language", sorted(DEFAULTS))
def test_default_keywords_have_no_conflicts(language: str) -> None:
    table = KeywordTable.build(language=language, defaults=DEFAULTS)
    assert table.conflicts() == ()
    assert table.problems() == ()


@pytest.mark.parametrize("language", sorted(DEFAULTS))
def test_help_words_are_never_an_alarm_and_sos_always_is(language: str) -> None:
    table = KeywordTable.build(language=language, defaults=DEFAULTS)
    for word in table.words("help"):
        assert parse(word, table) == Help(), word
        assert parse(word.upper() + "!", table) == Help(), word
    assert parse("SOS", table) == Sos()
    for word in table.words("sos"):
        assert parse(word, table) == Sos(), word


@pytest.mark.parametrize("language", sorted(DEFAULTS))
def test_every_default_word_parses_to_its_command(language: str) -> None:
    table = KeywordTable.build(language=language, defaults=DEFAULTS)
    for command, words in DEFAULTS[language].items():
        for word in words:
            if command != "confirm":
                assert table.command_for(word) == command, (command, word)


def test_english_words_work_in_every_language_and_own_words_come_first() -> None:
    assert ES.words("out")[:2] == ("salgo", "salí")
    assert "out" in ES.words("out")
    assert ES.words("sos")[-3:] == ("🌹", "rosa", "Sálvame")
    assert parse("OUT", PT) == CheckOut()


def test_a_regional_language_code_uses_its_language() -> None:
    table = KeywordTable.build(language="pt-BR", defaults=DEFAULTS)
    assert table.language == "pt"
    assert parse("SAÍ", table) == CheckOut()


def test_an_unknown_language_falls_back_to_english_and_says_so() -> None:
    table = KeywordTable.build(language="de", defaults=DEFAULTS)
    assert parse("OUT", table) == CheckOut()
    assert [p.kind for p in table.problems()] == ["unknown_language"]


def test_alias_conflicts_are_reported_and_the_alias_wins() -> None:
    table = KeywordTable.build(
        language="es", defaults=DEFAULTS, aliases={"sos": ["COMANDOS", "Menu"], "log": ["Menú"]}
    )
    conflicts = {c.word: c for c in table.conflicts()}
    assert set(conflicts) == {"comandos", "menu"}
    assert conflicts["comandos"].commands == ("help", "sos")
    assert conflicts["comandos"].chosen == "sos"
    assert conflicts["comandos"].sources == ("aliases", "es")
    # Two aliases for one word: the alarm wins over the log.
    assert conflicts["menu"].commands == ("help", "log", "sos")
    assert conflicts["menu"].chosen == "sos"
    assert conflicts["menu"].sources == ("aliases", "es", "en")
    assert parse("comandos", table) == Sos()


def test_bad_aliases_are_reported_not_used() -> None:
    table = KeywordTable.build(
        language="en", defaults=DEFAULTS, aliases={"panic": ["x"], "sos": ["!", "  ", "🌙"]}
    )
    kinds = sorted((p.kind, p.command) for p in table.problems())
    assert kinds == [("empty_word", "sos"), ("empty_word", "sos"), ("unknown_command", "panic")]
    assert parse("x", table) == Unknown()
    assert parse("🌙", table) == Sos()


def test_command_for_and_confirmation_words() -> None:
    assert ES.command_for("Sálvame") == "sos"
    assert ES.command_for("/SALGO") == "out"
    assert ES.command_for("pineapple") is None
    assert ES.is_confirmation("Sí") and ES.is_confirmation("yes")
    assert not EN.is_confirmation("sí")


def test_multi_word_aliases_and_emoji_with_variation_selectors() -> None:
    table = KeywordTable.build(
        language="en", defaults=DEFAULTS, aliases={"sos": ["red rose", "❤️"], "out": ["👋"]}
    )
    assert parse("Red  Rose", table) == Sos()
    assert parse("❤", table) == Sos()
    assert parse("❤\ufe0f", table) == Sos()
    assert parse("👋🏽", table) == CheckOut()  # skin tone ignored
