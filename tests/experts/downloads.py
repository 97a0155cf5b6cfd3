"""Downloaded data in tests: a data set its package index no longer has is a skip, not a failure.

``bigbench==1.0.0`` (VitaminC and the other BIG-bench tasks) left the index this project's
machines reach on 2026-12-04; the tests that read it say so and skip, and run again as soon
as it is back. Any other download failure still fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from experts.training.data import DataUnavailable

T = TypeVar("T")


def load_or_skip(load: Callable[..., T], *args, **kwargs) -> T:
    """``load(*args, **kwargs)``, or skip the test when its data is not on the index."""
    try:
        return load(*args, **kwargs)
    except DataUnavailable as exc:
        pytest.skip(f"data unavailable: {exc}")
