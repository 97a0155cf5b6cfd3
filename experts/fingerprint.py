"""What decides a run's verdicts, as one digest (part of a run's id).

A verify run is idempotent: the same input checked the same way is the same run, and a re-run
returns its stored verdicts. "The same way" is more than the settings: the registry in force
(with the domain registry, ``HOME/models/domains.yaml``), each expert's weights, the gate, the
combiner and the calibrator. ``verdicts_digest`` hashes all of them, so training a domain
expert, refitting the combiner or the calibrator makes the next run a new one, and nothing
changed keeps the run id.

It is cheap enough for every API request: files are known by their size and modification
time, small ones (YAML, JSON, the gate) by their content, each read once per version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from experts.decision.calibration import calibrator_path, shipped_or_home
from experts.decision.conformal import conformal_path
from experts.mixture.gate import gate_in_force
from experts.mixture.stacking import read_stacker, stacker_candidates
from experts.registry import file_digest, folder_digest, load_registry
from verdictflow.config import get_settings

# The settings of the experts layer that change a verdict (not how fast it comes).
EXPERT_SETTINGS = (
    "backend",
    "chunk_rule",
    "gate_capacity_factor",
    "gate_prior_boost",
    "gate_prior_weight",
    "gate_sure_margin",
    "long_source_chars",
    "max_length",
    "mc_dropout_samples",
    "spans",
    "stacking",
    "subject_rule",
    "window_claim_tokens",
    "window_overlap",
    "window_tokens",
)
VERIFY_SETTINGS = ("contradiction_threshold", "item_rule", "support_threshold")
RETRIEVAL_SETTINGS = ("context_windows", "windows_per_claim")


def verdict_inputs(registry: str | Path | None = None) -> dict[str, Any]:
    """Everything that decides verdicts, by name: experts (registry entries with their
    weights' digest), gate, combiner, calibration and the settings that change a verdict."""
    settings = get_settings()
    experts = {
        spec.name: spec.model_dump(mode="json")
        | {"weights_digest": folder_digest(spec.weights) if spec.weights else None}
        for spec in load_registry(registry, include_unrouted=True)
    }
    stackers = {}
    if settings.experts.stacking:
        for file in stacker_candidates():
            if file.exists():
                stackers[str(file)] = read_stacker(file).digest
    return {
        "experts": experts,
        "gate": file_digest(gate_in_force()),
        "combiner": stackers,
        "calibrator": file_digest(shipped_or_home(calibrator_path())),
        "conformal": file_digest(shipped_or_home(conformal_path())),
        "settings": {
            **{k: getattr(settings.experts, k, None) for k in EXPERT_SETTINGS},
            **{k: getattr(settings.verify, k) for k in VERIFY_SETTINGS},
            **{k: getattr(settings.retrieval, k, None) for k in RETRIEVAL_SETTINGS},
        },
    }


def verdicts_digest(registry: str | Path | None = None) -> str:
    """A short hash of ``verdict_inputs``: equal when every part of it is."""
    inputs = json.dumps(verdict_inputs(registry), sort_keys=True, default=str)
    return hashlib.sha256(inputs.encode()).hexdigest()[:16]
