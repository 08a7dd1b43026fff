"""Anchors, aliases and merge keys cannot stall the loader (issue 17, finding 4).

An 886-byte keywords file with 24 nested ``<<: [*b, *b]`` ran `peer-relay check` past a minute
(each level doubled the work, and keys a merge skipped never counted toward the size bound). Now
every key looked at and every mapping merged in counts: such a file is refused in milliseconds
with one line naming the file and line. A fuzz test builds documents of nested merges, anchors and
aliases and loads each as a real rules folder: every one finishes in under a second, loading or
refused with placed errors. The config file takes no anchors at all.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.config import ConfigInvalid, load_config
from relay.rules import RulesInvalid, load_rules
from tests.integration.test_rules_fuzz import SAMPLES, assert_only_placed_errors, fuzz

BUDGET_S = 1.0


def merge_bomb(levels: int, fan: int = 2) -> str:
    """The audit's file: each level's mapping merges the level below `fan` times."""
    lines = ["keywords:", "  en:", '    l0: &b0 {sos: "x", out: "y"}']
    for level in range(1, levels + 1):
        sources = ", ".join([f"*b{level - 1}"] * fan)
        lines.append(f'    l{level}: &b{level} {{<<: [{sources}], k{level}: "v"}}')
    return "\n".join(lines) + "\n"


def with_file(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "rules"
    if not folder.exists():
        shutil.copytree(SAMPLES, folder)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def timed_load(folder: Path) -> tuple[float, RulesInvalid | None]:
    started = time.perf_counter()
    try:
        load_rules(folder, allow_placeholders=True)
    except RulesInvalid as exc:
        return time.perf_counter() - started, exc
    return time.perf_counter() - started, None


def test_the_audits_merge_bomb_is_refused_at_once_with_file_and_line(tmp_path: Path) -> None:
    text = merge_bomb(24)
    assert len(text.encode()) < 1200  # about the audit's 886 bytes
    folder = with_file(tmp_path, "keywords.yaml", text)
    elapsed, refused = timed_load(folder)
    assert elapsed < BUDGET_S, f"{elapsed:.2f}s"
    assert refused is not None
    found = [i for i in refused.issues if "anchors and aliases are expanded" in i.message]
    assert len(found) == 1 and found[0].file.endswith("keywords.yaml")
    assert found[0].line is not None and 3 <= found[0].line <= 27
    assert "\n" not in str(found[0])


def test_a_few_honest_merges_still_work(tmp_path: Path) -> None:
    """Merges a collective might write (shared timings for several members) still load."""
    members = (SAMPLES / "members.yaml").read_text(encoding="utf-8")
    members = members.replace("members:\n", "x-shared: &shared {language: en}\nmembers:\n", 1)
    folder = with_file(tmp_path, "members.yaml", members)
    _, refused = timed_load(folder)
    # x-shared is not a section the rules know: refused for that, not for size or time.
    assert refused is not None
    assert all("expanded" not in i.message for i in refused.issues)
    folder = with_file(tmp_path, "keywords.yaml", merge_bomb(3))
    elapsed, refused = timed_load(folder)
    assert elapsed < BUDGET_S
    assert refused is None or all("expanded" not in i.message for i in refused.issues)


@st.composite
def anchored_documents(draw: st.DrawFn) -> str:
    """Nested merges, anchors and aliases: each level merges the level below one to three times
    (what doubles the work), with other earlier levels merged, listed or aliased beside it."""
    levels = draw(st.integers(min_value=1, max_value=40))
    lines = ["keywords:", "  en:", '    l0: &b0 {sos: "x", out: "y"}']
    for level in range(1, levels + 1):
        below = [f"*b{level - 1}"] * draw(st.integers(min_value=1, max_value=3))
        others = draw(st.lists(st.integers(min_value=0, max_value=level - 1), max_size=3))
        refs = ", ".join([*below, *(f"*b{i}" for i in others)])
        form = draw(st.sampled_from(["merge"] * 7 + ["nested"] * 2 + ["alias"]))
        if form == "merge":
            value = f'{{<<: [{refs}], k{level}: "v"}}'
        elif form == "nested":
            value = f"{{<<: [{refs}], m{level}: {{<<: [{refs}]}}, s: [{refs}]}}"
        else:
            value = f"*b{level - 1}"
        lines.append(f"    l{level}: &b{level} {value}")
    return "\n".join(lines) + "\n"


@fuzz(100)
@given(text=anchored_documents())
def test_nested_merges_anchors_and_aliases_finish_within_a_second(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    folder = tmp_path_factory.getbasetemp() / "bombs" / "rules"
    if not folder.exists():
        shutil.copytree(SAMPLES, folder)
    (folder / "keywords.yaml").write_text(text, encoding="utf-8")
    started = time.perf_counter()
    assert_only_placed_errors(folder)
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET_S, f"{elapsed:.2f}s for a {len(text)}-byte file"


def test_the_config_takes_no_anchors_or_aliases(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    bomb = ["a0: &a0 {x: 1}"]
    bomb += [f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], y: 1}}" for i in range(1, 30)]
    path.write_text("\n".join(bomb) + "\n", encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ConfigInvalid) as refused:
        load_config(path)
    assert time.perf_counter() - started < BUDGET_S
    (problem,) = refused.value.issues
    assert problem.startswith(f"{path}:1:") and "anchors" in problem and "\n" not in problem
