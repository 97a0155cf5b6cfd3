"""The shipped models are what they say: models/generalist, qa, long_sources, gate-learned.pt.

Each cross-encoder is loaded once per session the way verification loads it
(``CrossEncoderExpert``, no MC dropout) and must

- order hand-made pairs as its labels say: a clear support above a clear contradiction and
  above an unrelated sentence (3-class: the contradiction is the most contradicted, the
  unrelated sentence the most not-enough-info);
- reproduce its model card's test figures on a fixed sample of the card's own test split:
  the first ``SAMPLE`` of the card's seeded sample (``df.sample(n, random_state=seed)`` takes
  a prefix of one permutation, so these pairs are a subset of the card's), within three
  standard errors of a ``SAMPLE``-pair estimate (Hanley-McNeil for AUROC, binomial for
  balanced accuracy). The figures, seed and split hashes are read from the card files, so a
  retrained model with a new card is checked against its own card.

The learned gate must route hand-made claims to the experts made for them.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.experts.downloads import load_or_skip

MODELS = Path(__file__).resolve().parents[2] / "models"
EXPERTS = ("generalist", "qa", "long_sources")
SAMPLE = 150
HALUEVAL = {"halueval_qa": "qa", "halueval_dialogue": "dialogue"}
HALUEVAL["halueval_summarization"] = "summarization"

AURORA = "The Aurora X2 is a compact camera. It weighs 254 grams and comes in black."
AUSTEN = "Pride and Prejudice is an 1813 novel by Jane Austen."
CANBERRA = "Canberra is the capital city of Australia."
CURIE = "Marie Curie shared the 1903 Nobel Prize in Physics."
LIBRARY = (
    "The city council met on Tuesday to discuss the new library. After a long debate, the "
    "council voted seven to two to fund the library, which will open in the old post office "
    "building next spring. The mayor said the library would have a children's wing and a "
    "cafe. Opponents argued that the money should go to road repairs instead."
)
# (evidence, clear support, clear contradiction, unrelated sentence) per expert.
HAND_MADE = {
    "generalist": [
        (
            AURORA,
            "The Aurora X2 weighs 254 grams.",
            "The Aurora X2 weighs 310 grams.",
            "The violin has four strings.",
        ),
        (
            AUSTEN,
            "Jane Austen wrote Pride and Prejudice.",
            "Charles Dickens wrote Pride and Prejudice.",
            "The Danube flows into the Black Sea.",
        ),
    ],
    "qa": [
        (
            AUSTEN,
            "Q: Who wrote Pride and Prejudice? A: Jane Austen.",
            "Q: Who wrote Pride and Prejudice? A: Charles Dickens.",
            "Q: What is the capital of Australia? A: Canberra.",
        ),
        (
            CANBERRA,
            "Q: What is the capital of Australia? A: Canberra.",
            "Q: What is the capital of Australia? A: Perth.",
            "Q: Who wrote Pride and Prejudice? A: Jane Austen.",
        ),
    ],
    "long_sources": [
        (
            LIBRARY,
            "The council voted to fund a new library in the old post office building.",
            "The council voted against funding the new library and chose road repairs.",
            "The football team won the national championship after a penalty shootout.",
        ),
    ],
}


@cache
def card(name: str) -> str:
    return (MODELS / name / "model_card.md").read_text(encoding="utf-8")


def card_test_metrics(name: str) -> dict[str, dict]:
    """``{data set: metrics}`` of the card's "Test metrics" table."""
    text = card(name).split("## Test metrics", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| (\{.*\}) \|$", text, flags=re.M)
    return {ds: json.loads(metrics) for ds, metrics in rows}


def card_splits(name: str) -> dict:
    """The card's split manifest (rows, groups, labels, sha256 per data set and split)."""
    text = card(name).split("## Splits", 1)[1]
    return json.loads(text.split("```json", 1)[1].split("```", 1)[0])


def card_seed(name: str) -> int:
    settings = card(name).split("## Training settings", 1)[1]
    return json.loads(settings.split("```json", 1)[1].split("```", 1)[0])["seed"]


# The figure checked in the default run per expert (a few seconds each); every other data set
# of its card is checked in the slow run (VitaminC needs the 1.8 GB bigbench archive).
QUICK = {"generalist": "taxinli10k", "qa": "halueval_qa", "long_sources": "halueval_summarization"}


def _corpus_sources() -> set[str]:
    from experts.training.corpus import source_names
    from verdictflow.config import get_settings

    return set(source_names()) if get_settings().training.corpus_dir else set()


def _figure_params():
    corpus = _corpus_sources()
    for name in EXPERTS:
        # The sets read from a download or the verification corpus here; the old cards'
        # bigbench_nli, squad_shifts and synthetic figures need the whole training-data build.
        for ds, figures in card_test_metrics(name).items():
            if figures["pairs"] <= SAMPLE:  # too few test pairs for a fixed sample
                continue
            if ds in corpus:
                marks = []  # read from shared/, no download
            elif ds in HALUEVAL or ds == "vitaminc":
                marks = [pytest.mark.downloads]
            else:
                continue
            if QUICK[name] != ds:
                marks.append(pytest.mark.slow)
            yield pytest.param(name, ds, marks=marks, id=f"{name}-{ds}")


@pytest.fixture(scope="session")
def shipped():
    """Each shipped cross-encoder, loaded once per session as verification loads it."""
    from experts.verifiers.cross_encoder import CrossEncoderExpert

    loaded: dict = {}

    def get(name: str):
        if name not in loaded:
            loaded[name] = CrossEncoderExpert(MODELS / name, name=name, mc_dropout_samples=0)
        return loaded[name]

    return get


@pytest.fixture(scope="session")
def test_splits(request: pytest.FixtureRequest):
    """``data set -> its test split`` (loaded once; downloads into this run's cache)."""
    from experts.training import data as vdata

    found: dict[str, pd.DataFrame] = {}

    def get(ds: str) -> pd.DataFrame:
        if ds not in found:
            if ds in _corpus_sources():
                from experts.training.corpus import read_source

                found[ds] = vdata.splits(read_source(ds), "group")["test"]
                return found[ds]
            download_cache = request.getfixturevalue("download_cache")
            if ds in HALUEVAL:
                df, col = vdata.load_halueval(HALUEVAL[ds], cache_dir=download_cache), "group"
            else:
                assert ds == "vitaminc", ds
                df, col = load_or_skip(vdata.load_vitaminc, cache_dir=download_cache), "page"
            found[ds] = vdata.splits(df, col)["test"]
        return found[ds]

    return get


@pytest.mark.parametrize("name", EXPERTS)
def test_hand_made_pairs_are_ordered_as_the_labels_say(shipped, name: str) -> None:
    expert = shipped(name)
    assert expert.labels.shape[0] == (3 if name == "generalist" else 2)
    for evidence, support, contradiction, unrelated in HAND_MADE[name]:
        sup, con, unr = expert.predict(
            [(support, evidence), (contradiction, evidence), (unrelated, evidence)]
        )
        context = (name, support, np.round([sup, con, unr], 3).tolist())
        assert sup[0] >= 0.5 and unr[0] < 0.5, context
        assert sup[0] > con[0] and sup[0] > unr[0], context
        if name == "generalist":  # the only expert that tells contradicted from unknown
            assert sup.argmax() == 0 and con[0] < 0.5 and con[1] > sup[1], context
            # (An unrelated sentence is read as not enough info or, as the SNLI-style data
            # label an unrelated caption, as a contradiction ("The violin has four strings."
            # against the camera: 0.77 contradicted); only "not supported" is asserted.)
        else:
            assert np.allclose([sup[1], con[1], unr[1]], 0.0)  # no contradicted output


def test_the_generalist_ranks_a_right_answer_in_qa_wording_above_a_wrong_one(shipped) -> None:
    # HaluEval's "Q: ... A: ..." wording, which the corpus never shows the generalist: the
    # right answer must outrank the wrong one. That the wrong one is *not supported* no longer
    # holds since phase 3 of its training (0.67 supported, 0.45 after phase 2, 0.89 for the
    # right answer): the same claim as a sentence is read right (the pairs above).
    right, wrong = shipped("generalist").predict(
        [
            ("Q: Who wrote Pride and Prejudice? A: Jane Austen.", AUSTEN),
            ("Q: Who wrote Pride and Prejudice? A: Charles Dickens.", AUSTEN),
        ]
    )
    assert right[0] >= 0.5 and right[0] > wrong[0] + 0.1 and wrong[1] > right[1]


def _auroc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982): the standard error of an AUROC from n_pos and n_neg cases."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return math.sqrt(var / (n_pos * n_neg))


