"""The verify stages' own rules: verification windows sized to the experts' max length."""

from __future__ import annotations

from pathlib import Path

from experts.registry import load_registry, window_tokens
from retrieval.embedding import load_tokenizer
from tasks.stages import evidence_for
from tests.experts.tiny_models import make_tiny_cross_encoder, write_registry
from verdictflow.config import get_settings
from verdictflow.contracts import Claim

SENTENCE = "Paragraph {i} says the valley farm grew {i} tonnes of barley in a dry year."


def test_context_windows_fit_the_smallest_expert_whole(home: Path, tmp_path: Path) -> None:
    short = make_tiny_cross_encoder(tmp_path / "short", max_length=64)
    long = make_tiny_cross_encoder(tmp_path / "long", max_length=192)
    registry = write_registry(
        tmp_path / "reg.yaml",
        [
            {"name": "short", "kind": "cross_encoder", "weights": str(short)},
            {"name": "long", "kind": "cross_encoder", "weights": str(long)},
        ],
    )
    assert [s.max_length for s in load_registry(registry)] == [64, 192]
    get_settings().experts.registry = registry
    window = window_tokens(registry)
    assert window == 64 - get_settings().experts.window_claim_tokens

    context = " ".join(SENTENCE.format(i=i) for i in range(40))
    text = "The farm grew 7 tonnes of barley."
    claim = Claim(item_id="i", claim_id="c", index=0, text=text, start=0, end=len(text),
                  context=context)  # fmt: skip
    evidence = evidence_for([claim])["c"]
    tokenizer = load_tokenizer()
    assert evidence and all(e.text in context for e in evidence)
    for e in evidence:
        pair = tokenizer(e.text, claim.text)["input_ids"]
        assert len(pair) <= 64, (len(pair), e.text)  # read whole: nothing truncated
    # The setting wins over the registry's limits.
    get_settings().experts.window_tokens = 120
    assert window_tokens(registry) == 120
    assert max(len(tokenizer(e.text)["input_ids"]) for e in evidence_for([claim])["c"]) > 64


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
