"""gather_evidence: context claims rank their own context; others search the corpus."""

from __future__ import annotations

import pytest

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


def test_evidence_carries_the_claim_s_similarity_a_reader_can_read(home, tmp_path):
    (tmp_path / "a.txt").write_text("The Eiffel Tower is in Paris. It was completed in 1889.")
    (tmp_path / "b.txt").write_text("Mount Fuji is the highest mountain in Japan.")
    ingest_paths([tmp_path])
    claims = [
        claim("c1", "The Eiffel Tower was completed in 1889.", item="i1"),
        claim("c2", "Manaus is a city on the Amazon.", item="i2", context=CONTEXT),
    ]
    ev = gather_evidence(claims, k=2, mode="hybrid")
    tower, fuji = ev["c1"]
    assert (tower.doc_id, fuji.doc_id) == ("a.txt", "b.txt")
    # The fused rank score says little (about 1/60); the similarity is a cosine in [0, 1].
    assert tower.score < 0.05 and fuji.score < 0.05
    assert 0.6 < tower.similarity <= 1.0 and 0.0 <= fuji.similarity < 0.3
    for e in ev["c2"]:  # context evidence: ranked by the same cosine it shows
        assert e.similarity == pytest.approx(max(e.score, 0.0))
    assert ev["c2"][0].similarity > 0.3


def test_no_corpus_and_no_context_means_no_evidence(home):
    ev = gather_evidence([claim("c1", "Nothing to check against.")])
    assert ev == {"c1": []}
    assert gather_evidence([]) == {}


def test_corpus_chunks_longer_than_a_window_are_cut_to_fit(home, tmp_path):
    from transformers import AutoTokenizer

    from retrieval.embedding import packaged_model_path

    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())

    lines = [f"Line {i} says the valley farm keeps {i} goats and some sheep." for i in range(8)]
    text = "\n".join([*lines, "The farm does not sell cheese."])
    (tmp_path / "farm.md").write_text(text)
    ingest_paths([tmp_path])
    c = claim("c", "The farm sells cheese.")
    (whole,) = gather_evidence([c], k=1)["c"]  # one retrieval chunk, as stored
    assert "cheese" in whole.text and len(tokenizer(whole.text)["input_ids"]) > 40
    pieces = gather_evidence([c], k=1, window=40, overlap=8)["c"]
    assert len(pieces) > 1 and [e.rank for e in pieces] == list(range(1, len(pieces) + 1))
    assert all(e.chunk_id.startswith(f"{whole.chunk_id}@w") for e in pieces)
    assert all(len(tokenizer(e.text, add_special_tokens=False)["input_ids"]) <= 40
               for e in pieces)  # fmt: skip
    assert any("does not sell cheese" in e.text for e in pieces)  # nothing is lost


def test_only_the_windows_closest_to_the_claim_are_kept(home, tmp_path, monkeypatch):
    from verdictflow.config import reset_settings

    lines = [f"Line {i} says the valley farm keeps {i} goats and some sheep." for i in range(8)]
    (tmp_path / "farm.md").write_text("\n".join([*lines, "The farm does not sell cheese."]))
    ingest_paths([tmp_path])
    claims = [
        claim("corpus", "The farm sells cheese."),
        claim("ctx", "When was the castle built?", item="i2", context=" ".join(
            f"Paragraph {i} talks about farming and weather in the valley." for i in range(30)
        ) + " The castle on the hill was built in 1210 by a duke."),
    ]  # fmt: skip
    every = gather_evidence(claims, k=5, window=40, overlap=8)
    kept = gather_evidence(claims, k=5, window=40, overlap=8, per_claim=2)
    for cid in ("corpus", "ctx"):
        assert len(every[cid]) > 2 and len(kept[cid]) == 2
        best = sorted(every[cid], key=lambda e: -e.similarity)[:2]
        assert {e.chunk_id for e in kept[cid]} == {e.chunk_id for e in best}
        assert [e.rank for e in kept[cid]] == [1, 2]
        order = [e.chunk_id for e in every[cid]]  # in their order, with the same similarity
        assert [order.index(e.chunk_id) for e in kept[cid]] == sorted(
            order.index(e.chunk_id) for e in kept[cid]
        )
        assert [e.similarity for e in kept[cid]] == [
            next(b.similarity for b in best if b.chunk_id == e.chunk_id) for e in kept[cid]
        ]
    assert any("cheese" in e.text for e in kept["corpus"])
    assert any("castle" in e.text for e in kept["ctx"])
    # Without k: the context gives retrieval.context_windows (2), the corpus top_k (5).
    context_only = gather_evidence(claims, window=40, overlap=8)
    assert [e.chunk_id for e in context_only["ctx"]] == [
        e.chunk_id for e in sorted(every["ctx"], key=lambda e: -e.similarity)[:2]
    ]
    assert [e.chunk_id for e in context_only["corpus"]] == [e.chunk_id for e in every["corpus"]]
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__CONTEXT_WINDOWS", "4")
    reset_settings()
    assert len(gather_evidence(claims, window=40, overlap=8)["ctx"]) == 4
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__WINDOWS_PER_CLAIM", "1")  # the setting
    reset_settings()
    assert [len(v) for v in gather_evidence(claims, k=5, window=40, overlap=8).values()] == [1, 1]


