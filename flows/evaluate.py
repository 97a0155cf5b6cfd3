"""The evaluate flow: labelled data sets -> the full verify pipeline -> figures -> stored report.

For each data set: load its labelled rows -> (demo: ingest the demo corpus) -> verify_items
(a subflow; its run is linked by ``parent_run_id``) -> score the verdicts against the labels.
Then the report (per data set and pooled) is stored as a run of kind "evaluate" and shown as
Prefect artifacts: a table, a reliability diagram and a ROC curve.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

from prefect import flow

from experts.evaluation.labelled import (
    DEMO_CORPUS,
    dataset_label,
    evaluation_run_id,
    expand_datasets,
    rows_to_items,
)
from flows.runtime import task_runner
from tasks.evaluation import (
    DataUnavailable,
    build_report_task,
    evaluation_artifacts_task,
    finish_evaluation_task,
    load_eval_task,
    open_evaluation_task,
    score_dataset_task,
)
from verdictflow.config import Settings, get_settings
from verdictflow.verdicts import code_version


@flow(name="evaluate", log_prints=True)
def evaluate(datasets: list[str], limit: int | None = None) -> dict[str, Any]:
    """Evaluate the verify pipeline on labelled data sets.

    Args:
        datasets: Names: ``vitaminc``, ``halueval_qa``, ``halueval_dialogue``,
            ``halueval_summarization`` (their held-out ``evaluation.split``), ``demo``, ``all``,
            or JSONL paths of ``{"id", "text", "context"?, "label"}``.
        limit: Rows per data set; None: ``evaluation.max_rows``.

    Returns:
        The report: figures per data set and overall, verify run ids, artifact paths.
    """
    started = time.perf_counter()
    names = expand_datasets(datasets)
    version = code_version()
    run_id = evaluation_run_id(names, limit, version)
    open_evaluation_task(run_id, {"datasets": names, "limit": limit}, version)
    parts: dict[str, dict[str, Any]] = {}
    verify_runs: dict[str, str] = {}
    skipped: dict[str, str] = {}
    try:
        with one_cluster() as settings:
            for name in names:
                try:
                    rows, refused, description = load_eval_task(name, limit)
                except DataUnavailable as exc:  # the rest of the sets go on
                    skipped[dataset_label(name)] = str(exc)
                    print(f"{dataset_label(name)}: skipped: {exc}")
                    continue
                verified = _verify(name, rows, run_id, settings)
                label = dataset_label(name)
                verify_runs[label] = verified.run_id
                parts[label] = score_dataset_task(
                    rows, verified.verdicts, description, refused + verified.errors
                )
        if not parts:
            raise DataUnavailable(f"no data set could be read: {skipped}")
        report = build_report_task(run_id, parts, version, verify_runs)
        report["skipped"] = skipped
        report["paths"] = evaluation_artifacts_task(report, parts)
    except BaseException:
        finish_evaluation_task(run_id, "failed", {"datasets": names}, _elapsed(started))
        raise
    finish_evaluation_task(run_id, "completed", report, _elapsed(started))
    print(_summary(report))
    return report


@contextlib.contextmanager
def one_cluster() -> Iterator[Settings]:
    """Settings whose task runner is one local Dask cluster kept up for the whole evaluation
    (instead of a new cluster per data set), unless Dask is off or a cluster is configured;
    its workers report to this process's Prefect API."""
    settings = get_settings()
    if not (settings.dask.use_dask and settings.dask.processes) or settings.dask_address:
        yield settings  # no cluster, a given one, or in-process workers (cheap to start)
        return
    from flows.runtime import local_cluster

    with local_cluster(
        n_workers=settings.dask.n_workers,
        threads_per_worker=settings.dask.threads_per_worker,
        processes=settings.dask.processes,
        dashboard_address=None,
    ) as cluster:
        yield settings.model_copy(update={"dask_address": cluster.scheduler_address})


def _verify(name: str, rows: list[dict], run_id: str, settings: Settings):
    """The verify pipeline on one data set's rows (the demo corpus is ingested first)."""
    from flows.verify import verify_items

    if name == "demo":
        from flows.ingest import ingest_documents

        ingest_documents([str(DEMO_CORPUS)])
    # Items go as a JSONL file: Prefect refuses flow parameters over 512 KB.
    path = settings.home / "evaluation" / run_id / f"{dataset_label(name)}.items.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows_to_items(rows)), encoding="utf-8")
    runner = verify_items.with_options(task_runner=task_runner(settings))
    return runner(path=str(path), parent_run_id=run_id)


def _elapsed(started: float) -> dict[str, float]:
    return {"total_s": round(time.perf_counter() - started, 3)}


def _summary(report: dict[str, Any]) -> str:
    lines = [f"evaluation {report['run_id']}:"]
    for name, m in {**report["datasets"], "overall": report["overall"]}.items():
        figures = ", ".join(
            f"{k} {m[k]:.3f}"
            for k in ("balanced_accuracy", "macro_f1", "auroc", "ece", "abstention_rate")
            if m.get(k) is not None
        )
        lines.append(f"  {name} ({m.get('task')}, n={m.get('n')}): {figures}")
    for name, why in report.get("skipped", {}).items():
        lines.append(f"  {name}: skipped ({why})")
    return "\n".join(lines)
