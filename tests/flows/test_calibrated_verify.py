"""Calibrated runs end to end: calibrate on a tiny labelled set, then verify through the flow.

The stored probabilities are the calibrator's transform of the raw combined score (the same
items verified before the calibrator existed), and an item whose score pattern the labelled
set shows with every label abstains (``uncertain``) while a clear one does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.experts.tiny_models import write_registry
from verdictflow.config import reset_settings

pytestmark = pytest.mark.slow

# Rule experts only: their scores are exact functions of the text, so the test knows them.
FAST = [
    {"name": "numbers", "kind": "numbers", "patterns": [r"\d"], "prior": 0.5},
    {"name": "negation", "kind": "negation", "keywords": ["not", "never"], "prior": 0.5},
]
CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Vienna", "Oslo", "Lisbon"]
LABELS = ["supported", "contradicted", "not_enough_info"]
VAGUE = [
    "The river is wide and calm today.",
    "The old market opens early in summer.",
    "The museum keeps a famous painting.",
    "The bridge was painted a bright colour.",
]


def labelled_rows() -> list[dict]:
    """Numbers that match are supported, numbers that differ contradicted; sentences with
    nothing for the experts to read carry every label alike (the ambiguous pattern)."""
    rows = []
    for i in range(24):
        city, n = CITIES[i % 8], 1000 + 37 * i
        rows.append(
            {
                "id": f"match-{i}",
                "text": f"{city} had {n} residents in 2010.",
                "context": f"In 2010 {city} had {n} residents.",
                "label": "supported",
            }
        )
        rows.append(
            {
                "id": f"differ-{i}",
                "text": f"{city} had {n} residents in 2010.",
                "context": f"In 2010 {city} had {n + 300} residents.",
                "label": "contradicted",
            }
        )
        rows.append(
            {
                "id": f"vague-{i}",
                "text": f"{VAGUE[i % 4][:-1]} in {city}.",
                "context": f"{city} is a city with a river, a market and a museum.",
                "label": LABELS[i % 3],
            }
        )
    return rows


def items(prefix: str) -> list[dict]:
    return [
        {
            "id": f"{prefix}clear",
            "text": "Porto had 2350 residents in 2010.",
            "context": "In 2010 Porto had 2350 residents.",
        },
        {
            "id": f"{prefix}ambiguous",
            "text": "The river is wide and calm in Porto.",
            "context": "Porto is a city with a river, a market and a museum.",
        },
    ]


def _claim_probs(verdicts) -> dict[str, np.ndarray]:
    """``{item id without prefix: probs of its one claim}``."""
    out = {}
    for v in verdicts:
        [claim] = v.claims
        out[v.item_id.split(":")[-1]] = np.array(claim.probs)
    return out


def test_verify_after_calibration_stores_calibrated_probabilities_and_abstains(
    prefect_harness, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experts.decision.calibration import load_calibrator
    from experts.decision.conformal import load_conformal
    from flows.calibrate import run_calibrate
    from flows.verify import verify_items
    from storage.repository import current_repository

    registry = write_registry(tmp_path / "fast.yaml", FAST)
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__REGISTRY", str(registry))
    monkeypatch.setenv("VERDICTFLOW_QUALITY__CALIBRATION_MIN_ROWS", "10")
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    monkeypatch.setenv("VERDICTFLOW_VERIFY__FAST_PATH_MAX_ITEMS", "0")  # the flow, not inline
    reset_settings()

    # Before any calibrator: the raw combined scores, and no abstention.
    assert load_calibrator() is None and load_conformal() is None
    raw_run = verify_items(items=items("raw:"))
    raw = _claim_probs(raw_run.verdicts)
    assert not any(c.abstained for v in raw_run.verdicts for c in v.claims)

    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(r) + "\n" for r in labelled_rows()))
    report = run_calibrate(str(labelled), alpha=0.1)
    calibrator, conformal = load_calibrator(), load_conformal()
    assert calibrator is not None and calibrator.version == report["version"]
    assert conformal is not None

    result = verify_items(items=items("cal:"))
    stored = current_repository().load_item_verdicts(result.run_id)
    assert [v.model_dump() for v in stored] == [v.model_dump() for v in result.verdicts]
    got = _claim_probs(stored)
    for name in ("clear", "ambiguous"):
        expected = calibrator.transform(raw[name][None, :])[0]
        np.testing.assert_allclose(got[name], expected, atol=1e-9)
        assert not np.allclose(got[name], raw[name], atol=1e-3), name  # it did change them
    by_id = {v.item_id: v for v in stored}
    clear, ambiguous = by_id["cal:clear"], by_id["cal:ambiguous"]
    # The ambiguous pattern's conformal set holds more than one label: the tool abstains.
    assert len(conformal.prediction_sets(got["ambiguous"][None, :])[0]) > 1
    assert ambiguous.claims[0].abstained and ambiguous.claims[0].label.value == "uncertain"
    assert ambiguous.label.value == "uncertain"
    # The clear one does not.
    assert len(conformal.prediction_sets(got["clear"][None, :])[0]) == 1
    assert not clear.claims[0].abstained and clear.label.value == "supported"
    assert clear.p_supported == pytest.approx(got["clear"][0])
