"""The quality gates as a readable Markdown report (a Prefect artifact)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quality.outcome import GateOutcome


def _cell(value: Any) -> str:
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def quality_artifact_markdown(outcomes: Mapping[str, GateOutcome]) -> str:
    """A readable Markdown report: per gate, a table of expectations, pass/fail, examples."""
    lines = ["# Quality gates", ""]
    for gate, outcome in outcomes.items():
        status = "FAILED" if outcome.failed else "passed"
        lines += [f"## {gate}: {status}", ""]
        if not outcome.results:
            lines += ["(nothing to check)", ""]
            continue
        lines += [
            "| rule | expectation | column | result | unexpected | observed | examples |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in outcome.results:
            lines.append(
                "| "
                + " | ".join(
                    _cell(x)
                    for x in (
                        r.details.get("rule", ""),
                        r.expectation,
                        r.column or "",
                        "pass" if r.success else "**FAIL**",
                        r.unexpected_count,
                        r.details.get("observed_value", ""),
                        "; ".join(str(e) for e in r.examples) if r.examples else "",
                    )
                )
                + " |"
            )
        if outcome.failed_ids:
            shown = list(outcome.failed_ids.items())[:20]
            lines += [
                "",
                "Quarantined / failing records: "
                + ", ".join(f"`{k}` ({v})" for k, v in shown)
                + (
                    f" and {len(outcome.failed_ids) - 20} more"
                    if len(outcome.failed_ids) > 20
                    else ""
                ),
            ]
        lines.append("")
    return "\n".join(lines)
