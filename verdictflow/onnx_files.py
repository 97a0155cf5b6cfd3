"""ONNX files of the project's transformer models, shared by the embedder and the cross-encoders.

``optimum``'s exporter pins transformers < 4.58, so sentence-transformers' own
``backend="onnx"`` cannot load here: a model is exported with ``torch.onnx.export`` and its
int8 file is ONNX Runtime's dynamic quantisation of it (int8 weights per output channel; per
tensor lost up to 0.03 AUROC on a test split, per channel nothing). Files are cached under
``HOME/models/onnx/<prefix><folder>-<digest of the weights>/`` (``model.onnx``,
``model_int8.onnx``), written to a process-own file and renamed (workers may race).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

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


def onnx_path(folder: Path, backend: Backend, home: Path | None = None, prefix: str = "") -> Path:
    """Where the exported file of ``folder`` for ``backend`` lives."""
    home = home or get_settings().home
    name = "model_int8.onnx" if backend == "onnx-int8" else "model.onnx"
    return home / "models" / "onnx" / f"{prefix}{folder.name}-{weights_digest(folder)}" / name


def resolve_backend(backend: str, folder: Path, prefix: str = "") -> Backend:
    """The backend that serves ``folder``: ``auto`` is fp32 ONNX where this home holds its
    export and no GPU is asked for or present, else torch (``auto`` never exports)."""
    if backend != "auto":
        return backend  # type: ignore[return-value]
    if get_settings().resolved_device() != "cpu":
        return "torch"
    return "onnx" if onnx_path(Path(folder), "onnx", prefix=prefix).exists() else "torch"


def partial_file(file: Path) -> Path:
    """A file of this process's own to write before the atomic rename (workers may race)."""
    return file.with_name(f"{file.stem}.{os.getpid()}.partial")


def export_module(module, sample: dict, file: Path, output: str, output_axes: dict) -> None:
    """``torch.onnx.export`` of ``module`` (called with the ``INPUTS`` tensors of ``sample``,
    batch and token axes dynamic) into ``file``, atomically."""
    import torch

    partial = partial_file(file)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    with warnings.catch_warnings(), torch.inference_mode():  # the tracer's notes on masks
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(sample[name] for name in INPUTS),
            str(partial),
            input_names=list(INPUTS),
            output_names=[output],
            dynamic_axes={**axes, output: output_axes},
            opset_version=17,
            dynamo=False,
        )
    partial.replace(file)


def quantize_int8(fp32: Path, target: Path) -> None:
    """ONNX Runtime's dynamic int8 quantisation of ``fp32`` (per channel) into ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = partial_file(target)
    quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True)
    partial.replace(target)


def cpu_session(file: Path, threads: int | None = None):
    """An ONNX Runtime CPU session of ``file`` (intra-op threads: the experts' torch threads)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or get_settings().compute_threads()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])


def hf_output(hf, attribute: str):
    """A torch module: the Hugging Face model ``hf`` on the ``INPUTS`` tensors, returning its
    output's ``attribute`` (``logits``, ``last_hidden_state``)."""
    import torch

    class Output(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf.eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.hf(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return getattr(out, attribute)

    return Output()


def exported(
    folder: Path,
    backend: Backend,
    build: Callable[[], tuple[object, dict]],
    output: str,
    output_axes: dict,
    home: Path | None = None,
    prefix: str = "",
) -> Path:
    """The ``.onnx`` file of ``folder`` for ``backend``, exported (``build`` gives the module
    and a sample of its inputs) and quantised unless cached."""
    target = onnx_path(folder, backend, home, prefix)
    if target.exists():
        return target
    fp32 = onnx_path(folder, "onnx", home, prefix)
    fp32.parent.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        module, sample = build()
        export_module(module, sample, fp32, output, output_axes)
    if backend == "onnx-int8" and not target.exists():
        quantize_int8(fp32, target)
    return target
