"""The expert figures' robustness checks: a dev-fitted threshold and the wrong-evidence AUROC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.eval_experts import robustness


def _frame(n: int, seed: int) -> pd.DataFrame:
    """Supported claims name the evidence's city and are short; the others are long."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        city = f"city{i}x"
        if i % 2 == 0:
            rows.append((f"The office is in {city}.", f"It is in {city}.", "supported"))
        else:
            rows.append((f"The office is in {city}.", f"It is in town{i} by the sea.", "no"))
    return pd.DataFrame(rows, columns=["evidence", "claim", "label"]).sample(
        frac=1.0, random_state=int(rng.integers(1000))
    )


def reads_evidence(frame: pd.DataFrame) -> np.ndarray:
    return np.array(
        [
            float(c.split()[-1].rstrip(".") in e)
            for e, c in zip(frame.evidence, frame.claim, strict=True)
        ]
    )


def claim_length(frame: pd.DataFrame) -> np.ndarray:
    return 1.0 / frame["claim"].str.len().to_numpy()


def test_wrong_evidence_auroc_separates_reading_from_style() -> None:
    dev, test = _frame(40, 0), _frame(60, 1)
    reader = robustness(reads_evidence, dev, test)
    style = robustness(claim_length, dev, test)
    assert reader["balanced_acc_dev_threshold"] == 1.0
    assert reader["auroc_wrong_evidence"] == 0.5  # no claim matches another's evidence
    assert style["auroc_wrong_evidence"] == 1.0  # the wording alone still gives it away
    assert style["balanced_acc_dev_threshold"] == 1.0
    # The dev threshold sits between the two classes' scores, not at 0.5.
    assert 0.0 < style["dev_threshold"] < 0.1
