"""A run's plots as Markdown for Prefect artifacts: PNG images inlined as ``data:`` URIs.

``create_image_artifact`` takes a URL the UI fetches, and a served run has nowhere to put a
file, so each plot is a Markdown artifact with the image inlined, then the figures it shows
as a table (for readers whose UI does not render the image). Drawn with matplotlib's
``Figure`` (no pyplot: no global state, safe on worker threads).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from verdictflow.contracts import ItemVerdict, VerdictLabel

COLOURS = {
    VerdictLabel.SUPPORTED: "#2e7d32",
    VerdictLabel.CONTRADICTED: "#c62828",
    VerdictLabel.UNSUPPORTED: "#ef6c00",
    VerdictLabel.UNCERTAIN: "#757575",
}
_BINS = np.linspace(0.0, 1.0, 11)


def png_markdown(figure: Any, alt: str) -> str:
    """A matplotlib ``Figure`` as a Markdown image with a ``data:image/png`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{encoded})"


def _figure(width: float = 5.5, height: float = 3.6) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="tight")
    return figure, figure.subplots()


def p_supported_markdown(verdicts: Sequence[ItemVerdict]) -> str:
    """The distribution of items' ``p_supported`` by verdict: a stacked histogram and a table."""
    by_label = {
        label: [v.p_supported for v in verdicts if v.label == label] for label in VerdictLabel
    }
    by_label = {label: values for label, values in by_label.items() if values}
    lines = [f"## p_supported by verdict ({len(verdicts)} items)", ""]
    if not by_label:
        return "\n".join([*lines, "No verdicts."])
    figure, axes = _figure()
    axes.hist(
        list(by_label.values()),
        bins=_BINS,
        stacked=True,
        color=[COLOURS[label] for label in by_label],
        label=[f"{label.value} ({len(values)})" for label, values in by_label.items()],
    )
    axes.set_xlim(0, 1)
    axes.set_xlabel("p_supported (calibrated)")
    axes.set_ylabel("items")
    axes.legend(fontsize="small")
    lines += [png_markdown(figure, "p_supported by verdict"), ""]
    lines += ["| verdict | items | mean | min | max |", "|---|---|---|---|---|"]
    for label, values in by_label.items():
        lines.append(
            f"| {label.value} | {len(values)} | {np.mean(values):.3f} "
            f"| {min(values):.3f} | {max(values):.3f} |"
        )
    return "\n".join(lines)


def reliability_markdown(verdicts: Sequence[ItemVerdict], labels: Mapping[str, Any]) -> str | None:
    """A reliability diagram of the labelled verdicts (top label, equal-mass bins, the ECE the
    batch gate checks) and its bins as a table; None when no verdict is labelled."""
    from experts.decision.calibration import (
        expected_calibration_error,
        reliability_bins,
        reliability_figure,
    )
    from quality.batch_gate import labelled_probs

    probs, gold = labelled_probs(verdicts, labels)
    if len(gold) == 0:
        return None
    bins = reliability_bins(probs, gold)
    ece = expected_calibration_error(probs, gold)
    figure = reliability_figure({"this run": probs}, gold, "Labelled verdicts", size=4.5)
    lines = [
        f"## Reliability ({len(gold)} labelled verdicts, ECE {ece:.3f})",
        "",
        png_markdown(figure, "reliability diagram"),
        "",
        "| confidence | accuracy | verdicts |",
        "|---|---|---|",
        *(f"| {conf:.3f} | {acc:.3f} | {n} |" for conf, acc, n in bins),
    ]
    return "\n".join(lines)
