"""The peers: section (partner relays, issue 20) from real YAML files: what loads, what the relay
asks of it, and every mistake as one line at the file and line the admin must edit."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from relay.crypto import MasterKey, Sealer
from relay.crypto.peer_keys import decode_public, encode_public, fingerprint
from relay.rules import Partner, RuleIssue, Rules, RulesInvalid, load_rules
from relay.rules.compiled import from_plain, to_plain

SAMPLES = Path(__file__).resolve().parents[2] / "rules"


def new_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return encode_public(raw)


KEY_A = encode_public(Sealer(MasterKey(bytes(range(32)))).peer_public_key())
KEY_B = encode_public(Sealer(MasterKey(bytes(range(1, 33)))).peer_public_key())

MEMBERS = """\
members:
  alice:
    number: "+1 202-555-0101"
    buddies: [bob]
    moderator: true
    admin: true
  bob:
    number: "+1 202-555-0102"
contacts:
  line:
    number: "+1 202-555-0190"
    label: Night line
escalation:
  missed:
    - buddies: true
    - admin: true
"""
PEERS = f"""\
peers:
  name: Night Owls
  partners:
    bristol:
      number: "+61 491 570 156"
      key: "{KEY_A}"
      send:
        min_severity: 2
        categories: [violence, sexual-violence]
      daily_cap: 30
    leeds:
      number: "+1 202-555-0150"
      key: "{KEY_B}"
      accept: false
