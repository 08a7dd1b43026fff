"""Fixtures shared by more than one unit test module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def open_umask() -> Iterator[None]:
    # The modes must not depend on the caller's umask: run with the most permissive one.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)
