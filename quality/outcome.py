"""What a quality gate returns, and what the verify run does with it (its status)."""

from __future__ import annotations

from dataclasses import dataclass, field

from verdictflow.contracts import QualityResult


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


def run_status(batch: GateOutcome, status: str = "completed") -> str:
    """``quality_failed`` when the batch gate failed, else ``status``."""
    return "quality_failed" if batch.failed else status
