"""The cross-encoder expert: any sequence-classification checkpoint on disk, offline.

The folder is a Hugging Face model (``config.json`` with ``id2label``, weights, tokenizer)
with an optional ``verdictflow.json``: ``{"input_order": "evidence_claim" | "claim_evidence",
"max_length": N, "domains": [...]}``. Labels map onto (supported, contradicted,
not_enough_info) by name; "not_supported" and "neutral" mass goes to not_enough_info.
On CUDA the model runs in fp16; on CPU in fp32 with length-sorted batches and dynamic
padding. With ``settings.experts.mc_dropout_samples`` > 0 it runs that many dropout passes
and keeps the per-pair variance (``last_variance``) for the uncertainty stage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from experts.base import Pair
from verdictflow.config import get_settings, offline_hub

LABEL_COLUMNS = {
    "supported": 0,
    "entailment": 0,
    "contradicted": 1,
    "contradiction": 1,
    "refuted": 1,
    "not_enough_info": 2,
    "not_supported": 2,
    "neutral": 2,
    "nei": 2,
}


def label_matrix(id2label: dict, folder: Path) -> np.ndarray:
    """[n_labels, 3] matrix that moves each model label's mass to its verdictflow column."""
    matrix = np.zeros((len(id2label), 3), dtype=np.float32)
    for idx, label in id2label.items():
        key = str(label).lower().replace(" ", "_").replace("-", "_")
        if key not in LABEL_COLUMNS:
            raise ValueError(
                f"cross-encoder {folder}: label {label!r} is not one of {sorted(LABEL_COLUMNS)}"
            )
        matrix[int(idx), LABEL_COLUMNS[key]] = 1.0
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
    ) -> None:
        offline_hub()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        settings = get_settings()
        torch.set_num_threads(settings.experts.torch_threads)
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
        dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.folder, local_files_only=True, dtype=dtype
        ).to(self.device)
        self.model.eval()
        self.labels = label_matrix(self.model.config.id2label, self.folder)
        self.last_variance: np.ndarray | None = None

    def _encode(self, pairs: Sequence[Pair]) -> list[dict]:
        claims = [c for c, _ in pairs]
        evidence = [e for _, e in pairs]
        if self.input_order == "claim_evidence":
            first, second, trunc = claims, evidence, "only_second"
        else:
            first, second, trunc = evidence, claims, "only_first"
        try:
            enc = self.tokenizer(first, second, truncation=trunc, max_length=self.max_length)
        except Exception:  # a claim longer than the budget: encode pair by pair
            return [self._encode_one(f, s, trunc) for f, s in zip(first, second, strict=True)]
        keys = list(enc.keys())
        return [{k: enc[k][i] for k in keys} for i in range(len(pairs))]

    def _encode_one(self, first: str, second: str, trunc: str) -> dict:
        """One pair; when the claim alone overflows ``max_length``, both sides are cut
        (``longest_first``) instead of failing."""
        try:
            enc = self.tokenizer(first, second, truncation=trunc, max_length=self.max_length)
        except Exception:
            enc = self.tokenizer(
                first, second, truncation="longest_first", max_length=self.max_length
            )
        return dict(enc)

    def _set_dropout(self, active: bool) -> None:
        for module in self.model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.train(active)

    @torch.inference_mode()
    def _forward(self, batch: list[dict]) -> np.ndarray:
        inputs = self.tokenizer.pad(batch, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        logits = self.model(**inputs).logits.float()
        return torch.softmax(logits, dim=-1).cpu().numpy() @ self.labels

    def predict_with_variance(self, pairs: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray]:
        """Mean probabilities [n, 3] and their variance [n, 3] over MC-dropout passes
        (zero variance when ``mc_dropout_samples`` is 0)."""
        n = len(pairs)
        if n == 0:
            return np.zeros((0, 3)), np.zeros((0, 3))
        encoded = self._encode(pairs)
        order = np.argsort([len(e["input_ids"]) for e in encoded], kind="stable")
        passes = max(1, self.mc_samples)
        runs = np.zeros((passes, n, 3), dtype=np.float64)
        self._set_dropout(self.mc_samples > 0)
        try:
            for p in range(passes):
                for start in range(0, n, self.batch_size):
                    idx = order[start : start + self.batch_size]
                    runs[p, idx] = self._forward([encoded[i] for i in idx])
        finally:
            self._set_dropout(False)
        mean = runs.mean(axis=0)
        mean = mean / mean.sum(axis=1, keepdims=True)
        return mean, runs.var(axis=0)

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
