"""The verify stages' own rules: verification windows sized to the experts' max lengths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experts.mixture.scoring import Batch, InProcessRunner, Scorer
from experts.registry import cached_expert, load_registry, reading_window, window_tokens
from retrieval.embedding import packaged_model_path
from tasks.stages import evidence_for
from tests.experts.tiny_models import make_tiny_cross_encoder, write_registry
from verdictflow.config import get_settings
from verdictflow.contracts import Claim

SENTENCE = "Paragraph {i} says the valley farm grew {i} tonnes of barley in a dry year."


def hf_tokenizer():
    """transformers' tokenizer of the embedder: an independent measure of token counts."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(packaged_model_path())


def _two_readers(tmp_path: Path) -> Path:
    """A registry of two tiny cross-encoders: one reads 64 tokens, the other 192."""
    short = make_tiny_cross_encoder(tmp_path / "short", max_length=64)
    long = make_tiny_cross_encoder(tmp_path / "long", max_length=192, seed=1)
    return write_registry(
        tmp_path / "reg.yaml",
        [
            {"name": "short", "kind": "cross_encoder", "weights": str(short)},
            {"name": "long", "kind": "cross_encoder", "weights": str(long)},
        ],
    )


class Recording(InProcessRunner):
    """Scores here, and keeps what each expert was given to read."""

    def __init__(self) -> None:
        self.read: dict[str, list[tuple[str, str]]] = {}

    def run(self, batches: Sequence[Batch]) -> list[np.ndarray]:
        for batch in batches:
            self.read.setdefault(batch.expert, []).extend(batch.pairs)
        return super().run(batches)


def _long_claim() -> Claim:
    context = " ".join(SENTENCE.format(i=i) for i in range(40))
    text = "The farm grew 7 tonnes of barley."
    return Claim(item_id="i", claim_id="c", index=0, text=text, start=0, end=len(text),
                 context=context)  # fmt: skip


def test_context_windows_fit_the_longest_reader_whole(home: Path, tmp_path: Path) -> None:
    registry = _two_readers(tmp_path)
    assert [s.max_length for s in load_registry(registry)] == [64, 192]
    assert [reading_window(s) for s in load_registry(registry)] == [64 - 32, 192 - 32]
    get_settings().experts.registry = registry
    assert window_tokens(registry) == 192 - get_settings().experts.window_claim_tokens

    claim = _long_claim()
    evidence = evidence_for([claim])["c"]
    tokenizer = hf_tokenizer()
    assert evidence and all(e.text in claim.context for e in evidence)
    sizes = [len(tokenizer(e.text, claim.text)["input_ids"]) for e in evidence]
    assert max(sizes) <= 192  # the long reader reads every window whole
    assert max(sizes) > 64  # (the old windows were sized for the smallest reader)
    # The setting wins over the registry's limits.
    get_settings().experts.window_tokens = 120
    assert window_tokens(registry) == 120
    assert max(len(tokenizer(e.text)["input_ids"]) for e in evidence_for([claim])["c"]) > 64


def test_each_expert_reads_windows_of_its_own_length(home: Path, tmp_path: Path) -> None:
    registry = _two_readers(tmp_path)
    get_settings().experts.registry = registry
    claim = _long_claim()
    evidence = {"c": evidence_for([claim], k=3)["c"]}
    runner = Recording()
    score = Scorer(str(registry), top_k=2).score([claim], evidence, runner).scores[0]

    tokenizer = hf_tokenizer()
    tokens = {
        name: [len(tokenizer(e, c)["input_ids"]) for c, e in pairs]
        for name, pairs in runner.read.items()
    }
    assert max(tokens["short"]) <= 64  # nothing of a window is cut off by truncation
    assert 64 < max(tokens["long"]) <= 192  # the windows, whole
    assert len(runner.read["short"]) > len(runner.read["long"]) == 3
    short_read = {e for _, e in runner.read["short"]}
    assert all(any(piece in e.text for e in evidence["c"]) for piece in short_read)
    # Readings are reported per evidence window, by its stable id: one per window, for each
    # expert; the short expert's is the reading of one of the pieces it read of that window.
    ids = [e.chunk_id for e in evidence["c"]]
    assert sorted(score.expert_probs) == ["long", "short"]
    assert all(sorted(score.expert_probs[n]) == sorted(ids) for n in ("long", "short"))
    expert = cached_expert("short", str(registry))
    for ev in evidence["c"]:
        pieces = [e for c, e in runner.read["short"] if e in ev.text]
        readings = expert.predict([(claim.text, p) for p in pieces])
        reading = np.array(score.expert_probs["short"][ev.chunk_id])
        assert np.isclose(readings, reading, atol=1e-5).all(axis=1).any()


