"""A failed gate in plain words, from the results the real gates return (Great Expectations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quality.explain import explain_failure, failure_lines
from quality.gates import check_batch, check_outputs
from tests.quality import quality_data as data
from verdictflow.config import reset_settings


@pytest.fixture
def settings_env(home: Path, monkeypatch: pytest.MonkeyPatch):
    """Set VERDICTFLOW_ variables for one test; settings are re-read."""

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"VERDICTFLOW_{key}", value)
        reset_settings()

    return set_env


def test_a_failed_ece_rule_says_what_it_checked_and_what_it_means(settings_env) -> None:
    settings_env(QUALITY__MAX_ECE="0.15")
    confident = [data.item_verdict(f"i{i}", (0.95, 0.03, 0.02)) for i in range(20)]
    wrong = {v.item_id: ("supported" if i < 10 else "unsupported") for i, v in enumerate(confident)}
    results = check_batch(confident, wrong).results
    [ece] = [r for r in results if not r.success]
    assert explain_failure(ece) == (
        "calibration error (ECE) 0.450 on 20 labelled items is above the 0.15 limit: the "
        "probabilities on these labelled items are less reliable than the gate accepts"
    )
    [line] = failure_lines(results)
    assert line.startswith("Quality gate: calibration error (ECE) 0.450")
    assert line.endswith("; the run is marked quality_failed (its verdicts are stored as usual)")
    assert "{" not in line and "observed" not in line  # no Python dict, no GX vocabulary


def test_the_unsupported_share_and_record_rules_in_words(settings_env) -> None:
    settings_env(QUALITY__MAX_UNSUPPORTED_SHARE="0.3")
    broken = [data.item_verdict(f"i{i}", (0.1, 0.1, 0.8)) for i in range(4)]
    broken.append(data.item_verdict("ok", (0.9, 0.05, 0.05)))
    [share] = check_batch(broken).results
    assert explain_failure(share) == (
        "80% of the items were found unsupported or contradicted, above the 30% the gate "
        "allows: far more was flagged than expected"
    )
    settings_env(QUALITY__MIN_UNSUPPORTED_SHARE="0.9", QUALITY__MAX_UNSUPPORTED_SHARE="1.0")
    [share] = check_batch(broken).results
    assert "below the 90% the gate expects" in explain_failure(share)
    verdicts = data.verdicts(4)
    results = check_outputs([*verdicts, verdicts[0]]).results
    [duplicate] = [r for r in results if not r.success]
    assert explain_failure(duplicate) == (
        "items with more than one verdict: 2 (the outputs gate's rule one_verdict_per_item)"
    )
    assert failure_lines([r for r in results if r.success]) == []