def test_retrieved_chunks_are_not_embedded_again(home, tmp_path, monkeypatch):
    import numpy as np

    from retrieval.embedding import embed_texts, load_embedder, vector_cache

    (tmp_path / "a.txt").write_text("The Eiffel Tower is in Paris. It was completed in 1889.")
    (tmp_path / "b.txt").write_text("Mount Fuji is the highest mountain in Japan.")
    ingest_paths([tmp_path])
    vector_cache.clear()  # as in a new process: only the store holds the chunks' vectors
    model = load_embedder()
    encoded: list[str] = []
    real = model.encode

    def encode(texts, **kwargs):
        encoded.extend(texts)
        return real(texts, **kwargs)

    monkeypatch.setattr(model, "encode", encode)
    text = "The Eiffel Tower was completed in 1889."
    found = gather_evidence([claim("c", text)], k=2)["c"]
    assert encoded == [text]  # the claim; both chunks' vectors come from the store
    assert len(found) == 2 and found[0].doc_id == "a.txt"
    vector_cache.clear()
    vectors = embed_texts([text, *[e.text for e in found]])
    expected = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
    np.testing.assert_allclose([e.similarity for e in found], expected, atol=1e-5)


def test_corpus_evidence_carries_its_document_s_title_for_the_verifiers(home, tmp_path):
    lines = [f"The Aurora X2 weigh {250 + i} grams in test {i} of the lab." for i in range(8)]
    body = "\n".join([*lines, "They are available in three colours: graphite, sand and blue."])
    (tmp_path / "x2.md").write_text(f"# Aurora X2 headphones\n\n{body}\n")
    ingest_paths([tmp_path])
    pieces = gather_evidence([claim("c", "The Aurora X2 come in three colours.")], k=2,
                             window=40, overlap=8)["c"]  # fmt: skip
    assert len(pieces) > 1 and {e.title for e in pieces} == {"Aurora X2 headphones"}
    (head,) = [e for e in pieces if e.text.startswith("# Aurora X2 headphones")]
    assert head.read_text == head.text  # the title is in it already: not twice
    (colours,) = [e for e in pieces if "colours" in e.text]
    assert "Aurora X2 headphones" not in colours.text
    assert colours.read_text == f"Aurora X2 headphones\n\n{colours.text}"


def test_a_context_that_opens_with_a_title_gives_it_to_each_of_its_windows(home):
    lines = " ".join(f"Line {i} of the sheet lists a part of the speaker." for i in range(10))
    context = f"# Fjell S1 portable speaker\n\n{lines} It charges over USB-C in about 3 hours."
    found = gather_evidence([claim("c", "The Fjell S1 charges in 3 hours.", context=context)],
                            k=3, window=40, overlap=8)["c"]  # fmt: skip
    assert len(found) == 3 and {e.title for e in found} == {"Fjell S1 portable speaker"}
    (charges,) = [e for e in found if "USB-C" in e.text]
    assert charges.read_text.startswith("Fjell S1 portable speaker\n\n")
    plain = gather_evidence([claim("c", "The Fjell S1 charges.", context=lines)], k=1)["c"]
    assert plain[0].title == "" and plain[0].read_text == plain[0].text
