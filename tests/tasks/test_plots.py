"""The run's plots and progress line as Markdown / text (no Prefect run needed)."""

from __future__ import annotations

import base64
import re

from tasks.artifacts import done_line
from tasks.plots import p_supported_markdown, reliability_markdown
from tests.quality import quality_data as data


def _png(markdown: str) -> bytes:
    found = re.search(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert found, markdown[:300]
    return base64.b64decode(found.group(1))


def test_p_supported_plot_counts_every_verdict_label() -> None:
    verdicts = data.verdicts(8)
    markdown = p_supported_markdown(verdicts)
    assert _png(markdown).startswith(b"\x89PNG")
    assert "(8 items)" in markdown
    for label in {v.label.value for v in verdicts}:
        assert f"| {label} | 2 |" in markdown
    assert "No verdicts." in p_supported_markdown([])


def test_reliability_needs_a_labelled_verdict_and_reports_the_gate_ece() -> None:
    from experts.decision.calibration import expected_calibration_error
    from quality.batch_gate import labelled_probs

    verdicts = data.verdicts(8)
    assert reliability_markdown(verdicts, {"someone-else": "supported"}) is None
    labels = {v.item_id: "supported" for v in verdicts[:6]}
    markdown = reliability_markdown(verdicts, labels)
    assert _png(markdown).startswith(b"\x89PNG")
    ece = expected_calibration_error(*labelled_probs(verdicts, labels))
    assert f"(6 labelled verdicts, ECE {ece:.3f})" in markdown


def test_done_line_names_items_claims_labels_and_errors() -> None:
    counts = {"items": 3, "input_errors": 1, "claims": 4, "supported": 1, "contradicted": 2}
    assert done_line(counts, "r1") == (
        "3 items, 4 claims verified: 1 supported, 2 contradicted; 1 input error (run `r1`)"
    )
    assert done_line({"items": 0, "input_errors": 0, "claims": 0}) == "0 items, 0 claims verified"
