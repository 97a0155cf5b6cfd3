"""The alignment expert on hand-made pairs: which words are unsupported or contradicted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experts.verifiers.alignment import AlignmentExpert
from experts.verifiers.idf import MIN_DOCUMENTS, UNIFORM, IdfTable, corpus_idf, windows_idf
from verdictflow.contracts import CONTRADICTED, SUPPORTED, Span

AURORA = "The Aurora X2 weigh 254 grams and come with a hard case."


@pytest.fixture(scope="module")
def expert() -> AlignmentExpert:
    """One expert (and one MiniLM load) for the module; uniform idf, no corpus needed."""
    return AlignmentExpert(idf="uniform")


def spans_of(expert: AlignmentExpert, claim: str, evidence: str) -> list[Span]:
    spans = expert.spans((claim, evidence))
    for span in spans:  # offsets point at the claim's characters
        assert claim[span.start : span.end] == span.text
    return spans


def test_a_changed_number_is_a_contradicted_span_over_the_number(expert) -> None:
    claim = "The Aurora X2 weigh 310 grams."
    (span,) = spans_of(expert, claim, AURORA)
    assert (span.text, span.kind, span.start) == ("310", "contradicted", claim.index("310"))
    assert span.score > 0.8
    probs = expert.predict([(claim, AURORA)])[0]
    assert probs.argmax() == CONTRADICTED and np.isclose(probs.sum(), 1.0)


def test_an_added_adjective_is_an_unsupported_span(expert) -> None:
    claim = "The red car is parked outside the station."
    (span,) = spans_of(expert, claim, "The car is parked outside the station.")
    assert (span.text, span.kind) == ("red", "unsupported")
    why = expert.explain((claim, "The car is parked outside the station."))
    assert "unsupported 'red'" in why and "~" in why  # the nearest evidence word, and how near


def test_words_the_evidence_lacks_join_into_one_span(expert) -> None:
    claim = "The Fjell S1 has a built-in voice assistant."
    evidence = "The Fjell S1 is a portable Bluetooth speaker rated IP67 with a long battery life."
    spans = spans_of(expert, claim, evidence)
    assert [(s.text, s.kind) for s in spans] == [("built-in voice assistant", "unsupported")]


@pytest.mark.parametrize(
    ("claim", "evidence"),
    [
        ("The automobile is quick.", "The car is fast."),
        ("The Aurora X2 weigh 254 grams.", AURORA),
        ("Marie Curie won the Nobel Prize in 1903.", "In 1903 Marie Curie won the Nobel Prize."),
    ],
)
def test_a_paraphrase_has_no_span(expert, claim: str, evidence: str) -> None:
    assert spans_of(expert, claim, evidence) == []
    # It is surer of the paraphrase than of the same claim with a word the evidence lacks.
    padded = claim.rstrip(".") + " with enthusiasm."
    probs = expert.predict([(claim, evidence), (padded, evidence)])
    assert probs[0, SUPPORTED] > probs[1, SUPPORTED], expert.explain((claim, evidence))


def test_the_evidence_negating_the_claim_marks_the_negated_word(expert) -> None:
    claim = "The Aurora X2 support aptX."
    evidence = "The Aurora X2 support the AAC and LDAC codecs; they do not support aptX."
    spans = spans_of(expert, claim, evidence)
    assert [(s.text, s.kind) for s in spans] == [("support", "contradicted")]


def test_offsets_count_characters_in_non_ascii_text(expert) -> None:
    claim = "☕ Das Café in Zürich öffnet um 8 Uhr."
    (span,) = spans_of(expert, claim, "Das Café in Zürich öffnet um 9 Uhr.")
    assert (span.text, span.kind, span.start) == ("8", "contradicted", claim.index("8"))
    claim = "Das Café in Zürich serviert frische Crêpes."
    (span,) = spans_of(expert, claim, "Das Café in Zürich serviert frische Brötchen.")
    assert (span.text, span.start, span.end) == ("Crêpes", claim.index("Crêpes"), len(claim) - 1)


def test_no_content_word_gives_no_opinion_and_shapes_hold(expert) -> None:
    probs = expert.predict([("It is so.", AURORA), ("The Aurora X2 weigh 310 grams.", AURORA)])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(probs[0], [1 / 3] * 3)
    assert expert.predict([]).shape == (0, 3) and expert.span_batch([]) == []


def test_idf_weighs_rare_words_more_and_falls_back_without_documents() -> None:
    table = IdfTable.from_texts(["the cat sat", "the dog sat", "the cat ran", "a bird"])
    assert table.weight("bird") > table.weight("cat") > table.weight("the")
    assert table.weight("unseen") > table.weight("bird")
    assert windows_idf(["one window", "two windows"]) is UNIFORM  # too few to count
    many = [f"window number {i} about cats" for i in range(MIN_DOCUMENTS)]
    assert windows_idf(many).n_documents == MIN_DOCUMENTS


def test_idf_comes_from_the_corpus_when_there_is_one(home: Path, tmp_path: Path) -> None:
    from retrieval.ingest import ingest_paths

    expert = AlignmentExpert()
    pair = ("The Fjell S1 is rated IP67.", "The Fjell S1 speaker is rated IP67.")
    assert corpus_idf() is None and expert.idf_for([pair]).source == "uniform"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fjell.md").write_text("The Fjell S1 speaker is rated IP67 and weighs 1.1 kg.")
    (docs / "aurora.md").write_text("The Aurora X2 headphones weigh 254 grams.")
    ingest_paths([docs])
    table = expert.idf_for([pair])
    assert table.source.startswith("corpus@") and table.n_documents == 2
    assert table.weight("fjell") > table.weight("the")
