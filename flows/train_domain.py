"""Flow: a domain expert from a user's own corpus (issue 15).

read the corpus (files, or ingested chunks matching a filter) -> synthetic and retrieved pairs,
split by document -> fine-tune the generalist within the budget -> measure on the test
documents -> register (``HOME/models/domains.yaml``) -> a summary artifact. An expert worse
than the generalist on its test documents is refused (the run fails, naming both figures)
unless ``force``.
"""

from __future__ import annotations

import re

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, ConfigDict, Field

from tasks.domain import read_domain_corpus_task, recorded_source, train_domain_task
from verdictflow.config import get_settings


class DomainCorpus(BaseModel):
    """Where the domain's documents are: files and folders, or the ingested corpus."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(
        default_factory=list,
        description="Files or folders of documents (.txt .md .html .pdf .jsonl .csv .parquet).",
    )
    store_filter: dict[str, str | int | list[str]] = Field(
        default_factory=dict,
        description="Instead of paths: the ingested chunks whose metadata match, e.g. "
        '{"domain": "banking"}.',
    )


@flow(name="train-domain-expert", log_prints=True)
def train_domain_expert(
    name: str, corpus: DomainCorpus | None = None, minutes: float = 0.0, force: bool = False
) -> dict:
    """Train the domain expert ``name`` on its corpus and register it for routing.

    Args:
        name: The expert's name (letters, digits, ``_ . -``); its domain has the same name.
        corpus: The domain's documents; empty: the corpus it was trained on last time, read
            again (what the ``verdictflow.domain.stale`` trigger does).
        minutes: Training budget in minutes; 0: ``VERDICTFLOW_DOMAINS__MINUTES`` (15).
        force: Register it even when it is worse than the generalist on its test documents
            (the summary's ``warning`` says so); else such an expert is refused.
    """
    if corpus is None or not (corpus.paths or corpus.store_filter):
        corpus = DomainCorpus.model_validate(recorded_source(name))
    docs = read_domain_corpus_task(corpus.paths, corpus.store_filter)
    budget = minutes or get_settings().domains.minutes
    source = corpus.model_dump(exclude_defaults=True)
    summary = train_domain_task(name, docs, budget, source, force)
    key = re.sub(r"[^a-z0-9-]", "-", f"domain-{name.lower()}")[:60]
    create_markdown_artifact(_summary_markdown(summary), key=key)
    return summary


def _summary_markdown(summary: dict) -> str:
    test = summary["test"]
    return "\n".join(
        [
            f"# Domain expert `{summary['name']}`",
            "",
            f"corpus {summary['corpus']} (sha256 `{summary['corpus_sha256'][:12]}`), "
            f"documents {summary['documents']}, pairs {summary['pairs']}",
            "",
            "| on the test documents | AUROC |",
            "|---|---|",
            f"| domain expert | {test['domain_auroc']} |",
            f"| the generalist it started from | {test['base_auroc']} |",
            "",
            *([f"**Warning**: {summary['warning']}", ""] if summary.get("warning") else []),
            f"{summary['steps']} steps in {summary['train_seconds']} s "
            f"({summary['train_pairs_per_s']} pairs/s)",
        ]
    )
