"""The cross-encoder expert: a thin adapter over ``sentence_transformers.CrossEncoder``.

The folder is a Hugging Face sequence-classification model (``config.json`` with
``id2label``, weights, tokenizer) with an optional ``verdictflow.json``: ``{"input_order":
"evidence_claim" | "claim_evidence", "max_length": N, "domains": [...]}``. Labels map onto
(supported, contradicted, not_enough_info) by name (``verdictflow.contracts.label_index``).

Training (``experts.training``) and serving tokenize and run a pair through the same two
functions here, ``encode`` and ``pair_probabilities``: the CrossEncoder's own preprocessing,
``truncation="longest_first"`` at ``max_length`` (a long evidence is cut, a claim only when it
alone fills the budget). On CUDA the model runs in fp16; on CPU in fp32 with length-sorted
batches, through torch or ONNX Runtime (``settings.experts.backend``: ``onnx`` or
``onnx-int8``, exported once by ``onnx_backend``). With ``settings.experts.mc_dropout_samples``
> 0 it runs that many dropout passes and keeps the per-pair variance (``last_variance``) for
the uncertainty stage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from experts.base import Pair
from experts.verifiers.onnx_backend import Backend, OnnxLogits, export_onnx, onnx_path
from verdictflow.config import get_settings, offline_hub
from verdictflow.contracts import label_index
from verdictflow.onnx_files import resolve_backend
from verdictflow.tokenizer import has_tokenizer, pair_features

if TYPE_CHECKING:
    import torch


def load_cross_encoder(
    folder: str | Path,
    device: str = "cpu",
    max_length: int | None = None,
    dtype: torch.dtype | None = None,
    config: dict | None = None,
    new_head: bool = False,
):
    """A ``CrossEncoder`` from a folder on disk, never from a hub (``new_head``: the
    classification head may differ in shape from the folder's, as when training starts;
    ``dtype``: float32 unless given)."""
    offline_hub()
    import torch
    from sentence_transformers import CrossEncoder

    dtype = dtype or torch.float32

    return CrossEncoder(
        str(folder),
        device=device,
        local_files_only=True,
        max_length=max_length,
        model_kwargs={"dtype": dtype, "ignore_mismatched_sizes": new_head},
        config_kwargs=config,
    )


def encode(model, first: Sequence[str], second: Sequence[str]) -> dict:
    """Token tensors of (first, second) pairs, padded to the longest, on the model's device."""
    import torch

    features = model.preprocess(list(zip(first, second, strict=True)))
    return {k: v.to(model.device) for k, v in features.items() if isinstance(v, torch.Tensor)}


def pair_logits(model, features: dict) -> torch.Tensor:
    """The classification head's logits [n, num_labels] (gradients flow when training)."""
    return model(features)["scores"]


def length_sorted_batches(
    first: Sequence[str], second: Sequence[str], batch_size: int
) -> Iterator[tuple[np.ndarray, list[str], list[str]]]:
    """(indices, firsts, seconds) of the pairs in batches of similar length, shortest first:
    a result written at the indices comes back in the pairs' order."""
    first, second = list(first), list(second)
    order = np.argsort([len(a) + len(b) for a, b in zip(first, second, strict=True)])
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield idx, [first[i] for i in idx], [second[i] for i in idx]


