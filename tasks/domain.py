"""Thin Prefect tasks of domain experts: read the corpus, train, and tell when one is stale."""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import task
from prefect.events import emit_event

from tasks.common import data_task_options

_OPTS = data_task_options()
EVENT_STALE = "verdictflow.domain.stale"
RESOURCE_PREFIX = "verdictflow.domain."


@task(name="read-domain-corpus", **_OPTS)
def read_domain_corpus_task(paths: list[str], store_filter: dict[str, Any]) -> pd.DataFrame:
    """The corpus's documents: files and folders, or the ingested chunks matching a filter."""
    from experts.training import domain_data

    if bool(paths) == bool(store_filter):
        raise domain_data.DomainCorpusError(
            "corpus: give either paths or a store filter (e.g. domain=banking), not both"
        )
    if paths:
        return domain_data.corpus_from_paths(paths)
    return domain_data.corpus_from_store(store_filter)


@task(name="train-domain-expert", **_OPTS)
def train_domain_task(
    name: str, docs: pd.DataFrame, minutes: float, source: dict, force: bool = False
) -> dict:
    """Train, measure and register one domain expert (``force``: even when it is worse than
    the generalist on its test documents); a retry resumes from its checkpoint."""
    from prefect.logging import get_run_logger

    from experts.training.domain import train_domain_expert

    logger = get_run_logger()
    summary = train_domain_expert(name, docs, minutes, source, log=logger.info, force=force)
    if summary.get("warning"):
        logger.warning("%s: %s", name, summary["warning"])
    return summary


def recorded_source(name: str) -> dict:
    """Where the domain expert ``name`` was trained from (to retrain it on its corpus now).

    Raises:
        DomainCorpusError: there is no such domain expert to retrain.
    """
    from experts.mixture.domains import profile_data
    from experts.training.domain_data import DomainCorpusError
    from verdictflow.config import get_settings

    profile = profile_data(get_settings().models_dir / name)
    if profile is None:
        raise DomainCorpusError(f"corpus: none given, and no domain expert {name!r} to retrain")
    return profile["source"]


def has_domain_experts() -> bool:
    """Whether any domain expert was registered in this home (then ingest checks them)."""
    from experts.registry import domain_registry_file

    return domain_registry_file().exists()


@task(name="check-domains", **_OPTS)
def emit_stale_domains_task(run_id: str) -> list[dict]:
    """One ``verdictflow.domain.stale`` event per domain expert whose corpus changed by more
    than ``domains.stale_share`` of its chunks."""
    from experts.mixture.domains import stale_domains
    from experts.registry import load_registry
    from retrieval.store import ChunkStore
    from verdictflow.config import get_settings

    stale = stale_domains(load_registry(), ChunkStore(), get_settings().domains.stale_share)
    for entry in stale:
        emit_event(
            event=EVENT_STALE,
            resource={
                "prefect.resource.id": f"{RESOURCE_PREFIX}{entry['name']}",
                "prefect.resource.name": entry["name"],
            },
            payload={**entry, "ingest_run_id": run_id},
        )
    return stale
