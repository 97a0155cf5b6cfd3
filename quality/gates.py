"""The quality gates over a verify run's batch, as Great Expectations suites (once per run).

- evidence: every claim has evidence or is marked ``no_evidence``; scores finite and in range;
- outputs: every verified item has one verdict, labels allowed;
- batch: the share of unsupported items within bounds; on labelled runs, ECE under a maximum.

Record-level rules (non-empty text, sizes, probabilities, label consistency) are on the
contracts (``verdictflow.contracts``) and hold for every record on every path. Each gate
returns a ``GateOutcome``: one ``QualityResult`` per expectation and the records that broke a
rule. Great Expectations itself is imported on the first validation (``quality.gx_runtime``).
"""

from __future__ import annotations

from quality.batch_gate import (
    UNSUPPORTED_LABELS,
    calibration_error,
    check_batch,
    labelled_probs,
)
from quality.evidence_gate import EvidenceRows, check_evidence, check_evidence_rows
from quality.outcome import GateOutcome, run_status
from quality.output_gate import VERDICT_LABELS, check_outputs
from quality.report import quality_artifact_markdown

__all__ = [
    "UNSUPPORTED_LABELS",
    "VERDICT_LABELS",
    "EvidenceRows",
    "GateOutcome",
    "calibration_error",
    "check_batch",
    "check_evidence",
    "check_evidence_rows",
    "check_outputs",
    "labelled_probs",
    "quality_artifact_markdown",
    "run_status",
]
