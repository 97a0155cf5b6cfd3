"""What a quality gate returns, and what the verify flow does with it (quarantine, status)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from verdictflow.contracts import InputError, QualityResult


@dataclass
class GateOutcome:
    """What a gate found: every expectation's result and the records that failed a rule."""

    results: list[QualityResult] = field(default_factory=list)
    failed_ids: dict[str, str] = field(default_factory=dict)  # record id -> rule broken

    @property
    def failed(self) -> bool:
        """True when any expectation failed."""
        return any(not r.success for r in self.results)

    def extend(self, results: list[QualityResult], failed_ids: dict[str, str]) -> None:
        self.results.extend(results)
        for record, rule in failed_ids.items():
            self.failed_ids.setdefault(record, rule)

    @classmethod
    def merged(cls, *parts: GateOutcome) -> GateOutcome:
        """One outcome of several parts of a gate, in order (a record keeps its first rule)."""
        outcome = cls()
        for part in parts:
            outcome.extend(part.results, part.failed_ids)
        return outcome


RULES: dict[str, str] = {
    "schema": "id must be present, 1..quality.max_id_chars characters, no control characters",
    "unique_ids": "ids must be unique within the batch (every row sharing an id is held back)",
    "non_empty_text": "text must not be empty or blank",
    "text_length": "text length must lie in quality.min_item_chars..verify.max_item_chars",
    "context_length": "context must not exceed verify.max_item_chars characters",
    "allowed_metadata": "metadata keys must be in quality.allowed_metadata_keys",
}


def quarantine_errors(
    outcome: GateOutcome, lines: Mapping[str, int] | None = None, gate: str = "inputs"
) -> list[InputError]:
    """One ``InputError`` per record the gate held back, naming the record and the rule.

    The stored rule reads ``"<gate>.<rule>"`` (e.g. ``inputs.unique_ids``).
    """
    return [
        InputError(
            line=(lines or {}).get(record),
            item_id=record,
            rule=f"{gate}.{rule}",
            message=f"record {record!r} broke quality rule {gate}.{rule}: "
            + RULES.get(rule, "see the quality report"),
        )
        for record, rule in outcome.failed_ids.items()
    ]


def run_status(batch: GateOutcome, status: str = "completed") -> str:
    """``quality_failed`` when the batch gate failed, else ``status``."""
    return "quality_failed" if batch.failed else status
