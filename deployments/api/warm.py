"""Load what a verdict needs once, when the API starts: storage, the experts, the embedder."""

from __future__ import annotations

import time

from experts.registry import load_experts
from retrieval.embedding import embed_texts
from storage.repository import current_repository

WARM_PAIR = ("The speaker is rated IP67.", "The Fjell S1 speaker is rated IP67.")


def warm_up(models: bool = True) -> dict[str, float]:
    """Migrate and open the database, then load every expert and the embedder and run each
    once (torch's first call is slow); returns seconds per part."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    current_repository()
    seconds["database"] = time.perf_counter() - started
    if not models:
        return seconds
    started = time.perf_counter()
    for expert in load_experts().values():
        expert.predict([WARM_PAIR])
    seconds["experts"] = time.perf_counter() - started
    started = time.perf_counter()
    embed_texts([WARM_PAIR[0]])
    seconds["embedder"] = time.perf_counter() - started
    return seconds
