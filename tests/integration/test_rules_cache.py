"""The sealed copy of the last good rules (relay.rules.compiled): it gives back exactly the rules a
full check would, and only for exactly the inputs it was made from."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.rules import RulesInvalid, compiled, load_rules
from relay.rules.compiled import from_plain, load_rules_cached, to_plain
from relay.rules.model import Rules

SAMPLES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(SAMPLES, target)
    return target


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(MasterKey.generate())


def same(a: Rules, b: Rules) -> None:
    """Equal values, and equal answers to the questions the relay asks of them."""
    assert to_plain(a) == to_plain(b)
    assert a.warnings == b.warnings and a.files == b.files
    for alias, member in a.members.items():
        assert b.members[alias] == member
        assert b.member_by_number(member.number) == a.member_by_number(member.number)
        assert b.buddies_of(alias) == a.buddies_of(alias)
        assert b.timings_for(alias) == a.timings_for(alias)
        for kind in ("missed", "sos", "duress"):
            assert b.alert_path(alias, kind) == a.alert_path(alias, kind)


def never_loaded(*args: object, **kwargs: object) -> Rules:
    raise AssertionError("the rules were checked in full again")


def test_the_plain_form_gives_back_the_same_rules(folder: Path) -> None:
    rules = load_rules(folder, allow_placeholders=True)
    assert rules.warnings  # the sample's placeholder numbers: warnings survive the copy too
    same(rules, from_plain(to_plain(rules)))


def test_a_second_start_reads_the_copy_and_gets_the_same_rules(
    folder: Path, tmp_path: Path, sealer: Sealer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "rules.cache"
    first, print1 = load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert b"alice" not in cache.read_bytes() and b"202" not in cache.read_bytes()  # sealed
    monkeypatch.setattr(compiled, "load_rules", never_loaded)
    second, print2 = load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    same(first, second)
    assert print1 == print2


def test_an_edit_is_read_in_full(folder: Path, tmp_path: Path, sealer: Sealer) -> None:
    cache = tmp_path / "rules.cache"
    load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    members = folder / "members.yaml"
    members.write_text(
        members.read_text() + '\n  fiona:\n    number: "+1 202-555-0106"\n    buddies: [dana]\n'
    )
    edited, _ = load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    assert "fiona" in edited.members
    again, _ = load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    assert "fiona" in again.members  # and the copy now is of the edited rules


def test_a_copy_made_with_placeholders_allowed_does_not_let_them_through_without(
    folder: Path, tmp_path: Path, sealer: Sealer
) -> None:
    cache = tmp_path / "rules.cache"
    load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    with pytest.raises(RulesInvalid) as refused:
        load_rules_cached(folder, cache, sealer, allow_placeholders=False)
    assert any("made-up" in str(issue) for issue in refused.value.issues)


def test_invalid_rules_leave_no_copy_and_an_old_copy_does_not_stand_in(
    folder: Path, tmp_path: Path, sealer: Sealer
) -> None:
    cache = tmp_path / "rules.cache"
    timings = folder / "timings.yaml"
    good = timings.read_text()
    timings.write_text(good.replace("grace: 10m", "grace: ["))
    with pytest.raises(RulesInvalid):
        load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    assert not cache.exists()
    timings.write_text(good)
    load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    timings.write_text(good.replace("grace: 10m", "grace: ["))
    with pytest.raises(RulesInvalid):
        load_rules_cached(folder, cache, sealer, allow_placeholders=True)


@pytest.mark.parametrize("damage", ["another key", "flipped byte", "truncated", "other code"])
def test_a_copy_that_does_not_open_is_ignored_and_made_again(
    folder: Path, tmp_path: Path, sealer: Sealer, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    cache = tmp_path / "rules.cache"
    first, _ = load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    reader = sealer
    if damage == "another key":
        reader = Sealer(MasterKey.generate())
    elif damage == "flipped byte":
        blob = bytearray(cache.read_bytes())
        blob[len(blob) // 2] ^= 1
        cache.write_bytes(bytes(blob))
    elif damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:40])
    else:
        monkeypatch.setattr(compiled, "_code_digest", lambda: "an upgraded relay")
    loaded = []
    monkeypatch.setattr(
        compiled, "load_rules", lambda *a, **k: loaded.append(1) or load_rules(*a, **k)
    )
    again, _ = load_rules_cached(folder, cache, reader, allow_placeholders=True)
    same(first, again)
    assert loaded == [1]
    load_rules_cached(folder, cache, reader, allow_placeholders=True)
    assert loaded == [1]  # the copy was made again, for this key and code


def test_discard_removes_the_copy(folder: Path, tmp_path: Path, sealer: Sealer) -> None:
    cache = tmp_path / "rules.cache"
    load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    compiled.discard(cache)
    assert not cache.exists()
    compiled.discard(cache)  # twice is fine


def test_a_first_start_makes_the_data_directory_owner_only(
    folder: Path, tmp_path: Path, sealer: Sealer
) -> None:
    cache = tmp_path / "data" / "rules.cache"  # the key came from elsewhere (a credential)
    load_rules_cached(folder, cache, sealer, allow_placeholders=True)
    assert cache.exists()
    assert stat.S_IMODE(cache.parent.stat().st_mode) & 0o077 == 0