def test_verdicts_carry_their_spans_into_storage_and_back(
    home: Path, tmp_path: Path, monkeypatch
) -> None:
    from flows.pipeline import Inline, verify_pipeline
    from storage.repository import current_repository
    from tests.experts.test_gate import FAST
    from verdictflow.config import reset_settings

    alignment = {"name": "alignment", "kind": "alignment", "routed": False, "options": {}}
    registry = write_registry(tmp_path / "reg.yaml", [*FAST, alignment])
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__REGISTRY", str(registry))
    monkeypatch.setenv("VERDICTFLOW_QUALITY__ENABLED", "false")
    reset_settings()
    context = "The Aurora X2 weigh 254 grams. They come in graphite and sand."
    items = [
        {"id": "weight", "text": "The Aurora X2 weigh 310 grams.", "context": context},
        {"id": "colour", "text": "The Aurora X2 come in bright red.", "context": context},
        {"id": "same", "text": "The Aurora X2 weigh 254 grams.", "context": context},
    ]
    result = verify_pipeline(Inline(), items)  # verdicts as read back from storage
    spans = {v.item_id: [(s.text, s.kind) for s in v.claims[0].spans] for v in result.verdicts}
    assert spans == {
        "weight": [("310", "contradicted")],
        "colour": [("bright red", "unsupported")],
        "same": [],
    }
    stored = current_repository().load_item_verdicts(result.run_id)
    assert [c.spans for v in stored for c in v.claims] == [
        c.spans for v in result.verdicts for c in v.claims
    ]
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__SPANS", "false")  # the switch: none read
    reset_settings()
    again = verify_pipeline(Inline(), items, run_id="no-spans")
    assert all(not c.spans for v in again.verdicts for c in v.claims)


def test_a_summarised_document_goes_to_the_long_sources_expert(home: Path, tmp_path: Path) -> None:
    """A source of a few hundred words (HaluEval's summarised documents are 110-word
    excerpts, ~650 characters) routes as long_source; a short paragraph does not."""
    general = make_tiny_cross_encoder(tmp_path / "general", max_length=64)
    long = make_tiny_cross_encoder(tmp_path / "long", max_length=192, seed=1)
    registry = write_registry(
        tmp_path / "reg.yaml",
        [
            {"name": "general", "kind": "cross_encoder", "weights": str(general), "prior": 3.0},
            {"name": "long", "kind": "cross_encoder", "weights": str(long),
             "domains": ["summary", "dialogue", "long_source"]},
        ],
    )  # fmt: skip
    get_settings().experts.registry = registry
    text = "The farm grew 7 tonnes of barley."

    def routed(sentences: int) -> dict[str, int]:
        context = " ".join(SENTENCE.format(i=i) for i in range(sentences))
        claim = Claim(item_id="i", claim_id="c", index=0, text=text, start=0, end=len(text),
                      context=context)  # fmt: skip
        scoring = Scorer(str(registry), top_k=1).score([claim], evidence_for([claim], k=2))
        return {n: k for n, k in scoring.report["routed"].items() if k}

    assert len(" ".join(SENTENCE.format(i=i) for i in range(8))) < 650
    assert routed(8) == {"long": 1}  # ~600 characters: long
    assert routed(3) == {"general": 1}  # ~220 characters: a short paragraph
