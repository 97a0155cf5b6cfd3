"""The types that pass between stages (see DESIGN.md, "Contracts between stages").

Every stage takes and returns these; they are plain pydantic models, so they hash and
serialise for Prefect task arguments and results.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from verdictflow.config import get_settings

# Column order of every expert's probability array: predict(pairs) -> array[n, 3].
LABELS: tuple[str, str, str] = ("supported", "contradicted", "not_enough_info")
SUPPORTED, CONTRADICTED, NOT_ENOUGH_INFO = 0, 1, 2
# The one label map: every label name verdictflow reads (model heads, gold labels, data
# sets) -> its column of LABELS. Two-class data's "not_supported" has no finer label and
# counts as not_enough_info.
LABEL_NAMES: dict[str, int] = {
    "supported": SUPPORTED,
    "entailment": SUPPORTED,
    "contradicted": CONTRADICTED,
    "contradiction": CONTRADICTED,
    "refuted": CONTRADICTED,
    "not_enough_info": NOT_ENOUGH_INFO,
    "not_supported": NOT_ENOUGH_INFO,
    "unsupported": NOT_ENOUGH_INFO,
    "neutral": NOT_ENOUGH_INFO,
    "nei": NOT_ENOUGH_INFO,
}


def label_index(label: Any, where: str = "label") -> int:
    """The LABELS column of a label name or index; the error names ``where``."""
    if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(LABELS):
        return label
    if hasattr(label, "item") and not isinstance(label, str):  # numpy integers
        return label_index(label.item(), where)
    key = str(label).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in LABEL_NAMES:
        raise ValueError(f"{where}: unknown label {label!r}; expected one of {sorted(LABEL_NAMES)}")
    return LABEL_NAMES[key]


class VerdictLabel(StrEnum):
    """What verify says of a claim or an item."""

    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    UNSUPPORTED = "unsupported"  # nothing in the evidence backs it
    UNCERTAIN = "uncertain"  # abstained: the prediction set is not a single label


# Validation context for rows read back from storage: the rules that depend on settings
# (size limits, thresholds) held when the row was written and are not checked again.
STORED = {"stored": True}
# The rules an Item's validation can break (an InputError's ``rule``).
ITEM_RULES = frozenset({"id", "text", "encoding", "text_length", "max_size", "allowed_metadata"})
_CONTROL = re.compile(r"[\x00-\x1f]")


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by ``key`` (sha256): splits and samples that do not depend on
    row order or on the process."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def rule_error(rule: str, message: str) -> PydanticCustomError:
    """A validation error whose type is the rule's name (``InputError.rule``)."""
    return PydanticCustomError(rule, message)


def _stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("stored"))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Item(_Model):
    """One thing to check: an LLM answer, a summary, a record.

    Record rules (the error's type names the rule): ``id`` non-empty, at most
    ``quality.max_id_chars`` characters, no control characters; ``text`` not blank;
    ``text_length`` at least ``quality.min_item_chars``; ``max_size`` text, context and
    question within ``verify.max_item_chars``; ``allowed_metadata`` keys in
    ``quality.allowed_metadata_keys`` when that is set.
    """

    id: str
    text: str
    context: str | None = None
    question: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def gold_label(self) -> Any | None:
        """The item's known label (``label`` in its metadata: a labelled run), or None."""
        return self.metadata.get("label")

    @model_validator(mode="after")
    def _record_rules(self, info: ValidationInfo) -> Item:
        if not self.id.strip():
            raise rule_error("id", "field 'id' is empty")
        if _CONTROL.search(self.id):
            raise rule_error("id", "id holds control characters")
        if not self.text.strip():
            raise rule_error("text", "field 'text' is empty")
        for key in ("id", "text", "context", "question"):
            try:
                (getattr(self, key) or "").encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate: no model can read it
                raise rule_error(
                    "encoding",
                    f"field '{key}' is not valid Unicode: lone surrogate at position {exc.start}",
                ) from None
        if _stored(info):
            return self
        settings = get_settings()
        if len(self.id) > settings.quality.max_id_chars:
            raise rule_error(
                "id", f"id has {len(self.id)} characters (limit {settings.quality.max_id_chars})"
            )
        limit = settings.verify.max_item_chars
        for key in ("text", "context", "question"):
            value = getattr(self, key) or ""
            if len(value) > limit:
                raise rule_error(
                    "max_size", f"{key} has {len(value):,} characters (limit {limit:,})"
                )
        if len(self.text.strip()) < settings.quality.min_item_chars:
            raise rule_error(
                "text_length",
                f"text has {len(self.text.strip())} characters "
                f"(at least {settings.quality.min_item_chars})",
            )
        allowed = settings.quality.allowed_metadata_keys
        unknown = sorted(set(self.metadata) - set(allowed)) if allowed is not None else []
        if unknown:
            raise rule_error("allowed_metadata", f"metadata keys not allowed: {unknown}")
        return self


