"""The embedding model's forward pass through ONNX Runtime on the CPU (fp32, or int8 weights).

sentence-transformers' own ``backend="onnx"`` loads through ``optimum``, whose exporter pins
transformers < 4.58, so it cannot load here. As for the cross-encoders
(``experts.verifiers.onnx_backend``), the export is ``torch.onnx.export`` of the Hugging Face
encoder (its last hidden state) and the int8 file is ONNX Runtime's dynamic quantisation of it
(int8 weights per output channel). Tokenizing, the mean pooling and the normalising stay in
``retrieval.embedding``, as sentence-transformers' Pooling and Normalize modules do them.

fp32 gives the torch model's vectors (largest difference ~2e-7) in about half the time; int8
halves that again, at a cosine to the torch vectors of 0.994 on average and 0.984 at worst (46
claims, windows and odd texts; a one-letter text is the worst), so it is not the default.

Exported files are cached under ``HOME/models/onnx/embedding-<folder>-<digest of the
weights>/`` (``model.onnx``, ``model_int8.onnx``): exported once per home and weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verdictflow.onnx_files import Backend, cpu_session, exported, hf_output, onnx_path

EMBEDDING_PREFIX = "embedding-"  # the embedder's exports: HOME/models/onnx/embedding-<folder>-...
# Texts of similar length share a forward pass; one that would pad the others' rows past this
# share of real tokens starts a pass of its own (a claim is not padded to its window's length).
PADDING_SLACK = 1.25


def embedding_onnx_path(folder: Path, backend: Backend, home: Path | None = None) -> Path:
    """Where the exported encoder of ``folder`` for ``backend`` lives."""
    return onnx_path(folder, backend, home, prefix=EMBEDDING_PREFIX)


def export_onnx(
    encoder, tokenizer, folder: Path, backend: Backend, home: Path | None = None
) -> Path:
    """Export ``encoder`` (the Hugging Face model of the embedder in ``folder``) for ``backend``
    unless it is cached; returns the ``.onnx`` file."""

    def build():
        sample = tokenizer(["An evidence sentence.", "A claim."], padding=True, return_tensors="pt")
        return hf_output(encoder, "last_hidden_state"), sample

    axes = {0: "batch", 1: "tokens"}
    return exported(folder, backend, build, "hidden", axes, home, prefix=EMBEDDING_PREFIX)


def length_groups(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices of sequences grouped for forward passes: by length, at most ``batch_size`` a
    group, and a group grows only while its padding stays within ``PADDING_SLACK``."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    real = 0
    for i in order:
        group = groups[-1] if groups else None
        if (
            group is not None
            and len(group) < batch_size
            and lengths[i] * (len(group) + 1) <= PADDING_SLACK * (real + lengths[i])
        ):
            group.append(i)
            real += lengths[i]
        else:
            groups.append([i])
            real = lengths[i]
    return groups


@dataclass(frozen=True)
class PooledFolder:
    """What the ONNX path needs of a sentence-transformers folder of mean-pooled vectors."""

    dim: int  # the sentence vectors' width
    max_length: int  # the model's token limit (``max_seq_length``)


def mean_pooled_folder(folder: Path) -> PooledFolder | None:
    """The folder's width and token limit when it is a sentence-transformers model of
    mean-pooled (and normalised) token states, read from its config files; else None."""
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
        limit = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    except (OSError, KeyError, IndexError, TypeError, ValueError):
        return None
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
    if pooling.get("pooling_mode") != "mean" and modes != ["pooling_mode_mean_tokens"]:
        return None
    dim = pooling.get("word_embedding_dimension") or pooling.get("embedding_dimension")
    return PooledFolder(int(dim), int(limit)) if dim and limit else None


class OnnxEncoder:
    """An ONNX Runtime session of the embedder's encoder: token ids -> last hidden states.

    ``folder`` is the model's (its tokenizer reads the texts), ``pooled`` what it pools to."""

    def __init__(
        self, file: Path, folder: Path, pooled: PooledFolder, threads: int | None = None
    ) -> None:
        self.file = file
        self.folder = folder
        self.dim = pooled.dim
        self.max_length = pooled.max_length
        self.session = cpu_session(file, threads)
        self.inputs = [i.name for i in self.session.get_inputs()]

    def hidden(self, sequences: list[list[int]], batch_size: int = 64) -> list[np.ndarray]:
        """Each sequence's last hidden state, float32 [its tokens, dim], in order; sequences
        of similar length share a pass (``length_groups``)."""
        out: list[np.ndarray | None] = [None] * len(sequences)
        for group in length_groups([len(s) for s in sequences], batch_size):
            width = max(len(sequences[i]) for i in group)
            ids = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.int64)
            for row, i in enumerate(group):
                ids[row, : len(sequences[i])] = sequences[i]
                mask[row, : len(sequences[i])] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            states = self.session.run(None, {name: feed[name] for name in self.inputs})[0]
            for row, i in enumerate(group):
                out[i] = np.asarray(states[row, : len(sequences[i])], dtype=np.float32)
        return out  # type: ignore[return-value]


def mean_pooled(hidden: list[np.ndarray]) -> np.ndarray:
    """Normalised mean of each sequence's token states (every token, the special ones too:
    sentence-transformers' mean Pooling then Normalize), float32 [n, dim]."""
    pooled = np.stack([h.mean(axis=0) for h in hidden]).astype(np.float32)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, 1e-12)
