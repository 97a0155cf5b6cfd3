"""The settings object: derived values."""

from __future__ import annotations

import os

import pytest

from verdictflow.config import Settings


def test_compute_threads_are_the_settings_or_every_core_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VERDICTFLOW_EXPERTS__TORCH_THREADS", raising=False)
    assert Settings().compute_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__TORCH_THREADS", "1")
    assert Settings().compute_threads() == 1


def test_training_uses_every_core_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERDICTFLOW_EXPERTS__TORCH_THREADS", raising=False)
    monkeypatch.delenv("VERDICTFLOW_TRAINING__THREADS", raising=False)
    assert Settings().training_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("VERDICTFLOW_TRAINING__THREADS", "1")
    assert Settings().training_threads() == 1
