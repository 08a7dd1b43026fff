"""Lines from signal-cli's socket, as the receiver splits its chunks: whole lines only, split
anywhere, and a line over the limit dropped whole while the ones around it are kept."""

from __future__ import annotations

import pytest

from relay.signal import jsonrpc
from relay.signal.jsonrpc import _Lines


def test_lines_split_across_chunks_are_joined() -> None:
    lines = _Lines()
    assert lines.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert lines.feed(b':2}\n\n{"c":3}') == [b'{"b":2}']
    assert lines.partial == b'{"c":3}'
    assert lines.feed(b"\n") == [b'{"c":3}']


def test_a_line_over_the_limit_is_dropped_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonrpc, "LINE_LIMIT", 10)
    lines = _Lines()
    assert lines.feed(b"ok\n" + b"x" * 8) == [b"ok"]
    assert lines.feed(b"x" * 8) == []  # over the limit: dropped as it comes
    assert lines.feed(b"x" * 30) == []
    assert lines.feed(b"xx\nnext\nal") == [b"next"]  # its tail goes too; the next line stays
    assert lines.feed(b"so\n") == [b"also"]
