"""score_claims in-process and under the thread task runner; routing k=1 and k=all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prefect import flow

from experts.mixture.scoring import Batch, InProcessRunner, Scorer
from flows.runtime import task_runner
from tasks.scoring import score_claims
from tests.experts.tiny_models import write_registry
from verdictflow.config import get_settings, reset_settings
from verdictflow.contracts import CONTRADICTED, NOT_ENOUGH_INFO, SUPPORTED, Claim, Evidence

FAST = [
    {"name": "similarity", "kind": "similarity", "prior": 1.0},
    {"name": "numbers", "kind": "numbers", "patterns": [r"\d"], "prior": 0.5},
    {"name": "entities", "kind": "entities", "prior": 0.5},
    {"name": "negation", "kind": "negation", "keywords": ["not"], "prior": 0.5},
]
TOWER = "Construction of the Eiffel Tower in Paris was finished in 1889; it is 330 m tall."
CLAIMS = {
    "para": "The Eiffel Tower was completed in 1889.",
    "num": "The Eiffel Tower is 300 metres tall.",
    "absent": "The Eiffel Tower has a swimming pool on its roof.",
    "none": "Nothing backs this claim at all.",
}


def _inputs() -> tuple[list[Claim], dict[str, list[Evidence]]]:
    claims = [
        Claim(item_id="i", claim_id=cid, index=i, text=t, start=0, end=len(t))
        for i, (cid, t) in enumerate(CLAIMS.items())
    ]
    unrelated = "The Louvre holds the Mona Lisa."
    evidence = {
        cid: [
            Evidence(claim_id=cid, doc_id="d1", chunk_id=f"{cid}-a", text=TOWER, score=0.9, rank=0),
            Evidence(
                claim_id=cid, doc_id="d2", chunk_id=f"{cid}-b", text=unrelated, score=0.2, rank=1
            ),
        ]
        for cid in CLAIMS
        if cid != "none"
    }
    return claims, evidence


@pytest.fixture
def registry(home: Path, tmp_path: Path) -> str:
    return str(write_registry(tmp_path / "reg.yaml", FAST))


def test_verdicts_on_hand_made_claims(registry: str) -> None:
    claims, evidence = _inputs()
    scores, report = score_claims(claims, evidence, registry=registry)
    by_id = {s.claim_id: s for s in scores}
    assert np.argmax(by_id["para"].probs) == SUPPORTED  # paraphrase, via similarity
    assert "similarity" in by_id["para"].experts
    assert by_id["para"].best_chunk_id == "para-a"
    assert np.argmax(by_id["num"].probs) == CONTRADICTED  # a changed number
    assert "numbers" in by_id["num"].experts
    assert np.argmax(by_id["absent"].probs) == NOT_ENOUGH_INFO
    assert by_id["none"].probs == (0.0, 0.0, 1.0) and by_id["none"].best_chunk_id is None
    for s in scores:
        assert sum(s.experts.values()) == pytest.approx(1.0) or not s.experts
    assert report["gate"] == "prior" and report["pairs"] == 6 and report["claims"] == 4
    assert sum(report["routed"].values()) == report["pairs_scored"] >= 6
    assert sum(report["utilisation"].values()) == pytest.approx(1.0)


def test_k1_and_k_all(registry: str) -> None:
    claims, evidence = _inputs()
    one, r1 = score_claims(claims, evidence, registry=registry, top_k=1)
    dense, rall = score_claims(claims, evidence, registry=registry, top_k=4)
    assert r1["pairs_scored"] == 6 and rall["pairs_scored"] == rall["dense_pairs"] == 24
    assert all(len(s.experts) == 1 for s in one if s.experts)
    assert all(set(s.experts) == {e["name"] for e in FAST} for s in dense if s.experts)
    assert rall["balance"] == pytest.approx(1.0)


def test_under_a_flow_with_the_thread_runner(prefect_harness, registry: str) -> None:
    claims, evidence = _inputs()
    settings = get_settings()
    threads = settings.model_copy(
        update={"dask": settings.dask.model_copy(update={"use_dask": False})}
    )

    @flow
    def scoring() -> tuple:
        return score_claims(claims, evidence, registry=registry)

    scores, report = scoring.with_options(task_runner=task_runner(threads))()
    expected, _ = score_claims(claims, evidence, registry=registry)
    np.testing.assert_allclose([s.probs for s in scores], [s.probs for s in expected])
    assert report["batches"] >= 2


def test_task_runner_follows_settings() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    settings = get_settings()
    local = task_runner(settings)
    assert isinstance(local, DaskTaskRunner)
    assert local.cluster_kwargs["n_workers"] == settings.dask.n_workers
    remote = task_runner(settings.model_copy(update={"dask_address": "tcp://10.0.0.1:8786"}))
    assert remote.address == "tcp://10.0.0.1:8786"
    off = settings.model_copy(update={"dask": settings.dask.model_copy(update={"use_dask": False})})
    assert isinstance(task_runner(off), ThreadPoolTaskRunner)


def test_answers_to_questions_route_to_qa_experts(home: Path, tmp_path: Path) -> None:
    reg = str(
        write_registry(
            tmp_path / "qa.yaml",
            [
                {"name": "similarity", "kind": "similarity", "prior": 1.0},
                {"name": "qa-negation", "kind": "negation", "domains": ["qa"], "prior": 0.5},
            ],
        )
    )
    text = "The museum opens on Mondays."
    claims = [
        Claim(item_id="i", claim_id=cid, index=0, text=text, start=0, end=len(text), question=q)
        for cid, q in (("asked", "When does the museum open?"), ("plain", None))
    ]
    evidence = {
        c.claim_id: [
            Evidence(claim_id=c.claim_id, doc_id="d", chunk_id="k", text=text, score=1, rank=0)
        ]
        for c in claims
    }
    scores, _ = score_claims(claims, evidence, registry=reg, top_k=1)
    assert list(scores[0].experts) == ["qa-negation"]
    assert list(scores[1].experts) == ["similarity"]
    given, _ = score_claims(claims, evidence, registry=reg, top_k=1, claim_domains={"plain": "qa"})
    assert list(given[1].experts) == ["qa-negation"]


class RecordingRunner(InProcessRunner):
    """Scores in this process and keeps every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def run(self, batches):
        self.batches.extend(batches)
        return super().run(batches)


