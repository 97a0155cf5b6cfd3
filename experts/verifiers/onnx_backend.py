"""A cross-encoder's forward pass through ONNX Runtime on the CPU (fp32, or int8 weights).

``optimum``'s exporter pins transformers < 4.58, so sentence-transformers' own
``backend="onnx"`` cannot load here; the export is ``torch.onnx.export`` of the Hugging Face
model and the int8 file is ONNX Runtime's dynamic quantisation of it (int8 weights per
output channel; ``verdictflow.onnx_files``). Tokenizing stays with the CrossEncoder
(``cross_encoder.encode``), so the torch and ONNX paths read a pair alike.

Exported files are cached under ``HOME/models/onnx/<folder>-<digest of the weights>/``
(``model.onnx``, ``model_int8.onnx``): a retrained model gets a fresh export, an unchanged one
is exported once. ``verdictflow experts export-onnx`` builds them ahead of time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verdictflow.onnx_files import (  # noqa: F401  (Backend, onnx_path: this module's API)
    Backend,
    cpu_session,
    exported,
    hf_output,
    onnx_path,
)


def export_onnx(model, folder: Path, backend: Backend, home: Path | None = None) -> Path:
    """Export ``model`` (a loaded ``CrossEncoder`` of ``folder``) for ``backend`` unless it is
    cached; returns the ``.onnx`` file."""

    def build():
        sample = model.preprocess([("An evidence sentence.", "A claim.")])
        return hf_output(model.model, "logits"), sample

    return exported(folder, backend, build, "logits", {0: "batch"}, home)


class OnnxLogits:
    """An ONNX Runtime session that maps a pair's tokens (the CrossEncoder's tensors, or
    ``verdictflow.tokenizer``'s arrays) to logits."""

    def __init__(self, file: Path, threads: int | None = None) -> None:
        self.file = file
        self.session = cpu_session(file, threads)
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, features: dict) -> np.ndarray:
        """Logits [n, num_labels] of ``encode``'s tensors."""
        feed = {name: _numpy(features[name]) for name in self.inputs}
        return self.session.run(None, feed)[0]


def _numpy(value):
    """An input as numpy: torch tensors (the CrossEncoder's tokens) or arrays already."""
    return value if isinstance(value, np.ndarray) else value.cpu().numpy()