def pair_probabilities(
    model,
    first: Sequence[str],
    second: Sequence[str],
    batch_size: int = 64,
    logits_of: Callable[[dict], np.ndarray] | None = None,
) -> np.ndarray:
    """Softmax over the model's labels [n, num_labels]; length-sorted batches, order restored.

    ``logits_of`` runs the forward pass instead of the torch model (``OnnxLogits``); the
    tokens are the same either way."""
    import torch

    out = np.zeros((len(first), model.num_labels), dtype=np.float64)
    with torch.inference_mode():
        for idx, a, b in length_sorted_batches(first, second, batch_size):
            features = encode(model, a, b)
            if logits_of is None:
                logits = pair_logits(model, features).float()
            else:
                logits = torch.from_numpy(logits_of(features)).float()
            out[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
    return out


def onnx_probabilities(
    folder: Path,
    logits_of: OnnxLogits,
    first: Sequence[str],
    second: Sequence[str],
    max_length: int,
    num_labels: int,
    batch_size: int = 64,
) -> np.ndarray:
    """``pair_probabilities`` through ONNX Runtime without torch: the same length-sorted
    batches, the tokens from ``verdictflow.tokenizer`` (the CrossEncoder's own, checked)."""
    out = np.zeros((len(first), num_labels), dtype=np.float64)
    for idx, a, b in length_sorted_batches(first, second, batch_size):
        logits = logits_of(pair_features(folder, a, b, max_length)).astype(np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        out[idx] = probs / probs.sum(axis=1, keepdims=True)
    return out


def label_matrix(id2label: dict, folder: Path) -> np.ndarray:
    """[n_labels, 3] matrix that moves each model label's mass to its verdictflow column."""
    matrix = np.zeros((len(id2label), 3), dtype=np.float32)
    for idx, label in id2label.items():
        matrix[int(idx), label_index(label, f"cross-encoder {folder}")] = 1.0
    return matrix


class CrossEncoderExpert:
    """A sequence-classification model scoring (claim, evidence) pairs."""

    def __init__(
        self,
        weights: str | Path,
        name: str = "cross_encoder",
        domains: tuple[str, ...] = (),
        device: str = "auto",
        batch_size: int | None = None,
        max_length: int | None = None,
        mc_dropout_samples: int | None = None,
        backend: Backend | None = None,
    ) -> None:
        settings = get_settings()
        self.folder = Path(weights)
        meta_file = self.folder / "verdictflow.json"
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        self.name = name
        self.domains = tuple(domains) or tuple(meta.get("domains", ()))
        self.input_order = meta.get("input_order", "evidence_claim")
        self.max_length = max_length or meta.get("max_length") or settings.experts.max_length
        self.batch_size = batch_size or settings.experts.batch_size
        self.mc_samples = (
            settings.experts.mc_dropout_samples
            if mc_dropout_samples is None
            else mc_dropout_samples
        )
        self.device = settings.resolved_device() if device == "auto" else device
        self.last_variance: np.ndarray | None = None
        self.backend: Backend = resolve_backend(backend or settings.experts.backend, self.folder)
        if self.device != "cpu" or self.mc_samples > 0:
            self.backend = "torch"  # ONNX Runtime here is the CPU path, without dropout
        self.onnx: OnnxLogits | None = None
        self.model = None
        exported = onnx_path(self.folder, self.backend) if self.backend != "torch" else None
        if exported is not None and exported.exists() and has_tokenizer(self.folder):
            # Exported before: served without torch or sentence-transformers.
            config = json.loads((self.folder / "config.json").read_text())
            self.labels = label_matrix(config["id2label"], self.folder)
            self.onnx = OnnxLogits(exported)
            return
        import torch

        torch.set_num_threads(settings.compute_threads())
        dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.model = load_cross_encoder(self.folder, self.device, self.max_length, dtype)
        self.model.eval()
        self.labels = label_matrix(self.model.config.id2label, self.folder)
        if self.backend != "torch":
            self.onnx = OnnxLogits(export_onnx(self.model, self.folder, self.backend))

    def ordered(self, pairs: Sequence[Pair]) -> tuple[list[str], list[str]]:
        """The pairs as the model reads them: (evidence, claim) or (claim, evidence)."""
        claims = [c for c, _ in pairs]
        evidence = [e for _, e in pairs]
        return (claims, evidence) if self.input_order == "claim_evidence" else (evidence, claims)

    def _set_dropout(self, active: bool) -> None:
        if self.model is None:
            return
        import torch

        for module in self.model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.train(active)

    def predict_with_variance(self, pairs: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray]:
        """Mean probabilities [n, 3] and their variance [n, 3] over MC-dropout passes
        (zero variance when ``mc_dropout_samples`` is 0)."""
        if not pairs:
            return np.zeros((0, 3)), np.zeros((0, 3))
        first, second = self.ordered(pairs)
        passes = max(1, self.mc_samples)
        self._set_dropout(self.mc_samples > 0)
        try:
            runs = np.stack(
                [self._probabilities(first, second) @ self.labels for _ in range(passes)]
            )
        finally:
            self._set_dropout(False)
        mean = runs.mean(axis=0)
        mean = mean / mean.sum(axis=1, keepdims=True)
        return mean, runs.var(axis=0)

    def _probabilities(self, first: list[str], second: list[str]) -> np.ndarray:
        if self.model is None:
            n_labels = len(self.labels)
            return onnx_probabilities(
                self.folder, self.onnx, first, second, self.max_length, n_labels, self.batch_size
            )
        return pair_probabilities(self.model, first, second, self.batch_size, self.onnx)

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Probabilities over (supported, contradicted, not_enough_info), one row per pair;
        sets ``last_variance`` (MC-dropout variance per pair and label)."""
        mean, var = self.predict_with_variance(pairs)
        self.last_variance = var
        return mean

    def explain(self, pair: Pair) -> str:
        """Why: the model's probabilities on the pair (a cross-encoder has no finer reason)."""
        p = self.predict([pair])[0]
        return (
            f"{self.name} ({self.folder.name}) reads the pair as supported {p[0]:.2f}, "
            f"contradicted {p[1]:.2f}, not enough info {p[2]:.2f}"
        )
