"""The one settings object: every default of verdictflow lives here.

Environment variables use the prefix ``VERDICTFLOW_``; nested areas use ``__``
(``VERDICTFLOW_RETRIEVAL__TOP_K=8``). ``VERDICTFLOW_HOME``, ``VERDICTFLOW_DATABASE_URL``,
``VERDICTFLOW_DASK_ADDRESS`` and ``VERDICTFLOW_DEVICE`` are top-level.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# Device nodes of an NVIDIA driver: without one, device "auto" is the CPU (torch not imported).
NVIDIA_DEVICES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia")


class RetrievalSettings(BaseModel):
    """Chunking, embedding and search."""

    embedding_model: str | None = Field(
        None, description="Path of a sentence-transformers model; None: the packaged MiniLM."
    )
    chunk_tokens: int = Field(128, description="Token budget of a chunk (embedding tokenizer).")
    chunk_overlap_tokens: int = Field(24, description="Tokens shared by neighbouring chunks.")
    embed_batch_size: int = 64
    embedding_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description="The embedder's forward pass: torch, or ONNX Runtime on the CPU (exported "
        "once under HOME/models/onnx; fp32 gives torch's vectors ~2x faster, int8 ~4x at a "
        "cosine to them of 0.994 on average, 0.984 at worst); auto: fp32 ONNX where this home "
        "holds the export (`verdictflow experts export-onnx`, run by `make setup`), without "
        "importing torch, else torch (never exports). `verdictflow api` serves with "
        "api.embedding_backend.",
    )
    embed_cache_size: int = Field(
        20_000, description="Texts whose vectors are kept per process (LRU); 0: no cache."
    )
    token_cache_size: int = Field(
        256,
        description="Texts whose token vectors are kept per process (LRU, ~0.25 MB a window): "
        "a small request's claims and windows are encoded once for retrieval and spans; 0: off.",
    )
    top_k: int = Field(5, description="Evidence chunks retrieved per claim.")
    windows_per_claim: int | None = Field(
        None,
        description="Evidence windows the experts score per claim: the closest to the claim "
        "by the embedding similarity retrieval computed (nothing is embedded again); None: "
        "every window of the top_k chunks or context windows.",
    )
    context_windows: int | None = Field(
        2,
        description="Windows of an item's own context the experts score per claim: the "
        "closest to the claim by embedding (at most top_k); None: top_k. Corpus evidence "
        "keeps windows_per_claim. Measured on 100 ~400-word summaries (dev): 2 windows ran "
        "1.74x the items/s of 5 at AUROC 0.750 against 0.734 (benchmarks/results/"
        "e2e_speed.md).",
    )
    search_mode: Literal["vector", "fts", "hybrid"] = "hybrid"
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant.")
    vector_index_min_rows: int = Field(
        20_000,
        description="Build an IVF-PQ index once the table holds this many chunks (measured: "
        "at 20k it cuts vector p50 31->7 ms for -0.2 pt hybrid recall@5).",
    )
    max_file_bytes: int = Field(100 * 2**20, description="Larger files are refused.")
    add_corpus_evidence: bool = Field(
        False, description="Also search the corpus for items that bring their own context."
    )
    text_column: str = Field("text", description="Text column of .jsonl/.csv/.parquet corpora.")
    id_column: str = Field("id", description="Document id column of tabular corpora.")
    ingest_batch_docs: int = Field(256, description="Documents written per LanceDB commit.")


class ExpertSettings(BaseModel):
    """Experts, gate and ensemble."""

    registry: Path | None = Field(None, description="Expert registry YAML; None: the shipped one.")
    gate_top_k: int = Field(2, description="Experts selected per claim by the gate.")
    gate_path: Path | None = Field(None, description="Trained gate; None: HOME/models/gate.pt.")
    window_tokens: int | None = Field(
        None,
        description="Evidence tokens of a verification window over an item's context; None: "
        "the largest cross-encoder max length less window_claim_tokens (each cross-encoder "
        "reads a window in windows of its own max length less window_claim_tokens).",
    )
    window_claim_tokens: int = Field(
        32, description="Tokens a window leaves for the claim and the special tokens."
    )
    window_overlap: float = Field(0.25, description="Share of a window its neighbour repeats.")
    long_source_chars: int = Field(
        500,
        description="A context longer than this routes as domain long_source (measured: "
        "benchmarks/results/long_sources.md; 2000 kept every HaluEval source from nli-long).",
    )
    subject_rule: bool = Field(
        True, description="Chunks that name none of the claim's names never decide it."
    )
    chunk_rule: Literal["addressing", "best_support"] = Field(
        "addressing",
        description="Which of a claim's windows decides it: addressing (a contradicting window "
        "that holds more of the claim's words beats the most supportive one) or best_support "
        "(the window with the highest p_supported - p_contradicted, as SummaC-ZS reads).",
    )
    stacking: bool = Field(True, description="Use the learned combiner when one fits the experts.")
    spans: bool = Field(
        True, description="Read each verdict's unsupported and contradicted spans (the words)."
    )
    stacker_path: Path | None = Field(
        None, description="Fitted combiner; None: HOME/models/stacker.json, else the shipped one."
    )
    batch_size: int = 64
    max_length: int = Field(256, description="Token limit of a cross-encoder pair.")
    backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description="Cross-encoders' forward pass on a CPU: torch, or ONNX Runtime in fp32 or "
        "with int8 weights (exported once into HOME/models/onnx); auto: fp32 ONNX (torch's "
        "probabilities to ~1e-6) where this home holds the export (`verdictflow experts "
        "export-onnx`, run by `make setup`), loaded without torch, else torch (never exports).",
    )
    torch_threads: int | None = Field(
        None,
        description="Threads of torch and ONNX Runtime in a process; None: every core this "
        "process may use, except in the local Dask cluster's workers, which get "
        "dask.threads_per_worker each (Settings.compute_threads).",
    )
    mc_dropout_samples: int = Field(0, description="Monte Carlo dropout passes; 0 turns it off.")
    gate_capacity_factor: float | None = Field(
        2.0, description="Expert capacity = factor * pairs * k / experts; None: unlimited."
    )
    gate_sure_margin: float | None = Field(
        None,
        description="A pair whose gate probability for its first expert leads the second's by "
        "at least this is scored by the first alone (fewer pairs); None: gate_top_k always.",
    )
    gate_prior_boost: float = Field(
        1.5, description="Prior gate: logit added per keyword hit or matching domain."
    )
    gate_prior_weight: float = Field(
        0.0, description="Learned gate: weight of the registry prior's log-probs in its logits."
    )
    gate_hidden: int = Field(32, description="Hidden width of the learned gate.")
    gate_epochs: int = 200
    gate_lr: float = 0.01
    gate_balance_coef: float = Field(0.01, description="Weight of the load-balancing loss.")
    gate_noise: bool = Field(True, description="Noisy top-k routing while training the gate.")
    pairs_per_task: int = Field(512, description="(claim, chunk) pairs per score_batch task.")
    gate_train_pairs: int = Field(2000, description="Labelled pairs the gate trains on.")
    gate_number_negatives: float = Field(
        0.25, description="Share of supported gate rows added again with a number changed."
    )
    gpu_poll_s: float = Field(
        10.0, description="How often a GPU batch checks that a GPU worker is still there."
    )


class DaskSettings(BaseModel):
    """The Dask cluster the verify flow runs expert batches on."""

    n_workers: int = 2
    threads_per_worker: int = 1
    processes: bool = True
    use_dask: bool = Field(True, description="False runs expert batches in-process.")


class VerifySettings(BaseModel):
    """Verification: claims, verdicts, abstention."""

    max_item_chars: int = Field(1_000_000, description="Longer item texts are rejected.")
    batch_items: int = Field(256, description="Items verified and persisted together.")
    item_rule: Literal["weakest", "mean", "product"] = Field(
        "mean",
        description="An item's p_supported from its claims': their mean (dev AUROC on HaluEval "
        "summaries 0.62 vs 0.38 for the weakest: benchmarks/results/mixture_choice.md), the "
        "weakest, or their product. Its label is always its deciding (weakest) claim's.",
    )
    max_line_bytes: int = Field(5 * 2**20, description="Longer JSONL lines are rejected.")
    min_claim_chars: int = Field(8, description="Shorter sentences are not claims.")
    max_claims_per_item: int = Field(
        200,
        description="Items whose text holds more claims are rejected (rule max_claims): one "
        "930 KB text made 30,000 claims and held the API for 6 minutes; 0: no limit.",
    )
    split_block_chars: int = Field(
        20_000,
        description="Longer texts are cut into sentences this many characters at a time, at a "
        "paragraph or sentence break (pysbd's time grows faster than the text).",
    )
    support_threshold: float = Field(0.5, description="p_supported at or above: supported.")
    contradiction_threshold: float = Field(
        1 / 3, description="Not supported, p_contradicted above this and >= p_nei: contradicted."
    )
    alpha: float = Field(0.1, description="Target error of conformal abstention.")
    fast_path_max_items: int = Field(
        16,
        description=(
            "Direct calls (Python or the CLI) on this many records or fewer run in this "
            "process, without a flow run or a Dask cluster; 0: never."
        ),
    )


class StorageSettings(BaseModel):
    """The database that holds runs, items, claims, evidence and verdicts."""

    batch_size: int = Field(2000, description="Rows per INSERT batch.")
    write_retries: int = Field(4, description="Retries of a write after a dropped connection.")
    retry_delay_s: float = Field(0.5, description="First retry delay; doubles, with jitter.")
    sqlite_busy_timeout_s: float = Field(30.0, description="SQLite waits this long for a lock.")
    copy_min_rows: int = Field(
        1000, description="PostgreSQL: batches of at least this many rows are written with COPY."
    )


def _shared_corpus() -> Path | None:
    path = REPO_ROOT.parent / "shared" / "data" / "verification-corpus"
    return path if path.is_dir() else None


class TrainingSettings(BaseModel):
    """Training the cross-encoder experts (issue 5)."""

    data_dir: Path | None = Field(None, description="Downloaded training data; None: HOME/data.")
    corpus_dir: Path | None = Field(
        default_factory=_shared_corpus,
        description="The verification corpus (<source>.jsonl.gz files); default: "
        "../shared/data/verification-corpus beside the checkout, when it exists.",
    )
    corpus_dev_pairs: int = Field(150, description="Dev pairs per corpus source at each eval.")
    output_dir: Path = Field(REPO_ROOT / "models", description="Where trained experts are saved.")
    seed: int = Field(13, description="Seed of the splits (by group) and of the data loaders.")
    run_seed: int | None = Field(
        None,
        description="Seed of a run's sampling and batch order; None: ``seed``. A warm-started run "
        "sets another so it sees other rows than the run it continues (the splits stay).",
    )
    label_smoothing: float = Field(
        0.0, description="Share of each target spread over the labels (0: none)."
    )
    dev_fraction: float = Field(0.1, description="Share of groups (pages, documents) in dev.")
    test_fraction: float = Field(0.1, description="Share of groups in test.")
    max_length: int = Field(128, description="Token limit of an (evidence, claim) pair.")
    long_max_length: int = Field(192, description="Token limit for the long-sources expert.")
    excerpt_words: int = Field(
        110, description="Summarisation documents are cut to this many claim-relevant words."
    )
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.08
    weight_decay: float = 0.01
    frozen_layers: int = Field(3, description="Lower encoder layers frozen (embeddings always).")
    max_steps: int = Field(1000, description="Optimizer steps per expert (the time budget).")
    eval_every: int = Field(100, description="Steps between dev evaluations and checkpoints.")
    patience: int = Field(3, description="Evaluations without dev gain before stopping early.")
    dev_pairs: int = Field(600, description="Dev pairs scored at each evaluation.")
    threads: int | None = Field(
        None,
        description="torch threads while training; None: every core this process may use "
        "(Settings.training_threads; a run started beside other work is niced instead).",
    )
    bench_threads: int = Field(2, description="torch threads when measuring CPU pairs/s.")
    quick_layers: int = Field(2, description="--quick: encoder layers kept.")
    quick_pairs: int = Field(400, description="--quick: training pairs per expert.")
    quick_steps: int = Field(60, description="--quick: optimizer steps.")
    quick_learning_rate: float = Field(3e-4, description="--quick: peak learning rate.")
    eval_pairs: int = Field(1000, description="Test pairs per data set in the figures.")
    time_budget_min: float | None = Field(None, description="Wall-clock cap per expert.")
    warm_start: bool = Field(True, description="Specialists start from the trained generalist.")
    synthetic_per_transform: int = Field(
        6000, description="Synthetic pairs made per transform (experts.training.synthetic)."
    )


class DomainSettings(BaseModel):
    """Domain experts trained on a user's own corpus (``verdictflow experts train-domain``)."""

    minutes: float = Field(15.0, description="Training budget (wall clock) of one domain expert.")
    max_steps: int = Field(600, description="Optimizer steps at most (the schedule's length).")
    batch_size: int = 16
    learning_rate: float = 2e-5
    eval_every: int = Field(100, description="Steps between dev evaluations and checkpoints.")
    pairs_per_transform: int = Field(
        600, description="Synthetic pairs made per transform from the corpus."
    )
    hard_negatives: int = Field(
        600, description="Claims taken from the most similar other document (not enough info)."
    )
    dev_fraction: float = Field(0.15, description="Share of the corpus's documents in dev.")
    test_fraction: float = Field(0.15, description="Share of the corpus's documents in test.")
    min_documents: int = Field(3, description="A corpus needs this many documents to split.")
    centroid_quantile: float = Field(
        0.1,
        description="A claim is near the domain when its cosine to the corpus centroid reaches "
        "this quantile of the corpus's own sentences.",
    )
    epochs: float = Field(4.0, description="Passes over the training pairs at most.")
    distill: float = Field(
        0.5,
        description="Weight of the generalist's own probabilities in the loss (learning "
        "without forgetting): the synthetic pairs alone taught it to let swapped names pass.",
    )
    prior: float = Field(
        2.0,
        gt=0,
        description="The registry prior of a new domain expert: with the domain boost, its "
        "pairs' first choice (so expert capacity never drops it).",
    )
    base_expert: str = Field(
        "nli-general", description="The registry cross-encoder a domain expert starts from."
    )
    stale_share: float = Field(
        0.2,
        description="A domain is stale (event verdictflow.domain.stale) when more than this "
        "share of the chunks it was trained on changed or went.",
    )


