"""The JSON Schema of rule files, generated from `relay.rules.document.RulesDocument`.

``python -m relay.rules.schema > rules/rules.schema.json`` rewrites the shipped copy; a test
fails when the copy and the models disagree. Sample files point editors at it with
``# yaml-language-server: $schema=./rules.schema.json``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from relay.rules.document import RulesDocument

SCHEMA_FILE = "rules.schema.json"


def rules_schema() -> dict[str, Any]:
    """The schema as a dict: one rules file, every section optional, every mapping closed."""
    schema = RulesDocument.model_json_schema(mode="validation")
    _close_name_maps(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://peer-relay.invalid/rules.schema.json",
        **schema,
        "title": "peer-relay rules file",
    }


def _close_name_maps(node: Any) -> None:
    # pydantic writes a name-keyed mapping as patternProperties, which lets a misspelt key
    # through silently; propertyNames + additionalProperties makes the editor flag it.
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1:
            ((pattern, value),) = patterns.items()
            del node["patternProperties"]
            node["propertyNames"] = {"pattern": pattern}
            node["additionalProperties"] = value
        for value in node.values():
            _close_name_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_name_maps(value)


def render() -> str:
    """The schema file's exact text."""
    return json.dumps(rules_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
