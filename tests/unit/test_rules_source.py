"""The rules' YAML dialect and line map, from text (no files)."""

from __future__ import annotations

import pytest

from relay.rules.source import format_path, merge, parse_text


def test_every_key_and_item_has_its_line() -> None:
    source = parse_text("members:\n  alice:\n    buddies:\n      - bob\n      - carol\n", "m.yaml")
    assert source.issues == []
    assert source.lines[("members",)] == 1
    assert source.lines[("members", "alice")] == 2
    assert source.lines[("members", "alice", "buddies")] == 3
    assert source.lines[("members", "alice", "buddies", 1)] == 5


def test_scalars_stay_text_except_null() -> None:
    source = parse_text("a: no\nb: +44 7700\nc: 1:30\nd: 010\ne:\nf: ~\ng: true\nh: 1e3\n", "x")
    assert source.data == {
        "a": "no", "b": "+44 7700", "c": "1:30", "d": "010", "e": None, "f": None,
        "g": "true", "h": "1e3",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: 1\na: 2\n", 2, "defined twice in this file (first at line 1)"),
        ("? [a]\n: 1\n", 1, "a key must be a plain name, not a list or mapping"),
        ("~: 1\n", 1, "a key is empty"),
        ("a: !secret x\n", 1, "YAML tags (!…) are not used in rules files"),
        ("a: &x [1, *x]\n", 1, "an alias refers to the anchor that contains it"),
        ("a: {<<: [1]}\n", 1, "'<<' must name a mapping (an anchor like *defaults)"),
        ("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 60)), 42, "nested too deeply"),
    ],
)
def test_refusals(text: str, line: int, message: str) -> None:
    (issue,) = parse_text(text, "x.yaml").issues
    assert (issue.file, issue.line, issue.message) == ("x.yaml", line, message)


def test_merge_keys_fill_in_without_overriding() -> None:
    source = parse_text("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n", "x")
    assert source.data == {"base": {"x": "1", "y": "2"}, "use": {"x": "1", "y": "3"}}
    assert source.lines[("use", "y")] == 2


def test_merging_files_keeps_each_path_in_its_own_file() -> None:
    one = parse_text("members:\n  a: {n: 1}\nlist:\n  - x\n", "one.yaml")
    two = parse_text("\nmembers:\n  b: {n: 2}\n  a: {n: 3}\nlist:\n  - y\n", "two.yaml")
    merged = merge([one, two], {"members": "mapping", "list": "list"})
    assert merged.data == {"members": {"a": {"n": "1"}, "b": {"n": "2"}}, "list": ["x", "y"]}
    assert merged.locate(("members", "b", "n")) == merged.where[("members", "b", "n")]
    assert (merged.where[("members", "b")].file, merged.where[("members", "b")].line) == (
        "two.yaml", 3)  # fmt: skip
    assert merged.where[("list", 1)].file == "two.yaml"
    (duplicate,) = merged.issues
    assert str(duplicate) == "two.yaml:4: members.a: defined twice (first in one.yaml:2)"


def test_paths_read_like_the_file() -> None:
    assert format_path(("members", "alice", "buddies", 1)) == "members.alice.buddies[1]"
    assert format_path(("directory", 0, "for")) == "directory[0].for"
    assert format_path(("k" * 50,)) == "k" * 40 + "…"
