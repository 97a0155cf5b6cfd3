"""Synthetic pairs: each transform does what its name says, labelled as it should be."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experts.training import data_sources, synthetic
from experts.training.data import DataError
from experts.verifiers.text import content_tokens

DOCS = pd.DataFrame(
    {
        "doc_id": ["news:1", "news:2", "wiki:3"],
        "text": [
            "Maria Lopez was elected mayor of Springfield in 2019. She won 54 percent of the "
            "vote, which was a record for the city. The council approved all of her budget "
            "plans (including the new library) before the summer. Springfield is larger than "
            "Shelbyville, according to the census.",
            "The Aurora Dam was completed in 1987 after nine years of work. It supplies water to "
            "3,400 farms in the valley. Engineers from Norway designed the dam, which is still "
            "the highest in the region. Local farmers did not support the project at first.",
            "The river Lune rises in the hills above Kirkby. Its water was used by mills before "
            "the railway arrived, and most of the mills closed in 1920. Many visitors walk the "
            "path beside the river every summer.",
        ],
    }
)


@pytest.fixture(scope="module")
def pairs() -> pd.DataFrame:
    return synthetic.build_pairs(DOCS, n_per_transform=20, seed=3)


def test_every_transform_is_named_labelled_and_counted(pairs: pd.DataFrame) -> None:
    counts = synthetic.transform_counts(pairs)
    # Every transform found something to do on these texts.
    assert set(counts) == set(synthetic.TRANSFORMS)
    for name, label in synthetic.TRANSFORMS.items():
        assert set(pairs.loc[pairs["transform"] == name, "label"]) == {label}
    assert set(pairs["group"]) <= set(DOCS["doc_id"])
    assert not pairs.duplicated(["evidence", "claim"]).any()


def test_deterministic_by_seed(pairs: pd.DataFrame) -> None:
    again = synthetic.build_pairs(DOCS, n_per_transform=20, seed=3)
    pd.testing.assert_frame_equal(pairs, again)
    other = synthetic.build_pairs(DOCS, n_per_transform=20, seed=4)
    assert not pairs.equals(other)


def _rows(pairs: pd.DataFrame, name: str) -> pd.DataFrame:
    return pairs[pairs["transform"] == name]


def test_supported_claims_are_in_or_shortened_from_the_evidence(pairs: pd.DataFrame) -> None:
    for row in _rows(pairs, "identity").itertuples():
        assert row.claim in row.evidence
    for row in _rows(pairs, "compression").itertuples():
        # Fewer words, every content word from the evidence.
        assert set(content_tokens(row.claim)) <= set(content_tokens(row.evidence))
    assert any(
        row.claim == "The council approved all of her budget plans before the summer."
        for row in _rows(pairs, "compression").itertuples()
    )


def test_contradictions_change_one_thing(pairs: pd.DataFrame) -> None:
    numbers = _rows(pairs, "number_change")
    assert len(numbers) and all(row.claim not in row.evidence for row in numbers.itertuples())
    negated = {row.claim for row in _rows(pairs, "negation").itertuples()}
    assert "Local farmers did support the project at first." in negated
    assert any(" not " in c for c in negated)
    swapped = _rows(pairs, "entity_swap")
    for row in swapped.itertuples():
        assert row.claim not in row.evidence
        # the new name comes from the same document
        assert any(name.text in row.evidence for name in synthetic.find_entities(row.claim))
    antonyms = {row.claim for row in _rows(pairs, "antonym").itertuples()}
    assert "Springfield is smaller than Shelbyville, according to the census." in antonyms


def test_not_enough_info_adds_what_the_source_does_not_say(pairs: pd.DataFrame) -> None:
    for row in _rows(pairs, "other_document").itertuples():
        assert row.claim not in row.evidence
    for row in _rows(pairs, "added_clause").itertuples():
        assert row.claim not in row.evidence and len(row.claim.split()) > 6


def test_overlap_controlled_keeps_the_pairs_where_overlap_misleads() -> None:
    df = pd.DataFrame(
        {
            "evidence": ["a b c d"] * 4,
            "claim": ["a b c d", "x y", "a b c", "x y z"],
            "label": ["supported", "supported", "contradicted", "contradicted"],
        }
    )
    hard = synthetic.overlap_controlled(df)
    # low-overlap supported ("x y") and high-overlap unsupported ("a b c") only
    assert hard["claim"].tolist() == ["x y", "a b c"]
    ov = synthetic.word_overlap(df["evidence"], df["claim"])
    assert np.allclose(ov, [1.0, 0.0, 1.0, 0.0])


def test_reserved_tasks_are_never_read(tmp_path) -> None:
    for task in data_sources.RESERVED_TASKS:
        with pytest.raises(DataError, match="reserved"):
            data_sources.bigbench_file(f"{task}/task.json", tmp_path)


def test_parse_nli_tasks() -> None:
    rows = data_sources.parse_nli_task(
        "epistemic_reasoning",
        [
            {
                "input": "Premise: Ann knows that it rains. Hypothesis: It rains.",
                "target_scores": {"entailment": 1, "non-entailment": 0},
            }
        ],
    )
    assert rows[["evidence", "claim", "label"]].values.tolist() == [
        ["Ann knows that it rains.", "It rains.", "supported"]
    ]
    rows = data_sources.parse_nli_task(
        "analytic_entailment",
        [{"input": "Coco is a bird. So Coco can fly.", "target_scores": {"no-entailment": 1}}],
    )
    assert rows[["evidence", "claim", "label"]].values.tolist() == [
        ["Coco is a bird.", "Coco can fly.", "not_supported"]
    ]
    rows = data_sources.parse_nli_task(
        "entailed_polarity",
        [
            {
                "input": "Fact: Ed managed to fix the car. Q: Did Ed fix the car?",
                "target_scores": {"yes": 1.0, "no": 0.0},
            }
        ],
    )
    assert rows[["claim", "label"]].values.tolist() == [
        ["Q: Did Ed fix the car? A: yes.", "supported"],
        ["Q: Did Ed fix the car? A: no.", "contradicted"],
    ]


def test_parse_squad_pairs_right_and_wrong_answers() -> None:
    data = [
        {
            "paragraphs": [
                {
                    "context": "The bridge opened in 1932. It was built by Dorman Long.",
                    "qas": [
                        {"question": "When did it open?", "answers": [{"text": "1932"}]},
                        {"question": "Who built it?", "answers": [{"text": "Dorman Long"}]},
                    ],
                }
            ]
        }
    ]
    rows = data_sources.parse_squad(data, "nyt")
    assert rows[["claim", "label"]].values.tolist() == [
        ["Q: When did it open? A: 1932.", "supported"],
        ["Q: When did it open? A: Dorman Long.", "not_supported"],
        ["Q: Who built it? A: Dorman Long.", "supported"],
        ["Q: Who built it? A: 1932.", "not_supported"],
    ]
    assert set(rows["group"]) == {"nyt:0:0"}
