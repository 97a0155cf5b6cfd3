"""What `verdictflow api` sets before its models load: the API's backends and threads."""

from __future__ import annotations

import pytest

from deployments.cli_api import serving_env
from verdictflow.config import Settings


def test_the_api_serves_with_its_own_backends_and_threads_unless_the_environment_names_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in ("EXPERTS__BACKEND", "RETRIEVAL__EMBEDDING_BACKEND", "EXPERTS__TORCH_THREADS"):
        monkeypatch.delenv(f"VERDICTFLOW_{key}", raising=False)
    assert serving_env(Settings()) == {
        "VERDICTFLOW_EXPERTS__BACKEND": "onnx-int8",
        "VERDICTFLOW_RETRIEVAL__EMBEDDING_BACKEND": "onnx-int8",
        "VERDICTFLOW_EXPERTS__TORCH_THREADS": "1",
    }
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__TORCH_THREADS", "2")
    monkeypatch.setenv("VERDICTFLOW_API__EXPERTS_BACKEND", "torch")
    env = serving_env(Settings())
    assert "VERDICTFLOW_EXPERTS__TORCH_THREADS" not in env  # the environment's own wins
    assert env["VERDICTFLOW_EXPERTS__BACKEND"] == "torch"