class QualitySettings(BaseModel):
    """Great Expectations gates."""

    enabled: bool = True
    max_unsupported_share: float = Field(1.0, description="Batch fails above this share.")
    min_unsupported_share: float = 0.0
    max_ece: float = 0.1
    min_ece_labelled: int = Field(
        20, description="The ece rule needs this many labelled verdicts (fewer: noise, skipped)."
    )
    allowed_metadata_keys: list[str] | None = None
    min_item_chars: int = Field(1, description="Shorter item texts break the length rule.")
    max_id_chars: int = Field(
        500, description="Longer item ids are rejected (claim ids add a suffix)."
    )
    min_evidence_score: float = Field(-1.0, description="Lower retrieval scores are invalid.")
    max_evidence_score: float | None = Field(None, description="None: no upper bound.")
    prob_tolerance: float = Field(1e-4, description="How far probabilities may sum from 1.")
    max_examples: int = Field(5, description="Unexpected examples kept per expectation.")
    calibration_method: Literal["temperature", "isotonic", "auto"] = Field(
        "temperature",
        description="Calibrate flow's method; auto: the lower 2-fold cross-validated NLL "
        "(it picks isotonic on VitaminC, where temperature misses the coverage target).",
    )
    calibration_split: str = Field("dev", description="Split the calibrators are fitted on.")
    use_shipped_calibration: bool = Field(
        True,
        description="Without a calibrator in HOME, use the one shipped in models/calibration "
        "(fitted on the dev mix for the shipped experts).",
    )
    calibration_eval_split: str = Field("test", description="Held-out split for the report.")
    calibration_max_rows: int | None = Field(
        2000, description="Rows scored per split by the calibrate flow; None: all."
    )
    calibration_min_rows: int = Field(50, description="Fewer labelled rows: refuse to fit.")