def _balanced_acc_se(bacc: float, n_pos: int, n_neg: int) -> float:
    """Balanced accuracy = mean of two recalls, each binomial (taken as equal to ``bacc``)."""
    return math.sqrt(bacc * (1 - bacc) * (1 / n_pos + 1 / n_neg)) / 2


@pytest.mark.parametrize(("name", "ds"), list(_figure_params()))
def test_model_card_figures_reproduce_on_a_fixed_sample(
    shipped, test_splits, name: str, ds: str
) -> None:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    from experts.training import data as vdata

    figures = card_test_metrics(name)[ds]
    test = test_splits(ds)
    # The very test split the card was computed on.
    assert vdata.split_hash(test) == card_splits(name)[ds]["test"]["sha256"]
    assert len(test) >= figures["pairs"] > SAMPLE
    sample = test.sample(n=figures["pairs"], random_state=card_seed(name)).iloc[:SAMPLE]
    y = (sample["label"] == "supported").to_numpy()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    p = shipped(name).predict(list(zip(sample["claim"], sample["evidence"], strict=True)))[:, 0]
    auroc = roc_auc_score(y, p)
    bacc = balanced_accuracy_score(y, p >= 0.5)
    tol_auc = 3 * _auroc_se(figures["auroc"], n_pos, n_neg)
    tol_bacc = 3 * _balanced_acc_se(figures["balanced_acc"], n_pos, n_neg)
    assert abs(auroc - figures["auroc"]) <= tol_auc, (auroc, figures, tol_auc)
    assert abs(bacc - figures["balanced_acc"]) <= tol_bacc, (bacc, figures, tol_bacc)
    assert figures["auroc"] > 0.6  # the card claims a model that reads the pairs


