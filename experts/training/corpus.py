"""The verification corpus: labelled (evidence, claim) pairs from public NLI and fact-checking
sets, one gzipped JSONL per source (``shared/data/verification-corpus``, see its MANIFEST.md).

This is the one reader of that format. Rows are ``{source, split, premise, hypothesis, label,
label_orig, domain}``; labels map onto the experts' targets: entailment -> supported,
contradiction -> contradicted, neutral -> not_enough_info, and the two-way sources'
not_entailment -> not_supported (a 3-class model learns it as ``-log(1 - p_supported)``).

Splits ignore the sources' own split names (most sources ship only dev/test): each premise goes
to train, dev or test by a hash of its text, so a premise never crosses splits, not even
between two sources that share it (SNLI and its counterfactual edits).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from experts.training.data import DataError, splits
from verdictflow.config import get_settings

LABEL_MAP = {
    "entailment": "supported",
    "contradiction": "contradicted",
    "neutral": "not_enough_info",
    "not_entailment": "not_supported",
}
# Sources whose claims each come with several evidence sentences about their subject (Climate-
# FEVER: five Wikipedia sentences a claim; HealthVer: abstracts' sentences; SciTail: retrieved
# sentences); QNLI's several premises of a sentence are questions, and the caption sets' are
# other scenes or minimal edits of one another.
EVIDENCE_SET_SOURCES = ("climate_fever", "healthver_devtest", "nlids_scitail")
COLUMNS = ("source", "split", "premise", "hypothesis", "label")
SUFFIX = ".jsonl.gz"


def corpus_dir(folder: Path | None = None) -> Path:
    """The corpus folder: ``folder``, else ``settings.training.corpus_dir``; a clear error
    when it does not exist."""
    path = folder or get_settings().training.corpus_dir
    if path is None:
        raise DataError(
            "no verification corpus: set VERDICTFLOW_TRAINING__CORPUS_DIR to a folder of "
            "<source>.jsonl.gz files (shared/data/verification-corpus)"
        )
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"verification corpus folder {path} does not exist")
    return path


def source_names(folder: Path | None = None) -> list[str]:
    """The sources in the corpus folder (file names without ``.jsonl.gz``), sorted."""
    return sorted(p.name[: -len(SUFFIX)] for p in corpus_dir(folder).glob(f"*{SUFFIX}"))


def read_source(name: str, folder: Path | None = None) -> pd.DataFrame:
    """One source as rows (evidence, claim, label, group, dataset, domain); a row that breaks
    the format is a ``DataError`` naming the file, the line and the rule."""
    path = corpus_dir(folder) / f"{name}{SUFFIX}"
    if not path.exists():
        raise DataError(f"verification corpus has no source {name!r} ({path} is missing)")
    rows = []
    with gzip.open(path, "rt", encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path.name} line {line_no}: not JSON ({exc.msg})") from exc
            missing = [c for c in COLUMNS if not isinstance(row.get(c), str)]
            if missing:
                raise DataError(f"{path.name} line {line_no}: missing_field {missing}")
            if row["label"] not in LABEL_MAP:
                raise DataError(
                    f"{path.name} line {line_no}: unknown_label {row['label']!r}, expected one "
                    f"of {sorted(LABEL_MAP)}"
                )
            rows.append(
                {
                    "evidence": row["premise"],
                    "claim": row["hypothesis"],
                    "label": LABEL_MAP[row["label"]],
                    "group": " ".join(row["premise"].split()).lower(),
                    "dataset": name,
                    "domain": row.get("domain", ""),
                }
            )
    if not rows:
        raise DataError(f"{path.name}: no rows")
    return pd.DataFrame(rows)


def load_corpus(
    folder: Path | None = None, sources: list[str] | None = None
) -> dict[str, dict[str, pd.DataFrame]]:
    """Every source (or ``sources``) split by premise: ``{source: {train, dev, test}}``."""
    names = sources or source_names(folder)
    return {name: splits(read_source(name, folder), "group") for name in names}


def temperature_mix(
    parts: dict[str, pd.DataFrame], temperature: float, total: int, seed: int
) -> pd.DataFrame:
    """``total`` training rows drawn from the sources with shares proportional to
    ``rows ** (1 / temperature)``: 1 keeps the natural shares, larger values lift the small
    sources (rows are repeated, without replacement first, when a share exceeds a source)."""
    names = sorted(parts)
    sizes = np.array([len(parts[n]) for n in names], dtype=np.float64)
    shares = sizes ** (1.0 / temperature)
    counts = np.floor(shares / shares.sum() * total).astype(int)
    rng = np.random.default_rng(seed)
    frames = []
    for name, n in zip(names, counts, strict=True):
        df = parts[name]
        full, rest = divmod(int(n), len(df))
        idx = np.concatenate(
            [rng.permutation(len(df)) for _ in range(full)]
            + [rng.choice(len(df), size=rest, replace=False)]
        )
        frames.append(df.iloc[idx])
    return pd.concat(frames, ignore_index=True)


def needed_lengths(
    parts: dict[str, pd.DataFrame], tokenizer, cap: int, quantile: float = 0.95
) -> dict[str, int]:
    """The token length each source needs: its pairs' ``quantile`` length (with the special
    tokens), rounded up to 16 and capped at ``cap``."""
    out = {}
    for name, df in parts.items():
        sample = df.sample(n=min(len(df), 400), random_state=0)
        enc = tokenizer(sample["evidence"].tolist(), sample["claim"].tolist())
        n = float(np.quantile([len(ids) for ids in enc["input_ids"]], quantile))
        out[name] = int(min(cap, int(np.ceil(n / 16.0)) * 16))
    return out
