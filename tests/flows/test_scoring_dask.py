"""The scoring stage on real Dask LocalClusters inside real Prefect flow runs."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from distributed import LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from prefect import flow
from prefect.context import FlowRunContext
from prefect.settings import PREFECT_API_URL
from prefect_dask import DaskTaskRunner

from flows.runtime import task_runner
from tasks.scoring import score_claims
from tests.experts.tiny_models import make_tiny_cross_encoder, write_registry
from verdictflow.config import get_settings, reset_settings
from verdictflow.contracts import Claim, Evidence

pytestmark = pytest.mark.slow

FAST = [
    {"name": "numbers", "kind": "numbers", "patterns": [r"\d"], "prior": 0.3},
    {"name": "entities", "kind": "entities", "patterns": [r"\b[A-Z][a-z]+\b"], "prior": 0.3},
    {"name": "negation", "kind": "negation", "keywords": ["not", "never"], "prior": 0.3},
]
CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Vienna", "Oslo", "Lisbon"]


def make_inputs(n_claims: int, chunks: int = 3) -> tuple[list[Claim], dict[str, list[Evidence]]]:
    """Claims with numbers, names and negations, each with ``chunks`` evidence chunks."""
    claims, evidence = [], {}
    for i in range(n_claims):
        city = CITIES[i % len(CITIES)]
        text = [
            f"{city} had {1000 + i} residents in 2010.",
            f"{city} is not the capital of Atlantis number {i}.",
            f"The mayor of {city} opened bridge {i} in {1900 + i}.",
        ][i % 3]
        cid = f"c{i}"
        claims.append(Claim(item_id=f"i{i // 4}", claim_id=cid, index=i, text=text, start=0, end=1))
        evidence[cid] = [
            Evidence(
                claim_id=cid,
                doc_id=f"d{j}",
                chunk_id=f"k{i}-{j}",
                text=[
                    f"In 2010 {city} had {1000 + i + j} residents; bridge {i} opened {1900 + i}.",
                    f"{CITIES[(i + 1) % len(CITIES)]} is the capital of Atlantis number {i}.",
                    f"The mayor of {city} opened bridge {i} in {1900 + i + j}.",
                ][j % 3],
                score=1.0 / (j + 1),
                rank=j,
            )
            for j in range(chunks)
        ]
    return claims, evidence


def _cache_size() -> int:
    from experts.registry import _cached_expert

    return _cached_expert.cache_info().currsize


def _api_url() -> str | None:
    return os.environ.get("PREFECT_API_URL")


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


@flow(name="scoring-under-test")
def scoring_flow(claims: list[Claim], evidence: dict, registry: str, top_k: int) -> tuple:
    scores, report = score_claims(claims, evidence, registry=registry, top_k=top_k)
    client = FlowRunContext.get().task_runner.client
    report["worker_experts"] = client.run(_cache_size)
    report["worker_pids"] = client.run(os.getpid)
    report["worker_api"] = client.run(_api_url)
    report["worker_threads"] = client.run(_torch_threads)
    return scores, report


class ResourceRecorder(SchedulerPlugin):
    """Records the resource restrictions of every task the scheduler sees processing."""

    name = "resource-recorder"

    def __init__(self, scheduler) -> None:
        self.scheduler = scheduler
        self.seen: list[dict | None] = []

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "processing":
            self.seen.append(self.scheduler.tasks[key].resource_restrictions)


@pytest.fixture
def fast_registry(home: Path, tmp_path: Path) -> str:
    return str(write_registry(tmp_path / "fast.yaml", FAST))


def _probs(scores) -> np.ndarray:
    return np.array([s.probs for s in scores])


def test_dask_localcluster_in_flow_matches_in_process(
    prefect_harness, fast_registry, monkeypatch
) -> None:
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__PAIRS_PER_TASK", "16")
    reset_settings()
    claims, evidence = make_inputs(24)
    baseline, base_report = score_claims(claims, evidence, registry=fast_registry, top_k=2)
    settings = get_settings()
    assert settings.dask.use_dask and settings.dask.n_workers == 2 and settings.dask.processes
    runner = task_runner(settings)  # the default: a LocalCluster from settings
    scores, report = scoring_flow.with_options(task_runner=runner)(
        claims, evidence, fast_registry, 2
    )
    assert len(set(report["worker_pids"].values()) - {os.getpid()}) == 2
    assert set(report["worker_api"].values()) == {PREFECT_API_URL.value()}  # one API for all
    # Each worker's forward passes use its own thread (threads_per_worker), not every core.
    assert set(report["worker_threads"].values()) == {settings.dask.threads_per_worker}
    assert len(report["worker_experts"]) == 2
    assert sum(report["worker_experts"].values()) >= 3  # experts were built on the workers
    assert report["pairs"] == 72 and report["pairs_scored"] == 144
    assert report["batches"] >= 144 // 16
    assert [s.claim_id for s in scores] == [c.claim_id for c in claims]
    np.testing.assert_allclose(_probs(scores), _probs(baseline), atol=1e-9)
    assert [s.experts for s in scores] == [s.experts for s in baseline]
    assert report["utilisation"] == base_report["utilisation"]


def test_gpu_resource_annotation(prefect_harness, home, tmp_path, monkeypatch) -> None:
    folder = make_tiny_cross_encoder(tmp_path / "tiny-ce")
    registry = str(
        write_registry(
            tmp_path / "gpu.yaml",
            [{"name": "tiny", "kind": "cross_encoder", "weights": str(folder), "prior": 2.0}]
            + FAST,
        )
    )
    claims, evidence = make_inputs(6, chunks=2)
    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=True,
        dashboard_address=None,
        resources={"GPU": 1},
    ) as cluster:
        recorder = ResourceRecorder(cluster.scheduler)
        cluster.scheduler.add_plugin(recorder)
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        scores, report = scoring_flow.with_options(task_runner=runner)(
            claims, evidence, registry, 2
        )
    assert report["gpu_workers"] == 1
    assert all("tiny" in s.experts for s in scores)  # the cross-encoder was routed and ran
    restricted = [r for r in recorder.seen if r]
    unrestricted = [r for r in recorder.seen if not r]
    assert restricted and all(r == {"GPU": 1} for r in restricted)
    assert unrestricted  # fast-expert batches are not tied to the GPU

    # The same flow on a cluster without GPU workers: nothing asks for a GPU, nothing waits.
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        recorder_cpu = ResourceRecorder(cluster.scheduler)
        cluster.scheduler.add_plugin(recorder_cpu)
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        scores_cpu, report_cpu = scoring_flow.with_options(task_runner=runner)(
            claims, evidence, registry, 2
        )
    assert report_cpu["gpu_workers"] == 0
    assert recorder_cpu.seen and not any(recorder_cpu.seen)
    np.testing.assert_allclose(_probs(scores_cpu), _probs(scores), atol=1e-6)


class TaskLog(SchedulerPlugin):
    """Every task transition the scheduler makes, with the worker that reported a result."""

    name = "task-log"

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str | None]] = []
        self.lock = threading.Lock()

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        with self.lock:
            self.events.append((key, start, finish, kwargs.get("worker")))

    def finished_on(self, key) -> list[str]:
        """The workers that reported ``key`` done, in order."""
        with self.lock:
            return [w for k, _s, f, w in self.events if k == key and f == "memory"]


def _kill_worker_running_a_batch(cluster: LocalCluster, killed: dict, stop: threading.Event):
    """SIGKILL the worker a batch has been processing on for 0.1 s and still is (by the
    scheduler's task state); record its address and the keys it held."""
    scheduler = cluster.scheduler
    deadline = time.monotonic() + 300
    seen: dict[str, tuple[str, float]] = {}  # key -> (worker address, first seen processing)
    while not stop.is_set() and time.monotonic() < deadline:
        now = time.monotonic()
        for ts in list(scheduler.tasks.values()):
            ws = ts.processing_on
            if ts.state != "processing" or ws is None:
                continue
            address, since = seen.setdefault(ts.key, (ws.address, now))
            if address != ws.address or now - since < 0.1:
                continue
            held = [t.key for t in list(ws.processing) if t.state == "processing"]
            if ts.key not in held:
                continue
            os.kill(ws.pid, signal.SIGKILL)
            killed.update(pid=ws.pid, address=ws.address, keys=held, key=ts.key)
            return
        time.sleep(0.01)


def test_killed_worker_loses_and_doubles_nothing(
    prefect_harness, fast_registry, monkeypatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    monkeypatch.setenv("VERDICTFLOW_EXPERTS__PAIRS_PER_TASK", "8")
    reset_settings()
    claims, evidence = make_inputs(30)
    baseline, _ = score_claims(claims, evidence, registry=fast_registry, top_k=2)
    killed: dict = {}
    stop = threading.Event()
    log = TaskLog()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        cluster.scheduler.add_plugin(log)
        killer = threading.Thread(
            target=_kill_worker_running_a_batch, args=(cluster, killed, stop), daemon=True
        )
        killer.start()
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        state = scoring_flow.with_options(task_runner=runner)(
            claims, evidence, fast_registry, 2, return_state=True
        )
        stop.set()
        killer.join()
    assert killed, "no worker was killed while it held a batch"
    scores, report = state.result()
    assert [s.claim_id for s in scores] == [c.claim_id for c in claims]
    np.testing.assert_allclose(_probs(scores), _probs(baseline), atol=1e-9)
    assert sum(len(v) for s in scores for v in s.expert_probs.values()) == report["pairs_scored"]

    # Every task on this cluster is a batch: one key per batch reached memory.
    done = {k for k, _s, f, _w in log.events if f == "memory"}
    assert len(done) == report["batches"]
    # The batch the killed worker was processing at the kill ran again on another worker,
    # and its result came from there; so did every other batch it held.
    assert killed["key"] in killed["keys"]
    assert all(str(k).startswith("score_batch-") for k in killed["keys"]), killed
    for key in killed["keys"]:
        workers = log.finished_on(key)
        assert workers and workers[-1] != killed["address"], (key, workers, killed)
    # The scheduler saw it processing on the killed worker, then start again elsewhere.
    [first, *_] = [i for i, e in enumerate(log.events) if e[0] == killed["key"]]
    again = [e for e in log.events[first:] if e[0] == killed["key"] and e[2] == "processing"]
    assert len(again) >= 2, log.events[first:]

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    batch_runs = [r for r in runs if r.name.startswith("score-batch")]
    assert len(batch_runs) == report["batches"]  # one task run per batch, none doubled
    assert all(r.state_type.value == "COMPLETED" for r in batch_runs)


def _hold_gpu(seconds: float) -> None:
    time.sleep(seconds)


def test_gpu_batches_fall_back_to_cpu_when_the_gpu_worker_goes(
    prefect_harness, home, tmp_path, monkeypatch, caplog
) -> None:
    from distributed import Client, Nanny, Scheduler, SpecCluster

    monkeypatch.setenv("VERDICTFLOW_EXPERTS__GPU_POLL_S", "1")
    reset_settings()
    folder = make_tiny_cross_encoder(tmp_path / "tiny-ce")
    registry = str(
        write_registry(
            tmp_path / "gpu.yaml",
            [{"name": "tiny", "kind": "cross_encoder", "weights": str(folder)}],
        )
    )
    claims, evidence = make_inputs(4, chunks=2)
    baseline, _ = score_claims(claims, evidence, registry=registry, top_k=1)
    workers = {
        "gpu": {"cls": Nanny, "options": {"nthreads": 1, "resources": {"GPU": 1}}},
        "cpu": {"cls": Nanny, "options": {"nthreads": 1}},
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": None}}
    with SpecCluster(workers=workers, scheduler=scheduler) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        gpu_addr = next(a for a, w in client.scheduler_info()["workers"].items() if w["resources"])
        # Something else holds the only GPU, then the GPU worker leaves the cluster.
        blocker = client.submit(_hold_gpu, 600, resources={"GPU": 1}, pure=False)

        def retire_once_batches_wait() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                waiting = [
                    ts
                    for ts in list(cluster.scheduler.tasks.values())
                    if ts.resource_restrictions and ts.key != blocker.key
                ]
                if waiting:
                    client.retire_workers([gpu_addr], close_workers=True, remove=True)
                    return
                time.sleep(0.05)

        threading.Thread(target=retire_once_batches_wait, daemon=True).start()
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        scores, report = scoring_flow.with_options(task_runner=runner)(
            claims, evidence, registry, 1
        )
        blocker.cancel()
    assert report["gpu_workers"] == 1  # it was there when the batches were submitted
    assert "no GPU worker left" in caplog.text
    np.testing.assert_allclose(_probs(scores), _probs(baseline), atol=1e-6)