def test_the_learned_gate_routes_claims_to_the_experts_made_for_them(tmp_path: Path) -> None:
    """The opt-in learned gate, over the full mixture it was trained for (the shipped
    registry keeps the retired specialists listed, disabled)."""
    from experts.mixture.gate import LearnedGate, load_gate
    from experts.registry import SHIPPED_REGISTRY, load_registry

    full = SHIPPED_REGISTRY.read_text().replace("    enabled: false\n", "")
    registry = tmp_path / "registry.yaml"
    registry.write_text(full.replace("weights: models/", f"weights: {MODELS}/"))
    specs = load_registry(registry)
    gate = load_gate(specs, MODELS / "gate-learned.pt")
    assert isinstance(gate, LearnedGate), gate  # not the prior fallback
    names = gate.expert_names
    pairs = {
        "numbers": ("The Aurora X2 weighs 310 grams.", "The Aurora X2 weighs 254 grams."),
        "general": ("Marie Curie won the Nobel Prize in Physics.", CURIE),
        "qa": ("Q: What is the capital of Australia? A: Canberra.", CANBERRA),
        "long": ("The council voted to fund a new library.", LIBRARY),
    }
    weights = gate.probs(list(pairs.values()))
    assert weights.shape == (len(pairs), len(names))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    top = {k: [names[i] for i in np.argsort(-w)[:2]] for k, w in zip(pairs, weights, strict=True)}
    # The top-2 (verification's gate_top_k) of each claim holds the expert made for it.
    assert top["numbers"][0] == "numbers", top  # a changed number goes to the numbers expert
    assert top["general"][0] == "nli-general", top
    assert "nli-qa" in top["qa"], top
    assert "nli-long" in top["long"], top
