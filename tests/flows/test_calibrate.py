"""The calibrate flow and its library parts (labelled rows, fitting, saving, the report)."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import numpy as np
import pytest
from prefect import flow

from experts.decision.calibration import load_calibrator
from experts.decision.calibration_data import load_labelled, rows_to_claims
from experts.decision.calibration_fit import (
    fit_and_evaluate,
    report_markdown,
    save_calibration,
    score_arrays,
)
from experts.decision.conformal import load_conformal
from tests.experts.calibration_synthetic import miscalibrated, softmax
from verdictflow.config import reset_settings
from verdictflow.contracts import ClaimScore

LABEL_NAMES = ["supported", "contradicted", "not_enough_info"]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _synthetic_rows(n: int) -> list[dict]:
    return [
        {
            "id": f"r{i}",
            "text": f"Claim number {i}.",
            "context": f"Context {i}.",
            "label": LABEL_NAMES[i % 3],
        }
        for i in range(n)
    ]


def _synthetic_scores(claims, labels: np.ndarray, seed: int) -> list[ClaimScore]:
    """A miscalibrated combined score, plus two experts' raw probabilities on the best chunk."""
    rng = np.random.default_rng(seed)
    n = len(claims)
    logits = rng.normal(scale=1.5, size=(n, 3))
    logits[np.arange(n), labels] += 1.0  # informative
    combined = softmax(3.0 * logits)  # overconfident
    noisy = softmax(logits + rng.normal(scale=1.0, size=(n, 3)))
    scores = []
    for i, claim in enumerate(claims):
        chunk = f"{claim.claim_id}#ctx"
        expert_probs = {"nli-general": {chunk: tuple(combined[i])}}
        if i % 2 == 0:  # the gate routed only half the claims to the second expert
            expert_probs["similarity"] = {chunk: tuple(noisy[i])}
        scores.append(
            ClaimScore(
                claim_id=claim.claim_id,
                probs=tuple(combined[i]),
                best_chunk_id=chunk,
                experts={"nli-general": 0.7, "similarity": 0.3},
                expert_probs=expert_probs,
            )
        )
    return scores


def test_load_labelled_jsonl_splits_stably(home: Path, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "labelled.jsonl", _synthetic_rows(400))
    cal, held, description = load_labelled(str(path), limit=None)
    assert 150 < len(cal) < 250 and len(cal) + len(held) == 400
    assert not {r["id"] for r in cal} & {r["id"] for r in held}
    again, _, _ = load_labelled(str(path), limit=None)
    assert [r["id"] for r in again] == [r["id"] for r in cal]
    assert description["rows"] == len(cal) and description["eval_rows"] == len(held)
    limited, _, _ = load_labelled(str(path), limit=50)
    assert len(limited) == 50
    claims, labels = rows_to_claims(cal)
    assert claims[0].claim_id == f"{cal[0]['id']}:0" and claims[0].context == cal[0]["context"]
    assert labels.tolist() == [LABEL_NAMES.index(r["label"]) for r in cal]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "text": "t"}', "line.*2.*missing required field 'label'"),
        ('{"id": "a", "text": "t", "label": "maybe"}', "2: unknown label 'maybe'"),
        ('{"id": "r0", "text": "t", "label": "supported"}', "2: duplicate id 'r0'"),
        ("{not json", "2: rule json: not JSON"),
    ],
)
def test_bad_labelled_lines_name_the_line_and_rule(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_synthetic_rows(1)[0]) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=message.replace("line.*", "")):
        load_labelled(str(path))


def test_unknown_dataset_name_is_a_clear_error(home: Path) -> None:
    with pytest.raises(ValueError, match="unknown data set 'nope'"):
        load_labelled("nope")


def test_fit_evaluate_save_on_synthetic_scores(home: Path) -> None:
    cal_claims, cal_labels = rows_to_claims(_synthetic_rows(3000))
    eval_claims, eval_labels = rows_to_claims(
        [{**r, "id": f"e{i}"} for i, r in enumerate(_synthetic_rows(3000))]
    )
    cal_probs, cal_experts = score_arrays(_synthetic_scores(cal_claims, cal_labels, 1), cal_claims)
    eval_probs, eval_experts = score_arrays(
        _synthetic_scores(eval_claims, eval_labels, 2), eval_claims
    )
    assert set(cal_experts) == {"nli-general", "similarity"}
    assert len(cal_experts["similarity"][0]) == 1500

    calibrator, conformal, experts, report = fit_and_evaluate(
        cal_probs,
        cal_labels,
        eval_probs,
        eval_labels,
        "temperature",
        0.1,
        {"dataset": "synthetic"},
        cal_experts,
        eval_experts,
    )
    held = report["held_out"]
    assert held["before"]["ece"] > 0.1
    assert held["after"]["ece"] < 0.04
    assert held["after"]["nll"] < held["before"]["nll"]
    assert abs(held["conformal"]["coverage"] - 0.9) <= 0.03
    assert set(held["by_alpha"]) == {"0.4", "0.3", "0.2", "0.1", "0.05"}
    assert abs(held["by_alpha"]["0.05"]["coverage"] - 0.95) <= 0.03
    assert held["by_alpha"]["0.05"]["abstention_rate"] > held["by_alpha"]["0.1"]["abstention_rate"]
    assert held["conformal"]["selective_accuracy"] > held["after"]["accuracy"]
    assert set(experts) == {"nli-general", "similarity"}
    assert report["experts"]["similarity"]["rows"] == 1500

    curves = {"raw": eval_probs, "calibrated": calibrator.transform(eval_probs)}
    paths = save_calibration(calibrator, conformal, experts, report, (curves, eval_labels))
    loaded = load_calibrator()
    assert loaded is not None and loaded.version == calibrator.version
    assert loaded.fitted_on["dataset"] == "synthetic"
    assert load_calibrator("similarity").version == experts["similarity"].version
    assert load_conformal().qhat == conformal.qhat
    assert Path(paths["diagram"]).read_bytes()[:4] == b"\x89PNG"
    assert (home / "calibration" / "versions" / f"{calibrator.version}.json").exists()
    saved = json.loads(Path(paths["report"]).read_text())
    assert saved["version"] == calibrator.version

    # Re-running on the same data gives the same versions and files, nothing new.
    files = sorted(p.name for p in (home / "calibration").rglob("*"))
    again = fit_and_evaluate(
        cal_probs,
        cal_labels,
        eval_probs,
        eval_labels,
        "temperature",
        0.1,
        {"dataset": "synthetic"},
        cal_experts,
        eval_experts,
    )
    save_calibration(*again, (curves, eval_labels))
    assert again[0].version == calibrator.version
    assert sorted(p.name for p in (home / "calibration").rglob("*")) == files

    markdown = report_markdown(report, Path(paths["diagram"]))
    assert "| held_out | after |" in markdown and "data:image/png;base64," in markdown


