"""The rules loader never raises anything but RulesInvalid, and every error has a place.

Arbitrary text, arbitrary YAML documents built from the rules' own vocabulary, and random edits
of the sample files, written to real files and loaded. CI runs at least 2,000 examples in all;
``HYPOTHESIS_PROFILE=long`` runs twenty times as many.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.rules import Rules, RulesInvalid, load_rules
from relay.rules.document import COMMANDS, SECTIONS, RulesDocument

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.yaml"))
YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML 1.1 line breaks
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"


def fuzz(ci_examples: int) -> settings:
    """At least ``ci_examples`` examples; twenty times as many with HYPOTHESIS_PROFILE=long."""
    return settings(
        max_examples=ci_examples * 20 if LONG else ci_examples,
        deadline=None,  # file I/O on a busy CI runner: speed is not what is tested
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,  # the fixture is module-scoped, reset per example
        ],
    )


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the samples; each example rewrites one file and puts it back."""
    target = tmp_path_factory.mktemp("fuzz") / "rules"
    shutil.copytree(SAMPLES, target)
    yield target


def assert_only_placed_errors(path: Path) -> Rules | None:
    try:
        return load_rules(path, allow_placeholders=True)
    except RulesInvalid as exc:
        assert exc.errors, "RulesInvalid without an error"
        for issue in exc.issues:
            text = str(issue)
            assert "\n" not in text
            assert "Traceback" not in text
            assert issue.message
            if issue.line is None:
                assert issue.file == str(path), text  # only whole-folder problems lack a line
            else:
                assert issue.line >= 1, text
                file = Path(issue.file)
                assert file.parent == path or file == path, text
                content = file.read_bytes().decode("utf-8", errors="replace")
                assert issue.line <= len(YAML_BREAK.findall(content)) + 1, text
        return None


# ---- arbitrary text ----------------------------------------------------------------------------


@fuzz(800)
@given(text=st.text(max_size=400))
def test_arbitrary_text_in_one_file(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder = tmp_path_factory.getbasetemp() / "text"
    folder.mkdir(exist_ok=True)
    (folder / "rules.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_only_placed_errors(folder)


@fuzz(300)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_in_one_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    folder = tmp_path_factory.getbasetemp() / "bytes"
    folder.mkdir(exist_ok=True)
    (folder / "rules.yaml").write_bytes(data)
    assert_only_placed_errors(folder)


# ---- arbitrary documents in the rules' vocabulary ----------------------------------------------


def _field_names() -> list[str]:
    names: set[str] = set(SECTIONS) | set(COMMANDS)
    for definition in RulesDocument.model_json_schema()["$defs"].values():
        names.update(definition.get("properties", {}))
    return sorted(names)


KEYS = st.sampled_from(
    [*_field_names(), "alice", "bob", "carol", "dana", "night-shift", "support-line", "en", "es"]
) | st.text(max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True)
    | st.text(max_size=16)
    | st.sampled_from(
        [
            "2h", "90", "0", "10m", "1h30", "-5m", "99999999w", "never", "silence", "neutral",
            "+1 202-555-0101", "+12025550199", "+447700900123", "+49 151 12345678", "911",
            "alice", "bob", "Alice", "night-shift", "group.c2FtcGxlLWdyb3VwLXJlcGxhY2UtbWU=",
            "en", "es", "Europe/London", "Mars/Base", "🆘", "/sos", "OUT", "moderators",
            "direct", "true", "yes", "no", "~",
        ]
    )
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=15,
)
DOCUMENTS = st.dictionaries(st.sampled_from(SECTIONS) | KEYS, VALUES, max_size=4)


@fuzz(300)
@given(documents=st.lists(DOCUMENTS, min_size=1, max_size=2))
def test_arbitrary_documents_in_several_files(
    tmp_path_factory: pytest.TempPathFactory, documents: list[dict[str, object]]
) -> None:
    folder = tmp_path_factory.getbasetemp() / "docs"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for index, document in enumerate(documents):
        text = yaml.dump(document, Dumper=DUMPER, allow_unicode=True, sort_keys=False)
        (folder / f"part{index}.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_only_placed_errors(folder)


# ---- edits of the samples ------------------------------------------------------------------------

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
WORD = re.compile(r"[^\s:\[\],#\"]+")


@st.composite
def edited(draw: st.DrawFn, original: str) -> str:
    lines = original.splitlines(keepends=True)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not lines:
            break
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(
            st.sampled_from(
                ["drop", "repeat", "swap", "indent", "dedent", "word", "text", "char", "cut"]
            )
        )
        if action == "drop":
            del lines[i]
        elif action == "repeat":
            lines.insert(i, lines[i])
        elif action == "swap":
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif action == "indent":
            lines[i] = "  " + lines[i]
        elif action == "dedent":
            lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i].lstrip()
        elif action == "word":
            words = list(WORD.finditer(lines[i]))
            if words:
                w = draw(st.sampled_from(words))
                new = draw(SCALARS.map(lambda v: "" if v is None else str(v)) | KEYS)
                lines[i] = lines[i][: w.start()] + new + lines[i][w.end() :]
        elif action == "text":
            lines[i] = draw(st.text(max_size=40)) + "\n"
        elif action == "char":
            at = draw(st.integers(min_value=0, max_value=len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.characters()) + lines[i][at:]
        else:
            at = draw(st.integers(min_value=0, max_value=len(lines[i])))
            lines[i] = lines[i][:at]
    return "".join(lines)


@fuzz(700)
@given(data=st.data(), name=st.sampled_from(SAMPLE_FILES))
def test_edited_samples(rules_dir: Path, data: st.DataObject, name: str) -> None:
    original = (SAMPLES / name).read_text(encoding="utf-8")
    text = data.draw(edited(original), label=name)
    target = rules_dir / name
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        rules = assert_only_placed_errors(rules_dir)
        if text == original:
            assert rules is not None
    finally:
        target.write_text(original, encoding="utf-8")


def test_the_unedited_copy_loads(rules_dir: Path) -> None:
    # The fuzzing above means something only if the untouched samples are valid.
    assert assert_only_placed_errors(rules_dir) is not None