def gold_labels(items: list[Item]) -> dict[str, Any]:
    """Gold label per item id, of the items that carry one."""
    return {item.id: item.gold_label for item in items if item.gold_label is not None}


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
    """A ranked evidence chunk for a claim.

    ``score`` is the retrieval's own ranking score (reciprocal rank fusion for hybrid search,
    about 0.01-0.03; BM25; cosine): it orders the chunks and means little on its own.
    ``similarity`` is what a reader is shown: the cosine similarity of the claim's and the
    evidence text's embeddings, clipped to [0, 1] (None where it was not measured, as in runs
    stored before it). ``rank`` orders them, best first (from 1 in retrieval).
    """

    claim_id: str
    doc_id: str
    chunk_id: str
    text: str
    score: float
    rank: int
    origin: str = "corpus"  # "corpus" or "context"
    similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    # The title of the chunk's document (its metadata's "title"; "" if none): a window read
    # alone ("They are available in three colours") gets its subject from it.
    title: str = ""

    @property
    def read_text(self) -> str:
        """What a verifier reads of this evidence (``titled``)."""
        return self.titled(self.title, self.text)

    @staticmethod
    def titled(title: str, text: str) -> str:
        """A piece of a document as a verifier reads it: its title, then the text (the text
        alone where it already holds the title, or there is none)."""
        if not title or title in text:
            return text
        return f"{title}\n\n{text}"


# What a highlighted span of a claim says of its words.
SpanKind = Literal["unsupported", "contradicted"]


class Span(_Model):
    """Words of a claim the evidence does not back: offsets are characters (code points) into
    the claim's text, ``text`` is ``claim[start:end]``.

    ``kind`` is "unsupported" (no good match in the evidence) or "contradicted" (the evidence
    states another value, name or polarity); ``score`` in [0, 1] is how sure the reading is.
    Rules (the error's type is ``span``): ``0 <= start < end``, ``text`` as long as the span,
    ``score`` in [0, 1]; ``ClaimVerdict`` checks each span against its claim's text.
    """

    start: int
    end: int
    text: str
    kind: SpanKind
    score: float

    @model_validator(mode="after")
    def _span_rules(self) -> Span:
        if not 0 <= self.start < self.end:
            raise rule_error("span", f"span [{self.start}, {self.end}) is empty or negative")
        if len(self.text) != self.end - self.start:
            raise rule_error("span", f"span text {self.text!r} is not {self.end - self.start} long")
        if not 0.0 <= self.score <= 1.0:
            raise rule_error("span", f"span score {self.score} not in [0, 1]")
        return self


class ClaimVerdict(_Model):
    """The verdict on one claim.

    Rules: ``probs`` each in [0, 1] and summing to 1 (within ``quality.prob_tolerance``),
    ``p_supported`` is ``probs[0]``, and the label is the one the probabilities give
    (``label_for``): uncertain exactly when it abstained. Each of ``spans`` lies within the
    claim and its ``text`` is the claim's text at its offsets (rule ``span``).
    """

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
    spans: list[Span] = Field(default_factory=list)  # the words the deciding evidence lacks

    @staticmethod
    def label_for(probs: tuple[float, float, float], abstained: bool = False) -> VerdictLabel:
        """The verdict calibrated probabilities give: supported at ``verify.support_threshold``;
        contradicted above ``verify.contradiction_threshold`` when likelier than
        not-enough-info; else unsupported; uncertain when it abstained."""
        if abstained:
            return VerdictLabel.UNCERTAIN
        verify = get_settings().verify
        if probs[SUPPORTED] >= verify.support_threshold:
            return VerdictLabel.SUPPORTED
        if (
            probs[CONTRADICTED] > verify.contradiction_threshold
            and probs[CONTRADICTED] >= probs[NOT_ENOUGH_INFO]
        ):
            return VerdictLabel.CONTRADICTED
        return VerdictLabel.UNSUPPORTED

    @model_validator(mode="after")
    def _verdict_rules(self, info: ValidationInfo) -> ClaimVerdict:
        tolerance = get_settings().quality.prob_tolerance
        if any(not 0.0 <= p <= 1.0 for p in self.probs):
            raise rule_error(
                "prob_range", f"claim {self.claim_id}: probs {self.probs} not in [0, 1]"
            )
        if abs(sum(self.probs) - 1.0) > tolerance:
            raise rule_error("prob_sum", f"claim {self.claim_id}: probs sum to {sum(self.probs)}")
        if abs(self.p_supported - self.probs[SUPPORTED]) > tolerance:
            raise rule_error("p_supported", f"claim {self.claim_id}: p_supported != probs[0]")
        if not _stored(info) and self.label != self.label_for(self.probs, self.abstained):
            raise rule_error(
                "label_consistent",
                f"claim {self.claim_id}: label {self.label.value} but the probabilities give "
                f"{self.label_for(self.probs, self.abstained).value}",
            )
        for span in self.spans:
            if span.end > len(self.text) or self.text[span.start : span.end] != span.text:
                raise rule_error(
                    "span",
                    f"claim {self.claim_id}: span {span.text!r} is not the claim's text at "
                    f"[{span.start}, {span.end})",
                )
        return self


# An item is as bad as its worst claim: this order decides which claim label wins.
SEVERITY = {
    VerdictLabel.CONTRADICTED: 3,
    VerdictLabel.UNSUPPORTED: 2,
    VerdictLabel.UNCERTAIN: 1,
    VerdictLabel.SUPPORTED: 0,
}


class ItemVerdict(_Model):
    """The verdict on an item: its weakest claim decides (``deciding_claim``)."""

    item_id: str
    label: VerdictLabel
    p_supported: float
    claims: list[ClaimVerdict]

    @property
    def deciding_claim(self) -> ClaimVerdict | None:
        """The claim that decides the item: the worst label, then the lowest p_supported.
        The CLI, storage, the quality gates and the evaluation all score this claim."""
        return deciding_claim(self.claims)


def deciding_claim(claims: list[ClaimVerdict]) -> ClaimVerdict | None:
    """Of an item's claims, the worst label, then the lowest p_supported (None: no claims)."""
    if not claims:
        return None
    return max(claims, key=lambda c: (SEVERITY[c.label], -c.p_supported))


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
