"""The verification corpus reader: labels mapped, splits by premise, bad rows named, the mix."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experts.training import corpus
from experts.training.data import DataError

ANIMALS = "fox owl cat dog bee ant cow pig yak elk emu eel bat ram hen".split()  # noqa: SIM905
PLACES = "forest river desert city farm valley island meadow cave mountain".split()  # noqa: SIM905


def write_source(folder: Path, name: str, rows: list[dict]) -> Path:
    """A ``<name>.jsonl.gz`` in the corpus format."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}{corpus.SUFFIX}"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


def nli_rows(source: str, n: int, two_way: bool = False, seed: int = 0) -> list[dict]:
    """Premises about an animal in a place; an entailed, a contradicted and a neutral claim."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        animal, place = rng.choice(ANIMALS), rng.choice(PLACES)
        other = rng.choice([p for p in PLACES if p != place])
        premise = f"Record {i}: the {animal} lives in the {place} all year."
        for hypothesis, label in (
            (f"The {animal} lives in the {place}.", "entailment"),
            (f"The {animal} lives in the {other}.", "contradiction"),
            (f"The {animal} is the oldest of its kind.", "neutral"),
        ):
            if two_way and label != "entailment":
                label = "not_entailment"
            rows.append(
                {
                    "source": source,
                    "split": "dev",
                    "premise": premise,
                    "hypothesis": hypothesis,
                    "label": label,
                    "label_orig": label,
                    "domain": "animals",
                }
            )
    return rows


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "verification-corpus"
    write_source(folder, "three_way", nli_rows("three", 60))
    write_source(folder, "two_way", nli_rows("two", 20, two_way=True, seed=1))
    # A premise shared with the first source: both copies must land in the same split.
    write_source(folder, "shared_premise", nli_rows("three", 10))
    return folder


def test_read_source_maps_labels_and_groups_by_premise(tiny_corpus: Path) -> None:
    df = corpus.read_source("two_way", tiny_corpus)
    assert set(df["label"]) == {"supported", "not_supported"}
    df = corpus.read_source("three_way", tiny_corpus)
    assert set(df["label"]) == {"supported", "contradicted", "not_enough_info"}
    assert df["group"].nunique() == 60 and (df["dataset"] == "three_way").all()
    assert list(df.columns[:3]) == ["evidence", "claim", "label"]


def test_a_premise_never_crosses_splits_not_even_across_sources(tiny_corpus: Path) -> None:
    parts = corpus.load_corpus(tiny_corpus)
    assert sorted(parts) == ["shared_premise", "three_way", "two_way"]
    rows = pd.concat(
        [frame.assign(split=split) for p in parts.values() for split, frame in p.items()]
    )
    assert rows.groupby("group")["split"].nunique().max() == 1
    assert all(len(parts["three_way"][s]) for s in ("train", "dev", "test"))
    # The shared premises sit where the first source put them.
    where = rows.drop_duplicates(["group", "dataset"]).pivot(
        index="group", columns="dataset", values="split"
    )
    both = where.dropna(subset=["shared_premise", "three_way"])
    assert len(both) == 10 and (both["shared_premise"] == both["three_way"]).all()


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("{not json", "not JSON"),
        (
            json.dumps({"source": "x", "split": "dev", "premise": "p", "label": "entailment"}),
            "missing_field ['hypothesis']",
        ),
        (
            json.dumps(
                {"source": "x", "split": "dev", "premise": "p", "hypothesis": "h", "label": "maybe"}
            ),
            "unknown_label 'maybe'",
        ),
    ],
)
def test_a_bad_row_is_named_with_file_line_and_rule(tmp_path: Path, line: str, rule: str) -> None:
    path = write_source(tmp_path, "bad", nli_rows("bad", 1))
    with gzip.open(path, "at", encoding="utf-8") as fh:
        fh.write(line + "\n")
    with pytest.raises(DataError) as err:
        corpus.read_source("bad", tmp_path)
    assert "bad.jsonl.gz line 4" in str(err.value) and rule in str(err.value)


def test_missing_corpus_and_source_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        corpus.source_names(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no source 'absent'"):
        corpus.read_source("absent", tmp_path)


def test_corpus_dir_setting_defaults_to_the_shared_folder_when_present() -> None:
    from verdictflow.config import REPO_ROOT, get_settings

    shared = REPO_ROOT.parent / "shared" / "data" / "verification-corpus"
    assert get_settings().training.corpus_dir == (shared if shared.is_dir() else None)


def test_temperature_mix_lifts_small_sources() -> None:
    parts = {
        "big": pd.DataFrame({"x": range(900), "src": "big"}),
        "small": pd.DataFrame({"x": range(100), "src": "small"}),
    }
    natural = corpus.temperature_mix(parts, 1.0, 1000, seed=0)
    lifted = corpus.temperature_mix(parts, 2.0, 1000, seed=0)
    assert (natural["src"] == "small").sum() == 100  # natural shares: every row once
    assert natural["x"][natural["src"] == "small"].nunique() == 100
    small = lifted["x"][lifted["src"] == "small"]
    assert len(small) == 250  # sqrt shares 30:10 -> 750 + 250: small rows repeated
    counts = small.value_counts()
    assert len(counts) == 100 and counts.max() - counts.min() <= 1  # spread evenly


def test_needed_lengths_follow_each_source() -> None:
    from experts.training.expert_io import base_model_path, load_tokenizer

    tok = load_tokenizer(base_model_path())
    short = pd.DataFrame({"evidence": ["A cat sat."] * 5, "claim": ["A cat."] * 5})
    long = pd.DataFrame({"evidence": [" ".join(["word"] * 300)] * 5, "claim": ["A cat."] * 5})
    need = corpus.needed_lengths({"short": short, "long": long}, tok, cap=128)
    assert need == {"short": 16, "long": 128}


@pytest.mark.slow
def test_a_staged_corpus_spec_trains_each_stage_from_the_last_and_resumes_done_stages(
    tiny_corpus: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experts.training import specs, train_run
    from verdictflow.config import reset_settings

    monkeypatch.setenv("VERDICTFLOW_TRAINING__CORPUS_DIR", str(tiny_corpus))
    monkeypatch.setenv("VERDICTFLOW_TRAINING__QUICK_STEPS", "4")
    monkeypatch.setenv("VERDICTFLOW_TRAINING__THREADS", "1")
    reset_settings()
    spec = specs.TrainingSpec(
        "staged",
        (),
        specs.LABELS,
        (),
        corpus=True,
        phases=(specs.Phase(1.0, 1e-4), specs.Phase(0.5, 5e-5, distractors=0.5, unrelated=0.2)),
    )
    monkeypatch.setitem(specs.EXPERT_SPECS, "staged", spec)
    logs: list[str] = []
    out = tmp_path / "models"
    summary = train_run.train_and_ship("staged", quick=True, output_dir=out, log=logs.append)
    work = home / "models" / "checkpoints" / "staged-quick"
    assert (work / "phase-1" / "model" / "result.json").exists()
    assert (work / "phase-2" / "model" / "result.json").exists()
    history = summary["history"]
    assert [h["phase"] for h in history] == sorted(h["phase"] for h in history)
    assert {h["phase"] for h in history} == {1, 2}
    steps = [h["step"] for h in history]
    assert steps == sorted(steps) and summary["steps"] == 8  # 4 quick steps a stage
    assert "phase 2" in (out / "staged" / "model_card.md").read_text()
    weights = (out / "staged" / "model.safetensors").read_bytes()

    logs.clear()
    again = train_run.train_and_ship("staged", quick=True, output_dir=out, log=logs.append)
    assert any("phase 1 found done" in m for m in logs)
    assert any("phase 2 found done" in m for m in logs)
    assert again["steps"] == 8
    assert (out / "staged" / "model.safetensors").read_bytes() == weights


def test_a_stage_adds_windows_of_one_claims_premises_at_the_full_length() -> None:
    from experts.training import specs, train_run

    rows = [
        (f"Fact {k} about claim {c}.", f"Claim {c}.", label, ds, 48)
        for c in range(6)
        for k, label in enumerate(("supported", "not_enough_info", "not_enough_info"))
        for ds in ("climate_fever", "three_way")
    ]
    mix = pd.DataFrame(rows, columns=["evidence", "claim", "label", "dataset", "max_length"])
    stage = specs.Phase(0.3, 1e-5, evidence_sets=0.5)
    out = train_run.phase_frame(mix, stage, seed=0, cap=256, serve=160)
    added = out.iloc[len(mix) :]
    assert len(added) == len(mix) // 2 and set(added["dataset"]) == {"climate_fever"}
    assert (added["max_length"] == 256).all() and added["evidence"].str.count("Fact").ge(2).all()
    assert out.iloc[: len(mix)].equals(mix)  # the mix itself is unchanged
    plain = train_run.phase_frame(mix, specs.Phase(0.3, 1e-5), seed=0, cap=256, serve=160)
    assert plain.equals(mix)


def test_a_specs_own_data_sets_stay_out_of_the_mix_and_dev_until_a_stage_adds_them(
    tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experts.training import specs, train_run
    from verdictflow.config import reset_settings

    monkeypatch.setenv("VERDICTFLOW_TRAINING__CORPUS_DIR", str(tiny_corpus))
    reset_settings()
    spec = specs.TrainingSpec("with_extra", ("two_way",), specs.LABELS, (), corpus=True)
    parts = corpus.load_corpus()
    frames = train_run.frames_for(spec, parts)
    assert set(frames["extra"]["dataset"]) == {"two_way"}
    assert len(frames["extra"]) == len(parts["two_way"]["train"])
    assert "two_way" not in set(frames["train"]["dataset"]) | set(frames["dev"]["dataset"])
    assert "two_way" in set(frames["test"]["dataset"])  # still measured

    frames["extra"] = pd.concat(
        [frames["extra"], frames["extra"].assign(dataset="other")], ignore_index=True
    )
    plain = specs.Phase(0.3, 1e-5)
    assert train_run.phase_frame(frames["train"], plain, 0, 256, 160, frames["extra"]).equals(
        frames["train"]
    )
    stage = specs.Phase(0.3, 1e-5, extra_sets=0.5)
    out = train_run.phase_frame(frames["train"], stage, 0, 256, 160, frames["extra"])
    added = out.iloc[len(frames["train"]) :]
    assert abs(len(added) - len(frames["train"]) // 2) <= 1
    counts = added["dataset"].value_counts()
    assert set(counts.index) == {"two_way", "other"} and counts.max() - counts.min() <= 1
    assert out.iloc[: len(frames["train"])].equals(frames["train"])
