"""The types that pass between stages (see DESIGN.md, "Contracts between stages").

Every stage takes and returns these; they are plain pydantic models, so they hash and
serialise for Prefect task arguments and results.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Column order of every expert's probability array: predict(pairs) -> array[n, 3].
LABELS: tuple[str, str, str] = ("supported", "contradicted", "not_enough_info")
SUPPORTED, CONTRADICTED, NOT_ENOUGH_INFO = 0, 1, 2


class VerdictLabel(StrEnum):
    """What verify says of a claim or an item."""

    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    UNSUPPORTED = "unsupported"  # nothing in the evidence backs it
    UNCERTAIN = "uncertain"  # abstained: the prediction set is not a single label


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Item(_Model):
    """One thing to check: an LLM answer, a summary, a record."""

    id: str
    text: str
    context: str | None = None
    question: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Claim(_Model):
    """One checkable statement of an item; offsets are into the item's text."""

    item_id: str
    claim_id: str
    index: int
    text: str
    start: int
    end: int
    context: str | None = None
    question: str | None = None


class Chunk(_Model):
    """A piece of a document as stored in LanceDB."""

    doc_id: str
    chunk_id: str
    text: str
    content_hash: str
    source: str = ""
    start: int = 0
    end: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)
    vector: list[float] | None = None


class Evidence(_Model):
    """A ranked evidence chunk for a claim."""

    claim_id: str
    doc_id: str
    chunk_id: str
    text: str
    score: float
    rank: int
    origin: str = "corpus"  # "corpus" or "context"


class ClaimVerdict(_Model):
    """The verdict on one claim."""

    item_id: str
    claim_id: str
    text: str
    label: VerdictLabel
    probs: tuple[float, float, float]  # over LABELS, calibrated
    p_supported: float
    uncertainty: float = 0.0
    abstained: bool = False
    evidence: list[Evidence] = Field(default_factory=list)
    best_evidence: str | None = None  # chunk_id of the evidence that decided it
    experts: dict[str, float] = Field(default_factory=dict)  # name -> gate weight
    no_evidence: bool = False


class ItemVerdict(_Model):
    """The verdict on an item: its weakest claim decides."""

    item_id: str
    label: VerdictLabel
    p_supported: float
    claims: list[ClaimVerdict]


class InputError(_Model):
    """A record that could not be checked, and the rule it broke."""

    line: int | None
    item_id: str | None
    rule: str
    message: str


class ClaimScore(_Model):
    """What the scoring stage (gate + experts + combine) says of one claim, uncalibrated.

    ``probs`` are the gate-weighted mixture on the claim's best evidence chunk
    (``best_chunk_id``; highest p_supported, or highest p_contradicted when no chunk
    supports it). ``expert_probs[expert][chunk_id]`` keeps every expert's output for storage.
    """

    claim_id: str
    probs: tuple[float, float, float]
    best_chunk_id: str | None
    experts: dict[str, float]  # expert name -> gate weight (selected experts only)
    expert_probs: dict[str, dict[str, tuple[float, float, float]]] = Field(default_factory=dict)
    spread: float = 0.0  # disagreement of the selected experts on the best chunk


class DocumentRecord(_Model):
    """A corpus document as recorded in storage (its chunks live in LanceDB)."""

    doc_id: str
    source: str
    content_hash: str
    n_chunks: int = 0
    status: str = "active"  # active | deleted | failed
    error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class QualityResult(_Model):
    """One expectation's outcome in a quality gate."""

    suite: str  # inputs | evidence | outputs | batch
    expectation: str
    column: str | None = None
    success: bool
    unexpected_count: int = 0
    examples: list[Any] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
