"""The library behind the evaluate flow: labelled data sets in, item arrays and a report out.

A data set is a name of ``experts.training.data`` (its held-out ``evaluation.split``), ``demo`` (the
demo items, checked against the demo corpus), ``all`` (every one of those), or a JSONL path of
``{"id", "text", "context"?, "question"?, "label"}``. Items go through the full verify
pipeline; each item's verdict is reduced to the probabilities of its deciding claim.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experts.decision.calibration_data import DATASET_NAMES, dataset_names, load_labelled
from experts.evaluation.metrics import evaluation_metrics, task_of
from verdictflow.config import REPO_ROOT, get_settings
from verdictflow.contracts import InputError, ItemVerdict, label_index, stable_fraction
from verdictflow.inputs import jsonl_records

DEMO_DIR = REPO_ROOT / "examples" / "demo"
DEMO_ITEMS = DEMO_DIR / "items.jsonl"
DEMO_CORPUS = DEMO_DIR / "corpus"


def expand_datasets(names: Sequence[str]) -> list[str]:
    """Data set names in order, ``all`` expanded (held-out splits and demo), no repeats."""
    out: list[str] = []
    for name in names:
        for part in (DATASET_NAMES + ("demo",)) if name == "all" else (name,):
            if part not in out:
                out.append(part)
    if not out:
        raise ValueError(
            "no data set given: name one of all, demo, a JSONL path or " + ", ".join(DATASET_NAMES)
        )
    return out


def dataset_label(name: str) -> str:
    """The short name a data set has in the report (a path's file stem)."""
    return name if name in dataset_names() or name == "demo" else Path(name).stem


def read_labelled(path: Path) -> tuple[list[dict], list[InputError]]:
    """Rows of a labelled JSONL; bad lines become errors naming the line and the rule."""
    rows: list[dict] = []
    errors: list[InputError] = []
    for n, record in jsonl_records(path):
        if isinstance(record, InputError):
            errors.append(record)
            continue
        if not isinstance(record, dict):
            errors.append(InputError(line=n, item_id=None, rule="object", message="not an object"))
            continue
        item_id = None if record.get("id") is None else str(record["id"])
        try:
            label_index(record.get("label"), f"{path}:{n}")
        except ValueError as exc:
            errors.append(InputError(line=n, item_id=item_id, rule="label", message=str(exc)))
            continue
        rows.append({**record, "line": n})
    return rows, errors


def load_eval_rows(
    dataset: str, limit: int | None = None
) -> tuple[list[dict], list[InputError], dict[str, Any]]:
    """Labelled rows of one data set, the lines refused, and a description of the data.

    Args:
        dataset: ``demo``, a name of ``experts.training.data`` or a JSONL path.
        limit: At most this many rows (a stable, id-hashed sample); None:
            ``evaluation.max_rows``.
    """
    settings = get_settings().evaluation
    limit = settings.max_rows if limit is None else limit
    errors: list[InputError] = []
    if dataset in dataset_names():
        everything = limit if limit is not None else 2**62  # not the calibration default
        _, rows, description = load_labelled(dataset, eval_split=settings.split, limit=everything)
        description = {k: v for k, v in description.items() if k not in ("rows", "limit")}
        description["split"] = description.pop("eval_split", settings.split)
    else:
        path = DEMO_ITEMS if dataset == "demo" else Path(dataset)
        if not path.exists():
            raise FileNotFoundError(
                f"data set {dataset!r}: no such file; give demo, all, a JSONL path or one of "
                + ", ".join(dataset_names())
            )
        rows, errors = read_labelled(path)
        if limit is not None and len(rows) > limit:
            rows = sorted(rows, key=lambda r: stable_fraction(f"eval:{r.get('id')}"))[:limit]
        description = {"source": str(path.resolve())}
        if dataset == "demo":
            description["corpus"] = str(DEMO_CORPUS)
    description.update(dataset=dataset_label(dataset), rows=len(rows), refused=len(errors))
    return rows, errors, description


def rows_to_items(rows: Sequence[dict]) -> list[dict]:
    """Verify records (``id``, ``text``, ``context``, ``question``) of labelled rows."""
    keep = ("id", "text", "context", "question")
    return [{k: r[k] for k in keep if r.get(k) is not None} for r in rows]


def item_arrays(
    rows: Sequence[dict], verdicts: Sequence[ItemVerdict]
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Ids, gold indices [n], deciding probabilities [n, 3] and abstained [n] of the rows
    that got a verdict (rows refused by verify have none and are left out)."""
    by_id = {v.item_id: v for v in verdicts}
    ids, gold, probs, abstained = [], [], [], []
    for row in rows:
        verdict = by_id.get(str(row.get("id")))
        if verdict is None or not verdict.claims:
            continue
        ids.append(verdict.item_id)
        gold.append(label_index(row["label"], f"row {row.get('id')}"))
        probs.append(verdict.deciding_claim.probs)
        abstained.append(verdict.label.value == "uncertain")
    return (
        ids,
        np.asarray(gold, dtype=np.int64),
        np.asarray(probs, dtype=np.float64).reshape(-1, 3),
        np.asarray(abstained, dtype=bool),
    )


def score(
    gold: np.ndarray, probs: np.ndarray, abstained: np.ndarray, task: str | None = None
) -> dict[str, Any]:
    """``evaluation_metrics`` at the verdict thresholds of the settings in force."""
    verify = get_settings().verify
    return evaluation_metrics(
        gold, probs, abstained, task, verify.support_threshold, verify.contradiction_threshold
    )


def overall(parts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Figures over every data set pooled; binary unless every data set is 3-class."""
    if not parts:
        return {}
    gold = np.concatenate([g for g, _, _ in parts.values()])
    probs = np.concatenate([p for _, p, _ in parts.values()])
    abstained = np.concatenate([a for _, _, a in parts.values()])
    tasks = {task_of(g) for g, _, _ in parts.values() if len(g)}
    return score(gold, probs, abstained, "3-class" if tasks == {"3-class"} else "binary")


def models_fingerprint() -> str:
    """A short hash of the model, gate and calibration files in force (name, size, mtime):
    a new model or calibrator means a new evaluation run, not stored verdicts reused."""
    settings = get_settings()
    digest = hashlib.sha256()
    for folder in (settings.training.output_dir, settings.models_dir, settings.calibration_dir):
        if not Path(folder).exists():
            continue
        for f in sorted(Path(folder).rglob("*")):
            if f.is_file():
                stat = f.stat()
                digest.update(f"{f}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}\x1e".encode())
    return digest.hexdigest()[:12]


def evaluation_run_id(datasets: Sequence[str], limit: int | None, code_version: str) -> str:
    """The same data sets, limit, code, models and settings give the same run id."""
    settings = get_settings()
    key = {
        "datasets": list(datasets),
        "limit": limit,
        "code": code_version,
        "models": models_fingerprint(),
        "verify": settings.verify.model_dump(),
        "retrieval": settings.retrieval.model_dump(mode="json"),
        "experts": settings.experts.model_dump(mode="json"),
        "split": settings.evaluation.split,
    }
    blob = json.dumps(key, sort_keys=True, default=str).encode()
    return f"eval-{hashlib.sha256(blob).hexdigest()[:16]}"


_COLUMNS = (
    ("task", "task"),
    ("n", "n"),
    ("balanced_accuracy", "bal. acc."),
    ("macro_f1", "macro-F1"),
    ("auroc", "AUROC"),
    ("ece", "ECE"),
    ("abstention_rate", "abstention"),
    ("selective_accuracy", "selective acc."),
)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per data set and one for all of them pooled."""
    parts = {**report.get("datasets", {}), "overall": report.get("overall", {})}
    return [
        {"dataset": name, **{title: _cell(m.get(key)) for key, title in _COLUMNS}}
        for name, m in parts.items()
        if m
    ]


def report_markdown(report: dict[str, Any], images: dict[str, Path] | None = None) -> str:
    """The evaluation report as Markdown: the table, then the plots inlined as base64 PNGs."""
    import base64

    rows = report_rows(report)
    header = ["dataset", *[title for _, title in _COLUMNS]]
    lines = [
        f"# Evaluation `{report['run_id']}`",
        "",
        f"Code `{report.get('code_version')}`, models `{report.get('models')}`, thresholds "
        f"`{json.dumps(report.get('thresholds'))}`. Balanced accuracy, macro-F1 and selective "
        "accuracy at the calibrated thresholds; binary tasks are supported vs not.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    for title, path in (images or {}).items():
        if Path(path).exists():
            data = base64.b64encode(Path(path).read_bytes()).decode()
            lines += ["", f"![{title}](data:image/png;base64,{data})", "", f"`{path}`"]
    return "\n".join(lines) + "\n"
