"""The spans stage: who reads a verdict's spans, on which evidence, and where they land."""

from __future__ import annotations

from pathlib import Path

from experts.decision.decide import decide_claims, verdict_spans
from experts.decision.highlights import claim_spans, span_readers
from experts.mixture.gate import load_gate
from experts.registry import SHIPPED_REGISTRY, load_registry
from experts.verifiers.alignment import AlignmentExpert
from tests.experts.test_gate import FAST
from tests.experts.tiny_models import write_registry
from verdictflow.contracts import Claim, ClaimScore, Evidence, VerdictLabel

CLAIM = "The Aurora X2 weigh 310 grams."


def _claim(claim_id: str, text: str) -> Claim:
    return Claim(item_id="i", claim_id=claim_id, index=0, text=text, start=0, end=len(text))


def _evidence(claim_id: str) -> list[Evidence]:
    texts = ["The Fjell S1 weighs 1.1 kilograms.", "The Aurora X2 weigh 254 grams."]
    return [
        Evidence(claim_id=claim_id, doc_id=f"d{k}", chunk_id=f"d{k}:0", text=t, score=1.0, rank=k)
        for k, t in enumerate(texts)
    ]


def test_the_alignment_expert_reads_spans_but_the_gate_never_routes_it(home: Path) -> None:
    routed = [s.name for s in load_registry(SHIPPED_REGISTRY)]
    every = [s.name for s in load_registry(SHIPPED_REGISTRY, include_unrouted=True)]
    assert "alignment" not in routed and "alignment" in every
    assert "alignment" not in load_gate(load_registry(SHIPPED_REGISTRY)).expert_names
    (reader,) = span_readers(str(SHIPPED_REGISTRY))
    assert isinstance(reader, AlignmentExpert)


def test_spans_are_read_on_the_deciding_chunk_and_reach_the_verdict(home: Path) -> None:
    claims = [_claim("i:0", CLAIM), _claim("i:1", "Nothing backs this claim.")]
    evidence = {"i:0": _evidence("i:0")}  # the second claim has no evidence
    scores = [
        ClaimScore(
            claim_id="i:0", probs=(0.1, 0.8, 0.1), best_chunk_id="d1:0", experts={"numbers": 1.0}
        )
    ]
    spans = claim_spans(claims, evidence, scores, str(SHIPPED_REGISTRY))
    assert [(s.text, s.kind) for s in spans["i:0"]] == [("310", "contradicted")]
    assert "i:1" not in spans
    # Against the other chunk (about another product) the same claim reads differently.
    other = [scores[0].model_copy(update={"best_chunk_id": "d0:0"})]
    assert claim_spans(claims, evidence, other, str(SHIPPED_REGISTRY))["i:0"] != spans["i:0"]
    verdicts = decide_claims(claims, evidence, scores, spans=spans)
    assert verdicts[0].spans == spans["i:0"] and verdicts[1].spans == []


def test_a_registry_without_an_alignment_expert_reads_spans_with_its_rule_experts(
    home: Path, tmp_path: Path
) -> None:
    registry = str(write_registry(tmp_path / "fast.yaml", FAST))
    assert sorted(e.name for e in span_readers(registry)) == ["entities", "negation", "numbers"]
    claims = [_claim("i:0", CLAIM)]
    scores = [ClaimScore(claim_id="i:0", probs=(0.1, 0.8, 0.1), best_chunk_id="d1:0", experts={})]
    spans = claim_spans(claims, {"i:0": _evidence("i:0")}, scores, registry)
    assert [(s.text, s.kind) for s in spans["i:0"]] == [("310", "contradicted")]
    only_similarity = write_registry(tmp_path / "sim.yaml", [{"name": "s", "kind": "similarity"}])
    assert claim_spans(claims, {"i:0": _evidence("i:0")}, scores, str(only_similarity)) == {
        "i:0": []
    }


def test_a_supported_verdict_shows_no_spans_and_a_contradicted_one_shows_them(home: Path) -> None:
    text = "The Aurora X2 weigh 254 grams and come with a hard case."
    claims = [_claim("i:0", text), _claim("i:1", text)]
    evidence = {cid: _evidence(cid) for cid in ("i:0", "i:1")}
    scores = [
        ClaimScore(claim_id="i:0", probs=(0.9, 0.05, 0.05), best_chunk_id="d1:0", experts={}),
        ClaimScore(claim_id="i:1", probs=(0.1, 0.1, 0.8), best_chunk_id="d1:0", experts={}),
    ]
    spans = claim_spans(claims, evidence, scores, str(SHIPPED_REGISTRY))
    # Read against the chunk, the words it lacks ("come with a hard case") are unsupported ...
    assert spans["i:0"] and all(s.kind == "unsupported" for s in spans["i:0"])
    supported, unsupported = decide_claims(claims, evidence, scores, spans=spans)
    # ... but a claim decided supported tells one story: green, with no span saying otherwise.
    assert supported.label == VerdictLabel.SUPPORTED and supported.spans == []
    assert unsupported.label == VerdictLabel.UNSUPPORTED and unsupported.spans == spans["i:1"]
    assert verdict_spans(VerdictLabel.UNCERTAIN, spans["i:1"]) == spans["i:1"]
