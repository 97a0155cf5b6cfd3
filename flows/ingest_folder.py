"""The scheduled corpus refresh: ingest a folder or a list of paths (deployment ingest-documents).

It resolves the paths (default: the configured documents folder) and runs the ingest flow as a
subflow; ingest only re-embeds documents whose content changed and emits
``verdictflow.document.changed`` for each, which starts reprocess-on-document-change.
"""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from verdictflow.config import get_settings


class IngestSource(BaseModel):
    """What to ingest."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(
        default_factory=list,
        description=(
            "Files or folders to ingest. Empty: VERDICTFLOW_ORCHESTRATION__DOCUMENTS_DIR "
            "(default HOME/documents)."
        ),
    )


def resolve_paths(source: IngestSource) -> list[str]:
    """The given paths, or the configured documents folder."""
    if source.paths:
        return list(source.paths)
    settings = get_settings()
    folder = settings.orchestration.documents_dir or settings.home / "documents"
    return [str(folder)]


@flow(name="ingest-folder", log_prints=True)
def ingest_folder(source: IngestSource = IngestSource()):  # noqa: B008
    """Ingest documents from folders or files into the corpus (changed ones only).

    Args:
        source: The files or folders to ingest.
    """
    from flows.ingest import ingest_documents

    paths = resolve_paths(source)
    print(f"ingesting {paths}")
    return ingest_documents(paths)