def test_a_repeated_claim_and_window_is_scored_once(registry: str) -> None:
    claims, evidence = _inputs()
    text = CLAIMS["num"]  # the same claim in another item, against the same evidence texts
    claims.append(Claim(item_id="j", claim_id="again", index=0, text=text, start=0, end=len(text)))
    evidence["again"] = [e.model_copy(update={"claim_id": "again"}) for e in evidence["num"]]
    runner = RecordingRunner()
    result = Scorer(registry).score(claims, evidence, runner)
    for name in {b.expert for b in runner.batches}:
        scored = [pair for b in runner.batches if b.expert == name for pair in b.pairs]
        assert len(scored) == len(set(scored)), name
        assert len(scored) == result.report["windows_scored"][name]
    assert sum(result.report["windows_scored"].values()) < sum(
        result.report["windows_read"].values()
    )
    # The same scores as each claim scored alone (nothing repeated to drop there).
    by_id = {s.claim_id: s for s in result.scores}
    for claim in claims:
        (alone,) = (
            Scorer(registry)
            .score([claim], {claim.claim_id: evidence.get(claim.claim_id, [])})
            .scores
        )
        assert by_id[claim.claim_id].probs == pytest.approx(alone.probs, abs=1e-6)
        assert by_id[claim.claim_id].best_chunk_id == alone.best_chunk_id
    assert by_id["again"].probs == pytest.approx(by_id["num"].probs, abs=1e-6)


def test_a_sure_gate_sends_each_pair_to_one_expert(registry: str, monkeypatch) -> None:
    claims, evidence = _inputs()
    two = Scorer(registry).score(claims, evidence).report
    assert two["pairs_scored"] == 2 * two["pairs"]
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__GATE_SURE_MARGIN", "0")  # every lead is enough
    reset_settings()
    one = Scorer(registry).score(claims, evidence)
    assert one.report["pairs_scored"] == one.report["pairs"]
    assert all(len(s.experts) == 1 for s in one.scores if s.experts)


def test_each_window_is_read_after_its_document_s_title(registry: str) -> None:
    from experts.mixture.scoring import read_in_windows

    body = " ".join(f"Sentence {i} of the manual says little about the product." for i in range(12))
    pairs = [("claim", body), ("claim", "Aurora X2 manual: they weigh 254 grams.")]
    titles = ["Aurora X2 manual", "Aurora X2 manual"]
    read, owner = read_in_windows(pairs, np.arange(2), 32, titles)
    first = [text for (_, text), row in zip(read, owner, strict=True) if row == 0]
    assert len(first) > 1  # cut into windows, every one of them after the title
    assert all(text.startswith("Aurora X2 manual\n\n") for text in first)
    assert read[-1] == ("claim", "Aurora X2 manual: they weigh 254 grams.")  # holds it already
    plain, _ = read_in_windows(pairs, np.arange(2), 32)
    assert not any(text.startswith("Aurora") for _, text in plain[:-1])

    claims, evidence = _inputs()
    titled = {cid: [e.model_copy(update={"title": "Paris landmarks"}) for e in found]
              for cid, found in evidence.items()}  # fmt: skip
    runner = RecordingRunner()
    Scorer(registry).score(claims, titled, runner)
    texts = {text for b in runner.batches for _, text in b.pairs}
    assert texts == {f"Paris landmarks\n\n{e.text}" for found in evidence.values() for e in found}
