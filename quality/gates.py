"""The four quality gates of a verify run, as Great Expectations suites.

- inputs: schema, unique ids, non-empty text, length bounds, allowed metadata keys;
- evidence: every claim has evidence or is marked ``no_evidence``; scores finite and in range;
- outputs: probabilities in [0, 1] summing to 1, labels allowed and consistent with their
  probabilities, every item has one verdict;
- batch: the share of unsupported items within bounds; on labelled runs, ECE under a maximum.

Each gate returns a ``GateOutcome``: one ``QualityResult`` per expectation and the records that
broke a rule (id -> rule), which the verify flow quarantines while the rest go on. Great
Expectations itself is imported on the first validation (``quality.gx_runtime``).
"""

from __future__ import annotations

from quality.batch_gate import UNSUPPORTED_LABELS, check_batch, labelled_probs
from quality.evidence_gate import check_evidence
from quality.input_gate import check_inputs
from quality.outcome import RULES, GateOutcome, quarantine_errors, run_status
from quality.output_gate import (
    VERDICT_LABELS,
    check_output_claims,
    check_output_items,
    check_outputs,
)
from quality.report import quality_artifact_markdown

__all__ = [
    "RULES",
    "UNSUPPORTED_LABELS",
    "VERDICT_LABELS",
    "GateOutcome",
    "check_batch",
    "check_evidence",
    "check_inputs",
    "check_output_claims",
    "check_output_items",
    "check_outputs",
    "labelled_probs",
    "quality_artifact_markdown",
    "quarantine_errors",
    "run_status",
]