class OrchestrationSettings(BaseModel):
    """Deployments, serving, the Prefect server and the folder watcher (issue 7)."""

    documents_dir: Path | None = Field(
        None, description="Folder ingest-documents and watch read; None: HOME/documents."
    )
    dataset_path: Path | None = Field(
        None, description="Records the scheduled verify-dataset checks; None: HOME/dataset.jsonl."
    )
    server_host: str = Field("127.0.0.1", description="Where `verdictflow server` listens.")
    server_port: int = 4200
    server_database_url: str | None = Field(
        None, description="Prefect server database; None: SQLite. postgresql+asyncpg://..."
    )
    serve_limit: int | None = Field(None, description="Concurrent runs of `verdictflow serve`.")
    flow_retries: int = Field(
        2, description="Retries of a transiently failed task or flow (the one retry policy)."
    )
    retry_delay_s: float = Field(2.0, description="First retry delay; doubles each retry.")
    retry_jitter: float = Field(0.5, description="Random share added to each retry delay.")
    watch_debounce_ms: int = Field(1600, description="watchfiles: group changes this long.")
    reprocess_recent_runs: int = Field(
        5, description="Recent runs whose items are re-searched for a changed document; 0: off."
    )


class EvaluationSettings(BaseModel):
    """The evaluate flow and the benchmarks (issue 8)."""

    max_rows: int | None = Field(500, description="Rows per data set evaluated; None: all.")
    split: str = Field(
        "test", description="Held-out split of experts.training.data that is evaluated."
    )
    results_dir: Path = Field(
        REPO_ROOT / "benchmarks" / "results", description="Where benchmark JSON/Markdown go."
    )


