"""The scheduled data-quality run: verify every record of a dataset against the corpus.

read the dataset (JSONL / CSV / Parquet file, or a database table) -> verify-items (subflow)
-> store the dataset's bad records with the run. The run the user started shows what the
subflow found: a progress bar naming the items and claims done, the verdict table and the
plots (``tasks.artifacts``).
"""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from flows.runtime import task_runner
from flows.verify import VerifyResult, progress_listeners, verify_items
from tasks.artifacts import RunProgress, summary_artifact
from tasks.orchestration import read_dataset_task, save_input_errors_task
from verdictflow.config import get_settings
from verdictflow.contracts import gold_labels


class DatasetSource(BaseModel):
    """Where the records are and which columns hold what."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        "",
        description=(
            "A .jsonl, .csv or .parquet file of records. Empty (and no table): the file in "
            "VERDICTFLOW_ORCHESTRATION__DATASET_PATH (default HOME/dataset.jsonl)."
        ),
    )
    table: str = Field(
        "", description="A database table of records instead of a file (schema.table allowed)."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL of the database holding the table; empty: verdictflow's."
    )
    id_column: str = Field("id", description="Column with each record's id.")
    text_column: str = Field("text", description="Column with the text to check.")
    context_column: str = Field(
        "context",
        description=(
            "Column with the record's own evidence, used where the dataset has it (records "
            "without it are checked against the corpus); empty: always search the corpus."
        ),
    )
    limit: int = Field(0, ge=0, description="Check at most this many records; 0: all.")


def resolve_source(source: DatasetSource) -> DatasetSource:
    """Fill the dataset path from settings when neither a path nor a table is given."""
    if source.path or source.table:
        return source
    settings = get_settings()
    path = settings.orchestration.dataset_path or settings.home / "dataset.jsonl"
    return source.model_copy(update={"path": str(path)})


@flow(name="verify-dataset", log_prints=True)
def verify_dataset(dataset: DatasetSource = DatasetSource()) -> VerifyResult:  # noqa: B008
    """Verify every record of a dataset file or table against the corpus; store the verdicts.

    Args:
        dataset: The records to check and the columns that hold id, text and context.
    """
    source = resolve_source(dataset or DatasetSource())
    progress = RunProgress(f"verify-dataset {source.path or source.table}")
    items, errors = read_dataset_task(
        source.path or None,
        source.table or None,
        source.database_url or None,
        source.id_column,
        source.text_column,
        source.context_column or None,
        source.limit or None,
    )
    progress_listeners.append(progress.update)
    try:
        result = verify_items.with_options(task_runner=task_runner())(
            items=[item.model_dump() for item in items]
        )
    finally:
        progress_listeners.remove(progress.update)
    counts = result.counts
    if errors:
        counts = save_input_errors_task(result.run_id, errors)
    summary_artifact(result.run_id, result.verdicts, counts, gold_labels(items))
    progress.finish(counts, result.run_id)
    print(f"verify-dataset {source.path or source.table}: run {result.run_id} {counts}")
    return result.model_copy(update={"errors": [*errors, *result.errors], "counts": counts})
