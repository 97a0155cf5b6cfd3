"""A cross-encoder's forward pass through ONNX Runtime on the CPU (fp32, or int8 weights).

``optimum``'s exporter pins transformers < 4.58, so sentence-transformers' own
``backend="onnx"`` cannot load here; the export is ``torch.onnx.export`` of the Hugging Face
model and the int8 file is ONNX Runtime's dynamic quantisation of it (int8 weights per
output channel). Tokenizing stays with
the CrossEncoder (``cross_encoder.encode``), so the torch and ONNX paths read a pair alike.

Exported files are cached under ``HOME/models/onnx/<folder>-<digest of the weights>/``
(``model.onnx``, ``model_int8.onnx``): a retrained model gets a fresh export, an unchanged one
is exported once. ``verdictflow experts export-onnx`` builds them ahead of time.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Literal

import numpy as np

from verdictflow.config import get_settings

Backend = Literal["torch", "onnx", "onnx-int8"]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def weights_digest(folder: Path) -> str:
    """A short digest of a model folder's weight files (names, sizes and mtimes)."""
    digest = hashlib.sha256()
    for file in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        stat = file.stat()
        digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:12]


def onnx_path(folder: Path, backend: Backend, home: Path | None = None) -> Path:
    """Where the exported file of ``folder`` for ``backend`` lives."""
    home = home or get_settings().home
    name = "model_int8.onnx" if backend == "onnx-int8" else "model.onnx"
    return home / "models" / "onnx" / f"{folder.name}-{weights_digest(folder)}" / name


def export_onnx(model, folder: Path, backend: Backend, home: Path | None = None) -> Path:
    """Export ``model`` (a loaded ``CrossEncoder`` of ``folder``) for ``backend`` unless it is
    cached; returns the ``.onnx`` file."""
    import torch

    target = onnx_path(folder, backend, home)
    if target.exists():
        return target
    fp32 = onnx_path(folder, "onnx", home)
    fp32.parent.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        hf = model.model.eval()

        class Logits(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.hf = hf

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.hf(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).logits

        sample = model.preprocess([("An evidence sentence.", "A claim.")])
        partial = _partial(fp32)
        with warnings.catch_warnings():  # the tracer's notes on BERT's masks, not ours
            warnings.simplefilter("ignore")
            _export(Logits(), sample, partial)
        partial.replace(fp32)
    if backend == "onnx-int8" and not target.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        partial = _partial(target)
        # Per output channel: per tensor lost up to 0.03 AUROC on a test split, this nothing.
        quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True)
        partial.replace(target)
    return target


def _partial(file: Path) -> Path:
    """A file of this process's own to write before the atomic rename (workers may race)."""
    return file.with_name(f"{file.stem}.{os.getpid()}.partial")


def _export(module, sample: dict, file: Path) -> None:
    import torch

    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    torch.onnx.export(
        module,
        tuple(sample[name] for name in INPUTS),
        str(file),
        input_names=list(INPUTS),
        output_names=["logits"],
        dynamic_axes={**axes, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


class OnnxLogits:
    """An ONNX Runtime session that maps the CrossEncoder's token tensors to logits."""

    def __init__(self, file: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or get_settings().experts.torch_threads
        options.inter_op_num_threads = 1
        self.file = file
        self.session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, features: dict) -> np.ndarray:
        """Logits [n, num_labels] of ``encode``'s tensors."""
        feed = {name: features[name].cpu().numpy() for name in self.inputs}
        return self.session.run(None, feed)[0]
