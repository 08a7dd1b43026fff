"""The tree keeps its boundaries: every SQL statement lives under relay/store/ (the simulator,
relay/sim/, has its own state and is exempt), and no list of phases is typed as SQL text.

SQL is looked for in the string literals the code can run (`ast`: f-strings joined, with a
stand-in for each placeholder), not in comments or documentation: a docstring may name
``PRAGMA integrity_check``; code may not run it outside the store.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from relay.core.state import Phase

RELAY = Path(__file__).resolve().parents[2] / "relay"
EXEMPT = ("store", "sim")

SQL = re.compile(
    r"\bSELECT\b[\s\S]*?\bFROM\b"
    r"|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b"
    r"|\bREPLACE\s+INTO\b"
    r"|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\bCREATE\s+(?:TEMP\s+|TEMPORARY\s+)?(?:TABLE|(?:UNIQUE\s+)?INDEX|TRIGGER|VIEW)\b"
    r"|\b(?:DROP|ALTER)\s+(?:TABLE|INDEX|TRIGGER|VIEW)\b"
    r"|\bPRAGMA\s+\w+"
    r"|^\s*(?:BEGIN|COMMIT|ROLLBACK|RELEASE|VACUUM)\b"
    r"|\bSAVEPOINT\s+\w+",
    re.IGNORECASE,
)


def sql_in(source: str) -> Iterator[tuple[int, str]]:
    """(line, the SQL found) for each runnable string literal in `source` that holds SQL."""
    for line, text in literals(source):
        found = SQL.search(text)
        if found:
            yield line, found.group(0)


def literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal in `source` that code can use, f-strings joined."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        # A bare string statement (a docstring, an attribute's doc) is never run.
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skipped.add(id(node.value))
    texts: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                skipped.add(id(value))
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    parts.append(value.value)
                else:
                    parts.append(" x ")  # a placeholder: a name, a fragment
            texts.append((node.lineno, "".join(parts)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
        ):
            texts.append((node.lineno, node.value))
    return sorted(texts)


def offenders() -> dict[str, list[int]]:
    """Modules outside relay/store/ and relay/sim/ with SQL: path → lines."""
    found: dict[str, list[int]] = {}
    for path in sorted(RELAY.rglob("*.py")):
        parts = path.relative_to(RELAY).parts
        if parts[0] in EXEMPT:
            continue
        lines = [line for line, _ in sql_in(path.read_text(encoding="utf-8"))]
        if lines:
            found[path.relative_to(RELAY.parent).as_posix()] = lines
    return found


def test_no_sql_outside_the_store() -> None:
    assert offenders() == {}, "SQL belongs in relay/store/ (a repository function), not here"


def test_no_phase_typed_as_sql() -> None:
    """Which phases are live, or an open alert, is the core's (`relay.core.state`); queries take
    their phase conditions from `relay.store.phases`, which builds them from it."""
    quoted = re.compile("|".join(f"'{phase.value}'" for phase in Phase))
    typed = [
        f"{path.relative_to(RELAY.parent).as_posix()}:{line}"
        for path in sorted(RELAY.rglob("*.py"))
        for line, text in literals(path.read_text(encoding="utf-8"))
        if quoted.search(text)
    ]
    assert typed == []


SAMPLE = '''
"""A module that mentions PRAGMA integrity_check and SELECT * FROM x in its docstring."""
# DELETE FROM watches  (a comment)
LABEL = "select a member"
ALSO = """Attribute docs: INSERT INTO outbox."""
"""Its attribute docstring: UPDATE outbox SET sent = 1."""

def f(conn, table, marks):
    """DELETE FROM in a docstring is prose."""
    conn.execute("select id from watches where phase = ?")
    conn.execute(f"DELETE FROM {table} WHERE id IN ({marks})")
    conn.execute(f"UPDATE {table} SET x = 1")
    conn.execute("SAVEPOINT plain")
    conn.execute("ROLLBACK")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.executemany("insert or ignore into welcomed (tag) values (?)", [])
'''


def test_the_scanner_sees_code_not_prose() -> None:
    found = dict(sql_in(SAMPLE))
    # ALSO (line 5) is an assignment: run-able, so it counts; the docstrings and comment do not.
    assert sorted(found) == [5, 10, 11, 12, 13, 14, 15, 16]