class ApiSettings(BaseModel):
    """The warm HTTP API, ``verdictflow api`` (issue 16)."""

    host: str = Field("127.0.0.1", description="Where `verdictflow api` listens.")
    port: int = 8000
    open_paths: list[str] = Field(
        ["/healthz"], description="Paths served without an API key (e.g. add /readyz, /metrics)."
    )
    max_body_bytes: int = Field(1 * 2**20, description="Larger request bodies get 413.")
    max_batch_items: int = Field(
        16, description="Items one POST /v1/verify may carry (more: 413; use POST /v1/jobs)."
    )
    max_documents: int = Field(256, description="Documents one POST /v1/documents may carry.")
    rate_per_s: float = Field(20.0, description="Requests per second each key may sustain.")
    rate_burst: int = Field(40, description="Requests a key may make at once (bucket size).")
    key_cache_s: float = Field(
        1.0, description="How long a checked key is trusted before storage is read again."
    )
    max_page: int = Field(200, description="Most rows GET /v1/runs and verdict history return.")
    warm_up: bool = Field(True, description="Load the experts and the embedder at start.")
    batch_wait_ms: float = Field(
        10.0,
        description="Micro-batching: how long a forward pass waits for other requests' pairs "
        "(only while other requests are on their way); 0 scores each request alone.",
    )
    batch_max_pairs: int = Field(256, description="Micro-batching: most pairs in one pass.")
    group_writes: bool = Field(
        True,
        description="Concurrent requests' database writes that arrive while one is in flight "
        "are committed together, in one transaction (storage.group_commit); a lone request "
        "never waits.",
    )
    experts_backend: Literal["torch", "onnx", "onnx-int8"] | None = Field(
        "onnx-int8",
        description="The cross-encoders' backend in `verdictflow api` (int8 per channel, on "
        "the generalist's 21 dev splits: mean AUROC loss 0.0000, worst 0.0077; "
        "benchmarks/results/onnx_backends.json); None, or VERDICTFLOW_EXPERTS__BACKEND set: "
        "experts.backend.",
    )
    torch_threads: int | None = Field(
        1,
        description="Threads of a forward pass in `verdictflow api` (one-claim requests: one "
        "thread gave p50 63 ms against 87 ms with two, requests sharing the cores: "
        "benchmarks/results/api_load.json); None, or VERDICTFLOW_EXPERTS__TORCH_THREADS set: "
        "experts.torch_threads.",
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] | None = Field(
        "onnx-int8",
        description="The embedder's backend in `verdictflow api`: int8 ONNX, 11.6 ms a one-claim "
        "request against 25.8 ms in fp32 (the embedder is half a request's time, "
        "benchmarks/results/api_profile.md); dev AUROC end to end within 0.004 of the torch "
        "embedder on every set (benchmarks/results/mixture_choice.md); None, or "
        "VERDICTFLOW_RETRIEVAL__EMBEDDING_BACKEND set: retrieval.embedding_backend.",
    )
    jobs_deployment: str = Field(
        "verify-dataset/verify-dataset", description="Deployment POST /v1/jobs starts."
    )


