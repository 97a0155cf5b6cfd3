"""gather_evidence: context claims rank their own context; others search the corpus."""

from __future__ import annotations

from retrieval.evidence import gather_evidence
from retrieval.ingest import ingest_paths
from verdictflow.contracts import Claim

CONTEXT = (
    "The Amazon river flows through Brazil. It carries more water than any other river. "
    "Manaus is a large city on the river. Rubber was a big business there around 1900."
)


def claim(cid: str, text: str, item: str = "i1", context: str | None = None) -> Claim:
    return Claim(item_id=item, claim_id=cid, index=0, text=text, start=0, end=len(text),
                 context=context)  # fmt: skip


def test_context_claims_rank_their_own_context(home):
    claims = [
        claim("c1", "Manaus is a city on the Amazon.", context=CONTEXT),
        claim("c2", "Rubber was important business.", context=CONTEXT),
    ]
    ev = gather_evidence(claims, k=2)
    assert set(ev) == {"c1", "c2"}
    for evidence in ev.values():
        assert 1 <= len(evidence) <= 2
        assert all(e.origin == "context" and e.doc_id == "context:i1" for e in evidence)
        assert [e.rank for e in evidence] == list(range(1, len(evidence) + 1))
        assert all(e.text in CONTEXT for e in evidence)


def test_context_is_chunked_and_ranked_by_similarity(home, monkeypatch):
    long_context = (
        " ".join(f"Paragraph {i} talks about farming and weather in the valley." for i in range(30))
        + " The castle on the hill was built in 1210 by a duke."
    )
    (e1, e2) = gather_evidence(
        [claim("c", "When was the castle built?", context=long_context)], k=2
    )["c"]
    assert "castle" in e1.text and e1.score > e2.score
    assert e1.chunk_id.startswith("context:i1#")


def test_claims_without_context_search_the_corpus(home, tmp_path):
    (tmp_path / "a.txt").write_text("The Eiffel Tower is in Paris. It was completed in 1889.")
    (tmp_path / "b.txt").write_text("Mount Fuji is the highest mountain in Japan.")
    ingest_paths([tmp_path])
    claims = [
        claim("c1", "The Eiffel Tower was completed in 1889.", item="i1"),
        claim("c2", "Fuji is Japan's highest mountain.", item="i2"),
        claim("c3", "Manaus is on the Amazon.", item="i3", context=CONTEXT),
    ]
    ev = gather_evidence(claims, k=1)
    assert ev["c1"][0].doc_id == "a.txt" and ev["c1"][0].origin == "corpus"
    assert ev["c2"][0].doc_id == "b.txt"
    assert [e.origin for e in ev["c3"]] == ["context"]
    more = gather_evidence(claims[2:], k=1, add_corpus=True)["c3"]
    assert [e.origin for e in more] == ["context", "corpus"] and [e.rank for e in more] == [1, 2]


def test_no_corpus_and_no_context_means_no_evidence(home):
    ev = gather_evidence([claim("c1", "Nothing to check against.")])
    assert ev == {"c1": []}
    assert gather_evidence([]) == {}


def test_corpus_chunks_longer_than_a_window_are_cut_to_fit(home, tmp_path):
    from retrieval.embedding import load_tokenizer

    lines = [f"Line {i} says the valley farm keeps {i} goats and some sheep." for i in range(8)]
    text = "\n".join([*lines, "The farm does not sell cheese."])
    (tmp_path / "farm.md").write_text(text)
    ingest_paths([tmp_path])
    c = claim("c", "The farm sells cheese.")
    (whole,) = gather_evidence([c], k=1)["c"]  # one retrieval chunk, as stored
    assert "cheese" in whole.text and len(load_tokenizer()(whole.text)["input_ids"]) > 40
    pieces = gather_evidence([c], k=1, window=40, overlap=8)["c"]
    assert len(pieces) > 1 and [e.rank for e in pieces] == list(range(1, len(pieces) + 1))
    assert all(e.chunk_id.startswith(f"{whole.chunk_id}@w") for e in pieces)
    assert all(len(load_tokenizer()(e.text, add_special_tokens=False)["input_ids"]) <= 40
               for e in pieces)  # fmt: skip
    assert any("does not sell cheese" in e.text for e in pieces)  # nothing is lost
