"""The JSON Schema shipped in rules/ is current, and agrees with the loader on the samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from relay.rules.schema import SCHEMA_FILE, render

jsonschema = pytest.importorskip("jsonschema")

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
_KEY = "ed25519:4lIHf6/WvdEswsyjQDEyLImcqVY6ebV5PISTIkOgdrI="


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads((SAMPLES / SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_generated_from_the_current_models() -> None:
    shipped = (SAMPLES / SCHEMA_FILE).read_text(encoding="utf-8")
    assert shipped == render(), "run: python -m relay.rules.schema > rules/rules.schema.json"


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.yaml")))
def test_an_editor_finds_nothing_wrong_in_the_samples(validator: Any, sample: str) -> None:
    document = yaml.safe_load((SAMPLES / sample).read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(document)] == []


@pytest.mark.parametrize(
    "document",
    [
        {"membres": {}},  # unknown section
        {"members": {"alice": {"number": "+1 202-555-0101", "budies": ["bob"]}}},
        {"members": {"Alice": {"number": "+1 202-555-0101"}}},  # names are lower case
        {"members": {"alice": {"buddies": ["bob"]}}},  # no number
        {"members": {"alice": {"number": "202-555-0101"}}},  # no country code
        {"timings": {"grace": "soon"}},
        {"escalation": {"missed": [{"after": "10m", "buddies": "sometimes"}]}},
        {"keywords": {"en": {"jump": ["x"]}}},
        {"strangers": "chatty"},
        {"retention": {"reports": 30}},  # needs a unit
        {"circles": {"night": {"members": ["alice"], "group": "night-group"}}},
        {"directory": [{"name": "Line", "number": "+1 202-555-0190"}]},  # no "for"
        {"peers": {"partners": {"bristol": {"number": "+1 202-555-0150"}}}},  # no key
        {"peers": {"partners": {"bristol": {"number": "+1 202-555-0150", "key": "abc"}}}},
        {
            "peers": {
                "partners": {
                    "bristol": {
                        "number": "+1 202-555-0150",
                        "key": _KEY,
                        "send": {"categories": ["violense"]},
                    }
                }
            }
        },
        {
            "peers": {
                "partners": {
                    "bristol": {"number": "+1 202-555-0150", "key": _KEY, "daily_cap": 501}
                }
            }
        },
        {"peers": {"partners": {"Bristol": {"number": "+1 202-555-0150", "key": _KEY}}}},
        {"peers": {"name": "x" * 81}},
    ],
)
def test_an_editor_flags_what_the_loader_refuses(validator: Any, document: Any) -> None:
    assert list(validator.iter_errors(document))
