"""What decides verdicts, as one digest: it moves with every part of it, and only then."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from tests.experts.tiny_models import make_tiny_cross_encoder, write_registry


@pytest.fixture
def tiny_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    from verdictflow.config import reset_settings

    tiny = make_tiny_cross_encoder(tmp_path / "tiny")
    registry = write_registry(
        tmp_path / "registry.yaml",
        [
            {"name": "nli-general", "kind": "cross_encoder", "weights": str(tiny)},
            {"name": "numbers", "kind": "numbers"},
        ],
    )
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__REGISTRY", str(registry))
    reset_settings()
    return {"home": home, "tiny": tiny, "registry": registry}


def _touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_the_digest_moves_with_each_part_that_decides_verdicts(tiny_home: dict) -> None:
    from experts.decision.calibration import calibrator_path, fit_calibrator
    from experts.fingerprint import verdicts_digest
    from experts.mixture.stacking import fit_stacker, stacker_file
    from experts.registry import register_expert

    seen = [verdicts_digest()]
    assert verdicts_digest() == seen[0]  # nothing changed: the same digest

    def changed() -> None:
        digest = verdicts_digest()
        assert digest not in seen
        seen.append(digest)
        assert verdicts_digest() == digest

    # New weights in place (a retrained expert): the file's size and mtime.
    weights = tiny_home["tiny"] / "model.safetensors"
    _touch_later(weights)
    changed()
    # The domain registry (HOME/models/domains.yaml).
    register_expert({"name": "negation", "kind": "negation", "domains": ["banking"]})
    changed()
    # A routing profile or a combiner term beside an expert's weights.
    (tiny_home["tiny"] / "combiner.json").write_text("{}")
    changed()
    # The combiner.
    rng = np.random.default_rng(0)
    fit_stacker(rng.normal(size=(40, 3)), rng.uniform(size=40) > 0.5, ["a"]).save(stacker_file())
    changed()
    # The calibrator.
    probs = rng.dirichlet(np.ones(3), size=30)
    fit_calibrator(probs, rng.integers(0, 3, size=30)).save(calibrator_path())
    changed()
    # A trained gate in HOME.
    gate = tiny_home["home"] / "models" / "gate.pt"
    gate.write_bytes(b"not read: only known")
    changed()
    # The registry in force itself.
    text = tiny_home["registry"].read_text()
    tiny_home["registry"].write_text(text.replace("kind: numbers", "kind: numbers\n  prior: 2.0"))
    changed()


def test_an_unchanged_small_file_rewritten_keeps_the_digest(tiny_home: dict) -> None:
    from experts.fingerprint import verdicts_digest

    before = verdicts_digest()
    config = tiny_home["tiny"] / "config.json"
    time.sleep(0.01)
    config.write_text(config.read_text())  # a new mtime, the same content
    assert verdicts_digest() == before