def test_too_few_rows_refuse_to_fit(home: Path) -> None:
    probs, labels, _ = miscalibrated(20, seed=3)
    with pytest.raises(ValueError, match="calibration_min_rows"):
        fit_and_evaluate(probs, labels, probs, labels, "temperature", 0.1, {})


def test_scores_missing_for_a_claim_is_an_error() -> None:
    claims, labels = rows_to_claims(_synthetic_rows(3))
    with pytest.raises(ValueError, match="no score for claims"):
        score_arrays(_synthetic_scores(claims[:2], labels[:2], 0), claims)


@flow(name="fit-calibration-test")
def _fit_flow(n: int) -> tuple:
    """Synthetic scores are built inside the flow (flow parameters must stay small)."""
    from prefect.runtime import flow_run

    from tasks.calibration import fit_calibration_task

    cal_claims, cal_labels = rows_to_claims(_synthetic_rows(n))
    eval_claims, eval_labels = rows_to_claims(
        [{**r, "id": f"e{i}"} for i, r in enumerate(_synthetic_rows(n))]
    )
    report = fit_calibration_task(
        cal_claims,
        _synthetic_scores(cal_claims, cal_labels, 5),
        cal_labels.tolist(),
        eval_claims,
        _synthetic_scores(eval_claims, eval_labels, 6),
        eval_labels.tolist(),
        "isotonic",
        0.1,
        {"dataset": "synthetic"},
    )
    return str(flow_run.id), report


def test_fit_task_saves_and_publishes_the_report(prefect_harness: None, home: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    run_id, report = _fit_flow(600)
    assert report["method"] == "isotonic"
    assert load_calibrator().method == "isotonic"
    assert Path(report["paths"]["diagram"]).exists()
    saved = np.load(report["paths"]["scores"])
    assert saved["cal_probs"].shape == (600, 3) and saved["eval_labels"].shape == (600,)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)]))
        )
    by_key = {a.key: str(a.data) for a in artifacts}
    assert "calibration-report" in by_key
    assert "data:image/png;base64," in by_key["calibration-report"]
    assert report["version"] in by_key["calibration-report"]


CONTEXTS = [
    (
        "The Eiffel Tower is 330 metres tall and stands in Paris.",
        "The Eiffel Tower stands in Paris.",
        "The Eiffel Tower is 530 metres tall.",
        "The Colosseum was built by Vespasian.",
    ),
    (
        "Marie Curie won the Nobel Prize in Physics in 1903.",
        "Marie Curie won the Nobel Prize in Physics.",
        "Marie Curie won the Nobel Prize in 1911 in Physics.",
        "Penguins live mostly in the southern hemisphere.",
    ),
    (
        "The Amazon river flows through Brazil, Peru and Colombia.",
        "The Amazon flows through Peru.",
        "The Amazon river does not flow through Brazil.",
        "Mount Everest is in the Himalayas.",
    ),
]


def labelled_rows(copies: int = 8) -> list[dict]:
    """Real sentences: each context with a supported, a contradicted and an unrelated claim."""
    rows = []
    for k in range(copies):
        for j, (context, supported, contradicted, unrelated) in enumerate(CONTEXTS):
            for label, claim in (
                ("supported", supported),
                ("contradicted", contradicted),
                ("not_enough_info", unrelated),
            ):
                rows.append(
                    {"id": f"{k}-{j}-{label}", "text": claim, "context": context, "label": label}
                )
    return rows


@pytest.mark.slow
def test_calibrate_flow_end_to_end(
    prefect_harness: None, home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from flows.calibrate import run_calibrate

    monkeypatch.setenv("VERDICTFLOW_QUALITY__CALIBRATION_MIN_ROWS", "10")
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    reset_settings()
    rows = labelled_rows()
    path = _write_jsonl(tmp_path / "labelled.jsonl", rows)
    report = run_calibrate(str(path))
    assert report["dataset"]["rows"] + report["dataset"]["eval_rows"] == len(rows)
    assert load_calibrator() is not None and load_calibrator().version == report["version"]
    assert load_conformal() is not None
    held = report["held_out"]
    for stage in ("before", "after"):
        assert set(held[stage]) >= {"ece", "brier", "nll"}
    assert 0.0 <= held["conformal"]["abstention_rate"] <= 1.0
    assert (home / "calibration" / "combined.png").exists()