class Settings(BaseSettings):
    """All of verdictflow's settings."""

    model_config = SettingsConfigDict(
        env_prefix="VERDICTFLOW_", env_nested_delimiter="__", extra="ignore"
    )

    home: Path = Field(Path(".verdictflow"), description="Embedded state: DB, LanceDB, models.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; None: SQLite under HOME. postgresql+psycopg://..."
    )
    dask_address: str | None = Field(None, description="Existing Dask scheduler; None: local.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    retrieval: RetrievalSettings = RetrievalSettings()
    experts: ExpertSettings = ExpertSettings()
    dask: DaskSettings = DaskSettings()
    verify: VerifySettings = VerifySettings()
    quality: QualitySettings = QualitySettings()
    training: TrainingSettings = TrainingSettings()
    domains: DomainSettings = DomainSettings()
    storage: StorageSettings = StorageSettings()
    orchestration: OrchestrationSettings = OrchestrationSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    api: ApiSettings = ApiSettings()

    @property
    def db_url(self) -> str:
        """The database URL in force (SQLite under HOME by default)."""
        return self.database_url or f"sqlite:///{(self.home / 'verdictflow.db').resolve()}"

    @property
    def lancedb_path(self) -> Path:
        return self.home / "lancedb"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def calibration_dir(self) -> Path:
        return self.home / "calibration"

    @property
    def data_cache_dir(self) -> Path:
        return self.home / "data"

    def compute_threads(self) -> int:
        """Threads a model's forward pass uses here: ``experts.torch_threads``, else every
        core this process may use (the local cluster sets it per worker: ``flows.runtime``)."""
        if self.experts.torch_threads:
            return self.experts.torch_threads
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)

    def training_threads(self) -> int:
        """Threads a training run uses: ``training.threads``, else ``compute_threads``."""
        return self.training.threads or self.compute_threads()

    def resolved_device(self) -> str:
        """'cuda' when asked for or available under 'auto', else 'cpu'."""
        if self.device != "auto":
            return self.device
        if "torch" not in sys.modules and not any(Path(p).exists() for p in NVIDIA_DEVICES):
            return "cpu"  # no NVIDIA driver: no need to import torch to know
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings


def reset_settings() -> None:
    """Forget cached settings (tests that change the environment)."""
    get_settings.cache_clear()


def offline_hub() -> None:
    """No model hub is reachable: make the HF libraries never try."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
