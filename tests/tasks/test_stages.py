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
