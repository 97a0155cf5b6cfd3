"""A failed quality gate in plain words: what it checked, what it saw, what that means.

The CLI prints these lines when a run ends ``quality_failed``; the wording comes from the
stored ``QualityResult`` alone (its rule, observed value and limits), so any stored run can
be explained the same way.
"""

from __future__ import annotations

from typing import Any

from verdictflow.contracts import QualityResult

# What each record-level rule's failing records are, in words.
RECORD_RULES: dict[str, str] = {
    "has_evidence": "claims left without an evidence list",
    "evidence_owner": "evidence listed under another claim",
    "score_finite": "evidence scores that are not numbers",
    "score_range": "evidence scores outside the allowed range",
    "rank": "evidence with a negative rank",
    "evidence_text": "evidence with an empty text",
    "one_verdict_per_item": "items with more than one verdict",
    "label_allowed": "verdicts with an unknown label",
    "prob_range": "probabilities outside 0 to 1",
    "every_item_verdict": "items left without a verdict",
}
STATUS_NOTE = "the run is marked quality_failed (its verdicts are stored as usual)"


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _limits(result: QualityResult) -> tuple[float | None, float | None]:
    kwargs = result.details.get("kwargs") or {}
    return _number(kwargs.get("min_value")), _number(kwargs.get("max_value"))


def _ece(result: QualityResult) -> str:
    observed = _number(result.details.get("observed_value"))
    _, top = _limits(result)
    n = result.details.get("n_labelled")
    seen = "unknown" if observed is None else f"{observed:.3f}"
    limit = "the limit" if top is None else f"the {top:g} limit"
    on = f" on {n} labelled items" if n else ""
    return (
        f"calibration error (ECE) {seen}{on} is above {limit}: the probabilities on these "
        "labelled items are less reliable than the gate accepts"
    )


def _share(result: QualityResult) -> str:
    observed = _number(result.details.get("observed_value"))
    low, high = _limits(result)
    seen = "an unknown share" if observed is None else f"{observed:.0%}"
    what = f"{seen} of the items were found unsupported or contradicted"
    if observed is not None and high is not None and observed > high:
        return f"{what}, above the {high:.0%} the gate allows: far more was flagged than expected"
    if observed is not None and low is not None and observed < low:
        return f"{what}, below the {low:.0%} the gate expects: less was flagged than expected"
    return f"{what}, outside the range the gate allows"


def explain_failure(result: QualityResult) -> str:
    """One failed expectation in plain words (no markup, no trailing full stop).

    Args:
        result: A stored expectation outcome with ``success`` False.
    """
    rule = str(result.details.get("rule") or result.expectation)
    if result.details.get("error"):
        return f"the {result.suite} check {rule} could not run: {result.details['error']}"
    if rule == "ece":
        return _ece(result)
    if rule.endswith("unsupported_share"):
        return _share(result)
    what = RECORD_RULES.get(rule, "records that break it")
    return f"{what}: {result.unexpected_count} (the {result.suite} gate's rule {rule})"


def failure_lines(results: list[QualityResult]) -> list[str]:
    """``Quality gate: ...`` lines, one per failed expectation; the last says what it means
    for the run. Empty when nothing failed."""
    failed = [r for r in results if not r.success]
    lines = [f"Quality gate: {explain_failure(r)}" for r in failed]
    if lines:
        lines[-1] += f"; {STATUS_NOTE}"
    return lines