"""
BASE = {"members.yaml": MEMBERS, "peers.yaml": PEERS}


def write(folder: Path, files: Mapping[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def edit(files: Mapping[str, str], name: str, old: str, new: str) -> dict[str, str]:
    assert old in files[name], f"{old!r} not in {name}"
    return {**files, name: files[name].replace(old, new, 1)}


def problems(folder: Path, allow_placeholders: bool = True) -> list[RuleIssue]:
    with pytest.raises(RulesInvalid) as caught:
        load_rules(folder, allow_placeholders=allow_placeholders)
    return caught.value.errors


def load(folder: Path) -> Rules:
    return load_rules(folder, allow_placeholders=True)


# ---- what loads ----------------------------------------------------------------------------------


def test_partners_load_with_every_field(tmp_path: Path) -> None:
    rules = load(write(tmp_path / "rules", BASE))
    assert rules.peers.name == "Night Owls"
    assert list(rules.peers.partners) == ["bristol", "leeds"]
    bristol = rules.peers.partners["bristol"]
    assert bristol == Partner(
        label="bristol",
        number="+61491570156",  # type: ignore[arg-type]
        key=decode_public(KEY_A) or b"",
        sends=True,
        min_severity=2,
        categories=frozenset({"violence", "sexual-violence"}),
        accepts=True,
        daily_cap=30,
    )
    leeds = rules.peers.partners["leeds"]
    # No send: nothing goes to it; the defaults otherwise.
    assert (leeds.sends, leeds.min_severity, leeds.categories) == (False, 1, None)
    assert (leeds.accepts, leeds.daily_cap) == (False, 20)
    assert len(leeds.key) == 32


def test_send_empty_braces_sends_everything(tmp_path: Path) -> None:
    files = edit(BASE, "peers.yaml", "      accept: false", "      send: {}")
    leeds = load(write(tmp_path / "rules", files)).peers.partners["leeds"]
    assert (leeds.sends, leeds.min_severity, leeds.categories) == (True, 1, None)


def test_partners_are_found_by_number_however_it_is_written(tmp_path: Path) -> None:
    rules = load(write(tmp_path / "rules", BASE))
    for written in ("+61491570156", "+61 491 570 156", " +61 (491) 570-156 "):
        found = rules.partner_by_number(written)
        assert found is not None and found.label == "bristol"
    assert rules.partner_by_number("+12025550150") is rules.peers.partners["leeds"]
    assert rules.partner_by_number("+12025550101") is None  # a member is not a partner
    assert rules.partner_by_number("not a number") is None
    assert rules.partner_by_number("") is None


def test_no_peers_section_means_no_partners(tmp_path: Path) -> None:
    rules = load(write(tmp_path / "rules", {"members.yaml": MEMBERS}))
    assert rules.peers.name is None
    assert dict(rules.peers.partners) == {}
    assert rules.partner_by_number("+61 491 570 156") is None


def test_a_name_without_partners_is_fine(tmp_path: Path) -> None:
    rules = load(
        write(tmp_path / "rules", {"members.yaml": MEMBERS, "p.yaml": "peers:\n  name: X\n"})
    )
    assert rules.peers.name == "X" and not rules.peers.partners


def test_the_partners_cannot_be_changed_and_never_show_numbers_or_keys(tmp_path: Path) -> None:
    rules = load(write(tmp_path / "rules", BASE))
    assert isinstance(rules.peers.partners, MappingProxyType)
    with pytest.raises(TypeError):
        rules.peers.partners["x"] = rules.peers.partners["leeds"]  # type: ignore[index]
    shown = repr(rules.peers) + repr(rules.peers.partners["bristol"])
    assert "bristol" in shown
    for secret in ("491", "570156", KEY_A[8:20], decode_public(KEY_A)):
        assert str(secret) not in shown


def test_sections_may_be_split_over_files(tmp_path: Path) -> None:
    head, partners = PEERS.split("  partners:\n")
    files = {"members.yaml": MEMBERS, "a.yaml": head, "b.yaml": "peers:\n  partners:\n" + partners}
    rules = load(write(tmp_path / "rules", files))
    assert rules.peers.name == "Night Owls" and set(rules.peers.partners) == {"bristol", "leeds"}


def test_the_sealed_cache_gives_back_the_same_partners(tmp_path: Path) -> None:
    rules = load(write(tmp_path / "rules", BASE))
    again = from_plain(json.loads(json.dumps(to_plain(rules))))
    assert again.peers == rules.peers
    assert isinstance(again.peers.partners, MappingProxyType)
    bristol = again.peers.partners["bristol"]
    assert isinstance(bristol.key, bytes) and isinstance(bristol.categories, frozenset)
    assert again.partner_by_number("+61 491 570 156") == rules.peers.partners["bristol"]


# ---- the samples ---------------------------------------------------------------------------------


def test_the_sample_has_two_partners_and_a_real_run_refuses_its_numbers_and_keys() -> None:
    rules = load(SAMPLES)
    assert set(rules.peers.partners) == {"bristol", "leeds"}
    errors = problems(SAMPLES, allow_placeholders=False)
    paths = {e.path for e in errors}
    for label in ("bristol", "leeds"):
        assert f"peers.partners.{label}.number" in paths
        assert f"peers.partners.{label}.key" in paths
    keys = [e for e in errors if e.path.endswith(".key")]
    assert all(e.file == str(SAMPLES / "peers.yaml") and "made-up key" in e.message for e in keys)


def test_the_sample_numbers_are_used_nowhere_else_in_the_samples() -> None:
    rules = load(SAMPLES)
    for partner in rules.peers.partners.values():
        assert rules.member_by_number(partner.number) is None
        assert all(c.number != partner.number for c in rules.contacts.values())


# ---- mistakes, one line each at their place ---------------------------------------------------

# (file, old text, new text, text on the reported line, path, words in the message)
MISTAKES: Sequence[tuple[str, str, str, str, str, str]] = [
    (
        "peers.yaml",
        f'key: "{KEY_A}"',
        f'key: "{KEY_A[8:]}"',
        "key:",
        "peers.partners.bristol.key",
        "it starts with ed25519:",
    ),
    (
        "peers.yaml",
        f'key: "{KEY_A}"',
        f'key: "{KEY_A[:-3]}="',
        "key:",
        "peers.partners.bristol.key",
        "42 characters after ed25519: instead of 44",
    ),
    (
        "peers.yaml",
        f'key: "{KEY_A}"',
        'key: "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="',  # the identity point
        "key:",
        "peers.partners.bristol.key",
        "not a valid key",
    ),
    (
        "peers.yaml",
        f'key: "{KEY_A}"',
        f'key: "{KEY_A.replace("ed25519:", "Ed25519:")}"',
        "key:",
        "peers.partners.bristol.key",
        "it starts with ed25519:",
    ),
    (
        "peers.yaml",
        f'key: "{KEY_A}"',
        "key: [1, 2]",
        "key:",
        "peers.partners.bristol.key",
        "peer-relay identity",
    ),
    (
        "peers.yaml",
        f'key: "{KEY_B}"',
        f'key: "{KEY_A}"',
        KEY_A,
        "peers.partners.leeds.key",
        "the same key as partner 'bristol'",
    ),
    (
        "peers.yaml",
        '"+1 202-555-0150"',
        '"+1 (202) 555-0101"',
        "555-0101",
        "peers.partners.leeds.number",
        "the same number as member 'alice'",
    ),
    (
        "peers.yaml",
        '"+1 202-555-0150"',
        '"+1 202-555-0190"',
        "555-0190",
        "peers.partners.leeds.number",
        "the same number as contact 'line'",
    ),
    (
        "peers.yaml",
        '"+1 202-555-0150"',
        '"+61491570156"',
        "+61491570156",
        "peers.partners.leeds.number",
        "the same number as partner 'bristol'",
    ),
    (
        "peers.yaml",
        '"+1 202-555-0150"',
        '"+1 202-555-01"',
        "555-01",
        "peers.partners.leeds.number",
        "not a valid phone number",
    ),
    ("peers.yaml", "  name: Night Owls\n", "", "peers:", "peers", "name: is required"),
    (
        "peers.yaml",
        "  name: Night Owls",
        "  name: " + "N" * 81,
        "NNN",
        "peers.name",
        "at most 80 characters",
    ),
    (
        "peers.yaml",
        "  name: Night Owls",
        "  nam: Night Owls",
        "nam:",
        "peers.nam",
        "did you mean 'name'",
    ),
    (
        "peers.yaml",
        "      accept: false",
        "      acept: false",
        "acept",
        "peers.partners.leeds.acept",
        "did you mean 'accept'",
    ),
    (
        "peers.yaml",
        "      accept: false",
        "      accept: sometimes",
        "sometimes",
        "peers.partners.leeds.accept",
        "true or false",
    ),
    ("peers.yaml", "    leeds:", "    Leeds:", "Leeds", "peers.partners.Leeds", "lower case"),
    (
        "peers.yaml",
        "categories: [violence, sexual-violence]",
        "categories: [violence, sexual-violnce]",
        "sexual-violnce",
        "peers.partners.bristol.send.categories[1]",
        "did you mean 'sexual-violence'",
    ),
    (
        "peers.yaml",
        "categories: [violence, sexual-violence]",
        "categories: [violence, cheapskate]",
        "cheapskate",
        "peers.partners.bristol.send.categories[1]",
        "not a category: one of violence, sexual-violence",
    ),
    (
        "peers.yaml",
        "categories: [violence, sexual-violence]",
        "categories: [Time Waster]",
        "Time Waster",
        "peers.partners.bristol.send.categories[0]",
        "write it as 'time-waster'",
    ),
    (
        "peers.yaml",
        "categories: [violence, sexual-violence]",
        "categories: []",
        "categories",
        "peers.partners.bristol.send.categories",
        "at least one",
    ),
    (
        "peers.yaml",
        "min_severity: 2",
        "min_severity: 4",
        "min_severity",
        "peers.partners.bristol.send.min_severity",
        "1 (time-waster), 2 (unsafe) or 3 (violent)",
    ),
    (
        "peers.yaml",
        "min_severity: 2",
        "min_severity: high",
        "min_severity",
        "peers.partners.bristol.send.min_severity",
        "1 (time-waster), 2 (unsafe) or 3 (violent)",
    ),
    (
        "peers.yaml",
        "daily_cap: 30",
        "daily_cap: 0",
        "daily_cap",
        "peers.partners.bristol.daily_cap",
        "greater than or equal to 1",
    ),
    (
        "peers.yaml",
        "daily_cap: 30",
        "daily_cap: 501",
        "daily_cap",
        "peers.partners.bristol.daily_cap",
        "less than or equal to 500",
    ),
    (
        "peers.yaml",
        "      daily_cap: 30",
        "      daily_cap: 30\n      limit: 5",
        "limit",
        "peers.partners.bristol.limit",
        "unknown field",
    ),
    (
        "peers.yaml",
        "        min_severity: 2",
        "        min_severity: 2\n        max_severity: 3",
        "max_severity",
        "peers.partners.bristol.send.max_severity",
        "unknown field",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "on_line", "path", "words"), MISTAKES)
def test_each_mistake_is_one_line_at_its_place(
    tmp_path: Path, file: str, old: str, new: str, on_line: str, path: str, words: str
) -> None:
    folder = write(tmp_path / "rules", edit(BASE, file, old, new))
    errors = problems(folder)
    assert len(errors) == 1, [str(e) for e in errors]
    (error,) = errors
    assert error.path == path
    assert words in error.message, str(error)
    assert error.file == str(folder / file)
    shown = (folder / file).read_text(encoding="utf-8").splitlines()[(error.line or 0) - 1]
    assert on_line.splitlines()[0].strip() in shown, (str(error), shown)


@pytest.mark.parametrize(
    "section",
    ["peers: [bristol]", "peers:\n  name: X\n  partners: [bristol]", "peers: nobody"],
)
def test_a_section_of_the_wrong_shape_is_one_line(tmp_path: Path, section: str) -> None:
    folder = write(tmp_path / "rules", {"members.yaml": MEMBERS, "peers.yaml": section + "\n"})
    (error,) = problems(folder)
    assert error.file == str(folder / "peers.yaml") and error.line is not None
    assert error.path in ("peers", "peers.partners")


def test_one_partners_mistake_does_not_hide_anothers(tmp_path: Path) -> None:
    files = edit(BASE, "peers.yaml", "daily_cap: 30", "daily_cap: lots")
    files = edit(files, "peers.yaml", '"+1 202-555-0150"', '"+1 202-555-0102"')
    errors = problems(write(tmp_path / "rules", files))
    assert {e.path for e in errors} == {
        "peers.partners.bristol.daily_cap",
        "peers.partners.leeds.number",
    }


def test_an_empty_send_warns_that_nothing_is_sent(tmp_path: Path) -> None:
    files = edit(BASE, "peers.yaml", "      accept: false", "      send:")
    folder = write(tmp_path / "rules", files)
    rules = load(folder)
    assert not rules.peers.partners["leeds"].sends
    (warning,) = [w for w in rules.warnings if not w.path.endswith(".number")]
    assert warning.path == "peers.partners.leeds.send" and "send: {}" in warning.message
    assert warning.line == PEERS.count("\n", 0, PEERS.index("accept: false")) + 1


def test_a_placeholder_number_is_refused_for_a_real_run_as_for_contacts(tmp_path: Path) -> None:
    members = (
        MEMBERS.replace('"+1 202-555-0101"', '"+61 491 570 006"')
        .replace('"+1 202-555-0102"', '"+61 491 570 157"')
        .replace('"+1 202-555-0190"', '"+61 491 570 158"')
    )
    folder = write(tmp_path / "rules", {"members.yaml": members, "peers.yaml": PEERS})
    (error,) = problems(folder, allow_placeholders=False)
    assert error.path == "peers.partners.leeds.number" and "made-up number" in error.message
    (warning,) = load(folder).warnings
    assert warning.path == "peers.partners.leeds.number"


def test_errors_never_quote_numbers_or_keys(tmp_path: Path) -> None:
    other = new_key()
    files = edit(BASE, "peers.yaml", f'key: "{KEY_A}"', f'key: "{other[:-2]}x="')
    files = edit(files, "peers.yaml", '"+1 202-555-0150"', '"+1 202-555-0101"')
    errors = problems(write(tmp_path / "rules", files))
    assert len(errors) == 2
    text = "\n".join(str(e) for e in errors)
    for secret in (other[8:30], "555-0101", "2025550101"):
        assert secret not in text


def test_a_fingerprint_read_from_check_matches_the_partners_own(tmp_path: Path) -> None:
    # What the two admins compare: the partner's `identity` shows fingerprint(its own key); this
    # side's `check` shows the fingerprint of the key in its rules.
    partner_relay = Sealer(MasterKey(bytes(range(32))))
    rules = load(write(tmp_path / "rules", BASE))
    assert fingerprint(rules.peers.partners["bristol"].key) == fingerprint(
        partner_relay.peer_public_key()
    )


def test_the_sample_folder_still_loads_with_peers_copied_in_twice_refused(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(SAMPLES, folder)
    shutil.copy(folder / "peers.yaml", folder / "peers-again.yaml")
    errors = problems(folder)
    assert errors and all("defined twice" in e.message for e in errors)
