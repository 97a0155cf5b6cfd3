"""Labelled rows for calibration: a JSONL file or a data set of ``experts.training.data``.

Rows are ``{"id", "text", "context"?, "label"}``; each row becomes one claim (``<id>:0``) whose
context is its evidence. Data set names: ``vitaminc``, ``halueval_qa``, ``halueval_dialogue``,
``halueval_summarization`` (split by ``experts.training.data.splits``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from verdictflow.config import get_settings
from verdictflow.contracts import Claim, InputError, label_index, stable_fraction
from verdictflow.inputs import jsonl_records

DATASET_NAMES = ("vitaminc", "halueval_qa", "halueval_dialogue", "halueval_summarization")


def dataset_names() -> tuple[str, ...]:
    """Every data set name: ``DATASET_NAMES``, then ``corpus`` (all verification corpus
    sources, as a mix) and each corpus source, when the corpus is there."""
    if get_settings().training.corpus_dir is None:
        return DATASET_NAMES
    from experts.training.corpus import source_names

    return (*DATASET_NAMES, "corpus", *source_names())


def _sample(rows: list[dict], limit: int | None, seed: str) -> list[dict]:
    """A stable subset of at most ``limit`` rows (same rows for the same input)."""
    if limit is None or len(rows) <= limit:
        return rows
    ranked = sorted(rows, key=lambda r: stable_fraction(f"{seed}:{r['id']}"))
    return ranked[:limit]


def read_labelled_jsonl(path: Path) -> list[dict]:
    """Rows of a labelled JSONL file; a bad line raises naming the line and the rule."""
    rows, seen = [], set()
    for n, record in jsonl_records(path):
        if isinstance(record, InputError):
            raise ValueError(f"{path}:{n}: rule {record.rule}: {record.message}")
        for key in ("id", "text", "label"):
            if not isinstance(record, dict) or record.get(key) in (None, ""):
                raise ValueError(f"{path}:{n}: missing required field {key!r}")
        if str(record["id"]) in seen:
            raise ValueError(f"{path}:{n}: duplicate id {record['id']!r}")
        seen.add(str(record["id"]))
        label_index(record["label"], f"{path}:{n}")
        rows.append(
            {
                "id": str(record["id"]),
                "text": str(record["text"]),
                "context": record.get("context"),
                "label": record["label"],
            }
        )
    return rows


def _dataset_frame(name: str) -> tuple[Any, str]:
    from experts.training import data

    if name == "vitaminc":
        return data.load_vitaminc(), "page"
    if name in dataset_names()[len(DATASET_NAMES) :]:
        return data.load_datasets([name])[name]
    if name.startswith("halueval_") and name.removeprefix("halueval_") in data.HALUEVAL_KINDS:
        return data.load_halueval(name.removeprefix("halueval_")), "group"
    raise ValueError(
        f"unknown data set {name!r}: give a labelled JSONL path or one of "
        + ", ".join(dataset_names())
    )


def load_labelled(
    dataset: str,
    split: str | None = None,
    eval_split: str | None = None,
    limit: int | None = None,
) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """Calibration rows, held-out rows and a description of both.

    A JSONL path is halved by a hash of the row id (calibration / held-out); a data set name
    uses ``experts.training.data.splits`` (``split`` and ``eval_split``, default from settings);
    names joined by commas are a mix of those data sets.
    At most ``limit`` rows per part (default ``quality.calibration_max_rows``) are kept.
    """
    if dataset == "corpus":  # every corpus source, up to ``limit`` rows of each
        from experts.training.corpus import source_names

        dataset = ",".join(source_names())
    if "," in dataset:  # a mix: each data set's rows, up to ``limit`` of each
        names = [name.strip() for name in dataset.split(",")]
        parts = [load_labelled(name, split, eval_split, limit) for name in names]
        description = {
            "dataset": dataset,
            "parts": [d for _, _, d in parts],
            "rows": sum(len(c) for c, _, _ in parts),
            "eval_rows": sum(len(h) for _, h, _ in parts),
        }
        return [r for c, _, _ in parts for r in c], [r for _, h, _ in parts for r in h], description
    quality = get_settings().quality
    split = split or quality.calibration_split
    eval_split = eval_split or quality.calibration_eval_split
    limit = quality.calibration_max_rows if limit is None else limit
    path = Path(dataset)
    if path.suffix in (".jsonl", ".json") or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"labelled file {path} does not exist")
        rows = read_labelled_jsonl(path)
        cal = [r for r in rows if stable_fraction(f"split:{r['id']}") < 0.5]
        held = [r for r in rows if stable_fraction(f"split:{r['id']}") >= 0.5]
        source = {"source": str(path.resolve()), "split": "id-hash halves"}
    else:
        from experts.training import data

        frame, group = _dataset_frame(dataset)
        parts = data.splits(frame, group)
        if split not in parts or eval_split not in parts:
            raise ValueError(f"unknown split {split!r} or {eval_split!r}; have {sorted(parts)}")

        def to_rows(part: Any, name: str) -> list[dict]:
            return [
                {"id": f"{dataset}-{name}-{i}", "text": claim, "context": evidence, "label": label}
                for i, (evidence, claim, label) in enumerate(
                    part[["evidence", "claim", "label"]].itertuples(index=False)
                )
            ]

        cal, held = to_rows(parts[split], split), to_rows(parts[eval_split], eval_split)
        source = {
            "source": dataset,
            "split": split,
            "eval_split": eval_split,
            "split_sha256": data.split_hash(parts[split]),
        }
    cal, held = _sample(cal, limit, "cal"), _sample(held, limit, "eval")
    description = {
        "dataset": dataset,
        **source,
        "limit": limit,
        "rows": len(cal),
        "eval_rows": len(held),
    }
    return cal, held, description


def rows_to_claims(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Claim], np.ndarray]:
    """Each row as one claim (``<id>:0``) with its context; and the gold class indices."""
    claims = [
        Claim(
            item_id=str(r["id"]),
            claim_id=f"{r['id']}:0",
            index=0,
            text=str(r["text"]),
            start=0,
            end=len(str(r["text"])),
            context=r.get("context"),
        )
        for r in rows
    ]
    labels = np.array([label_index(r["label"], f"row {r['id']}") for r in rows], dtype=np.int64)
    return claims, labels
