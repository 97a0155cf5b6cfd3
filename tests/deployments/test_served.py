"""The deployments served against a real Prefect server: schedules, runs, the event trigger, the UI.

One Prefect server (subprocess, temporary PREFECT_HOME, free port) and one serve process for
the module; verdictflow state lives in a temporary home shared by the serve process and the
test, which reads the stored runs back through the repository. No test depends on another
having run before it: each finds its own runs (those that appeared during the test) and its
own documents.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import time
from pathlib import Path

import pytest

from storage.repository import Repository
from tests.deployments import corpus
from tests.deployments.servers import (
    prefect_server,
    run_async,
    serve_process,
    wait_for_deployments,
    wait_for_flow_run,
    wait_for_run,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NAMES = {
    "ingest-documents",
    "verify-dataset",
    "reprocess-on-document-change",
    "calibrate",
    "train-domain-expert",
}


async def _run_deployment(api: str, deployment_id, parameters: dict, timeout_s: float = 300):
    """Create a flow run of a deployment (as the UI's Run button does) and wait for its end."""
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api=api) as client:
        run = await client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
    return await wait_for_run(api, run.id, timeout_s)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """A Prefect server, every deployment of prefect.yaml served, the corpus ingested by one."""
    tmp = tmp_path_factory.mktemp("served")
    home, docs = tmp / "home", tmp / "docs"
    home.mkdir()
    docs.mkdir()
    for name, text in corpus.DOCS.items():
        (docs / f"{name}.txt").write_text(text, encoding="utf-8")
    # top_k=1: each item cites exactly its own document, so "affected" is unambiguous.
    with (
        prefect_server(tmp) as api,
        serve_process(api, home, tmp / "serve.log", VERDICTFLOW_RETRIEVAL__TOP_K="1") as proc,
    ):
        deployments = run_async(wait_for_deployments(api, NAMES))
        if not set(deployments) >= NAMES:
            log = (tmp / "serve.log").read_text(errors="replace")[-4000:]
            pytest.fail(f"deployments not served (exit {proc.poll()}):\n{log}")
        ingest = deployments["ingest-documents"].id
        ingested = run_async(_run_deployment(api, ingest, {"source": {"paths": [str(docs)]}}))
        assert ingested.state.is_completed(), ingested.state
        # The two new documents' events each start a reprocess run (nothing to redo yet).
        for name in corpus.DOCS:
            document = {"document": f"verdictflow.document.{name}.txt"}
            run = run_async(wait_for_flow_run(api, reprocess_id(deployments), parameters=document))
            assert run.state.is_completed(), run.state
        yield {"api": api, "home": home, "tmp": tmp, "docs": docs, "deployments": deployments}


def reprocess_id(deployments: dict):
    return deployments["reprocess-on-document-change"].id


def _repo(home: Path) -> Repository:
    return Repository(corpus.db_url(home))


def _verify_run_ids(repo: Repository) -> set[str]:
    return {r["run_id"] for r in repo.list_runs(limit=1000, kind="verify")}


async def _wait_for_scheduled_runs(api: str, deployment_id, timeout_s: float = 180) -> list:
    """The SCHEDULED flow runs of a deployment, once the server's scheduler has made any."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    deadline = time.monotonic() + timeout_s
    async with PrefectClient(api=api) as client:
        while True:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    )
                ),
            )
            if runs or time.monotonic() > deadline:
                return runs
            await asyncio.sleep(1)


def test_scheduled_deployments_have_their_schedules_and_the_trigger(served):
    from prefect.client.orchestration import PrefectClient

    deployments = served["deployments"]

    async def read():
        async with PrefectClient(api=served["api"]) as client:
            schedules = {
                name: await client.read_deployment_schedules(deployments[name].id)
                for name in ("ingest-documents", "verify-dataset", "reprocess-on-document-change")
            }
            automations = await client.read_automations()
            return schedules, automations

    schedules, automations = run_async(read())
    assert [s.schedule.cron for s in schedules["verify-dataset"]] == ["0 2 * * *"]
    assert [s.schedule.cron for s in schedules["ingest-documents"]] == ["0 1 * * *"]
    assert all(s.active for s in schedules["verify-dataset"] + schedules["ingest-documents"])
    assert schedules["reprocess-on-document-change"] == []
    assert not deployments["verify-dataset"].paused
    # The server's scheduler plans runs of the scheduled deployment: SCHEDULED flow runs, at
    # 02:00 UTC (the cron), in the future. (A broken Prefect/SQLAlchemy pair leaves none.)
    planned = run_async(_wait_for_scheduled_runs(served["api"], deployments["verify-dataset"].id))
    assert planned, "the scheduler made no SCHEDULED run of verify-dataset"
    now = datetime.datetime.now(datetime.UTC)
    for run in planned:
        assert run.state.type.value == "SCHEDULED"
        assert run.deployment_id == deployments["verify-dataset"].id
        start = run.expected_start_time.astimezone(datetime.UTC)
        assert (start.hour, start.minute, start.second) == (2, 0, 0), start
        assert start > now - datetime.timedelta(minutes=5)
    # The event trigger is an automation that runs the reprocess deployment with the doc id.
    reprocess_id = deployments["reprocess-on-document-change"].id
    [automation] = [
        a
        for a in automations
        if any(getattr(x, "deployment_id", None) == reprocess_id for x in a.actions)
    ]
    assert automation.trigger.expect == {"verdictflow.document.changed"}
    assert automation.actions[0].parameters == {"document": "{{ event.resource.id }}"}
    # The form: typed parameters with descriptions and defaults.
    schema = deployments["verify-dataset"].parameter_openapi_schema
    source = schema["definitions"]["DatasetSource"]["properties"]
    assert source["text_column"]["default"] == "text"
    assert "jsonl" in source["path"]["description"].lower()


def test_a_changed_document_reprocesses_only_the_affected_items(served):
    api, home, tmp = served["api"], served["home"], served["tmp"]
    deployments = served["deployments"]
    dataset = corpus.write_jsonl(tmp / "records.jsonl", corpus.ITEMS)
    repo = _repo(home)
    known = _verify_run_ids(repo)

    verify_run = run_async(
        _run_deployment(api, deployments["verify-dataset"].id, {"dataset": {"path": str(dataset)}})
    )
    assert verify_run.state.is_completed(), verify_run.state
    # The run this test made: new since it started, and no reprocessing of another run.
    [original] = [
        r
        for r in repo.list_runs(limit=1000, kind="verify")
        if r["run_id"] not in known and r["parent_run_id"] is None
    ]
    assert original["status"] == "completed"
    before = {v.item_id: v for v in repo.load_item_verdicts(original["run_id"])}
    assert set(before) == {"speaker", "kettle"}
    assert {e.doc_id for c in before["speaker"].claims for e in c.evidence} == {"fjell.txt"}

    # The speaker's document changes; the ingest-documents deployment picks it up and emits
    # verdictflow.document.changed for it alone, which the trigger turns into a reprocess run.
    (served["docs"] / "fjell.txt").write_text(corpus.FJELL_CHANGED, encoding="utf-8")
    sent = datetime.datetime.now(datetime.UTC)
    ingest = deployments["ingest-documents"].id
    ingested = run_async(_run_deployment(api, ingest, {"source": {"paths": [str(served["docs"])]}}))
    assert ingested.state.is_completed(), ingested.state
    reprocess_run = run_async(
        wait_for_flow_run(
            api,
            deployments["reprocess-on-document-change"].id,
            timeout_s=300,
            after=sent,
            parameters={"document": "verdictflow.document.fjell.txt"},
        )
    )
    assert reprocess_run.state.is_completed(), reprocess_run.state

    runs = {r["run_id"]: r for r in repo.list_runs(kind="verify")}
    children = [r for r in runs.values() if r["parent_run_id"] == original["run_id"]]
    assert len(children) == 1 and children[0]["status"] == "completed"
    new = repo.load_item_verdicts(children[0]["run_id"])
    assert [v.item_id for v in new] == ["speaker"]  # the kettle never cited fjell.txt
    assert new[0].p_supported < before["speaker"].p_supported  # 20 hours is no longer backed
    # The old verdicts stay beside the new ones.
    kept = {v.item_id: v for v in repo.load_item_verdicts(original["run_id"])}
    assert kept == before


def test_an_emitted_event_starts_reprocessing_with_the_document_id(served):
    from prefect.events import Event
    from prefect.events.clients import PrefectEventsClient

    api = served["api"]
    reprocess_id = served["deployments"]["reprocess-on-document-change"].id
    sent = datetime.datetime.now(datetime.UTC)

    async def emit_and_wait():
        async with PrefectEventsClient(api_url=api) as events:
            await events.emit(
                Event(
                    event="verdictflow.document.changed",
                    resource={"prefect.resource.id": "verdictflow.document.unknown-doc"},
                )
            )
        return await wait_for_flow_run(
            api,
            reprocess_id,
            after=sent,
            parameters={"document": "verdictflow.document.unknown-doc"},
        )

    run = run_async(emit_and_wait())
    assert run.state.is_completed(), run.state  # nothing cites it: a quick, empty run


def _form_field(page, label: str):
    """The text box under a parameter's label in the Prefect run form."""
    return (
        page.get_by_text(label, exact=True)
        .locator("xpath=ancestor::*[.//textarea][1]//textarea")
        .first
    )


def test_ui_starts_verify_dataset_with_form_parameters_and_shows_it_complete(served):
    import re

    from playwright.sync_api import expect, sync_playwright

    api, home, tmp = served["api"], served["home"], served["tmp"]
    base = api.removesuffix("/api")
    dataset = tmp / "catalogue.csv"
    dataset.write_text(
        "sku,description\n"
        "FJ-1,The Fjell S1 is a portable Bluetooth speaker rated IP67.\n"
        "AK-2,The Aurora K2 kettle holds 1.7 litres.\n",
        encoding="utf-8",
    )
    shots = Path(os.environ.get("VERDICTFLOW_TEST_SCREENSHOTS", tmp))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/deployments", wait_until="networkidle")
            page.get_by_role("link", name="verify-dataset").first.click()
            page.get_by_text("Next Run").wait_for()  # the cron schedule's next run
            page.get_by_role("button", name="Run", exact=True).click()
            page.get_by_text("Custom run").click()
            page.get_by_text("Path (Optional)", exact=True).wait_for()
            page.locator("input[type=text]").first.fill("ui-catalogue-check")  # run name
            _form_field(page, "Path (Optional)").fill(str(dataset))
            _form_field(page, "Id Column (Optional)").fill("sku")
            _form_field(page, "Text Column (Optional)").fill("description")
            page.screenshot(path=str(shots / "ui-form.png"), full_page=True)
            page.get_by_role("button", name="Submit").click()
            page.get_by_role("link", name="ui-catalogue-check").first.click()
            page.wait_for_url(re.compile(r".*/runs/flow-run/.*"))
            page.reload(wait_until="networkidle")  # only the flow run page in the DOM now
            badge = page.locator(".state-badge").first  # the header badge: the run's own state
            expect(badge).to_have_class(
                re.compile(r"state--(completed|failed|crashed|cancelled)"), timeout=300_000
            )
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "ui-run-completed.png"), full_page=True)
            assert "state--completed" in (badge.get_attribute("class") or ""), badge.inner_text()
        finally:
            browser.close()

    repo = _repo(home)
    runs = [r for r in repo.list_runs(limit=1000, kind="verify") if r["status"] == "completed"]
    item_sets = {r["run_id"]: {i.id for i in repo.load_items(r["run_id"])} for r in runs}
    assert {"FJ-1", "AK-2"} in item_sets.values()  # the form's columns were used


POLAR = "The Polar E3 earbuds play for 8 hours on a charge and weigh 5 grams each."
POLAR_CHANGED = "The Polar E3 earbuds play for 3 hours on a charge and weigh 5 grams each."


def _wait_until(predicate, timeout_s: float = 300, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not met in {timeout_s}s")
        time.sleep(0.5)


def test_watch_reingests_a_changed_file_and_the_trigger_reprocesses_its_items(served):
    """``verdictflow watch`` (a real process) -> ingest -> event -> reprocess -> new verdicts."""
    import subprocess

    from deployments.server import stop_process_group
    from tests.deployments.servers import REPO, client_env

    api, home, tmp, docs = served["api"], served["home"], served["tmp"], served["docs"]
    deployments = served["deployments"]
    repo = _repo(home)
    polar = docs / "polar.txt"
    polar.write_text(POLAR, encoding="utf-8")
    started = datetime.datetime.now(datetime.UTC)
    log = tmp / "watch.log"
    with open(log, "ab") as out:
        watcher = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "verdictflow"), "watch", str(docs)],
            cwd=REPO,
            env=client_env(api, home, VERDICTFLOW_RETRIEVAL__TOP_K="1"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Its first ingest of the folder records the new document.
        _wait_until(lambda: "polar.txt" in repo.get_documents(), what="initial ingest")
        first_hash = repo.get_documents()["polar.txt"].content_hash
        # ... and its event's reprocess run (nothing cites polar.txt yet) is over before the
        # item that will cite it is verified.
        document = {"document": "verdictflow.document.polar.txt"}
        first = run_async(
            wait_for_flow_run(api, reprocess_id(deployments), after=started, parameters=document)
        )
        assert first.state.is_completed(), first.state
        dataset = corpus.write_jsonl(
            tmp / "earbuds.jsonl",
            [{"id": "earbuds", "text": "The Polar E3 earbuds play for 8 hours on a charge."}],
        )
        known = _verify_run_ids(repo)
        verify_run = run_async(
            _run_deployment(
                api, deployments["verify-dataset"].id, {"dataset": {"path": str(dataset)}}
            )
        )
        assert verify_run.state.is_completed(), verify_run.state
        [original] = [
            r
            for r in repo.list_runs(limit=1000, kind="verify")
            if r["run_id"] not in known and r["parent_run_id"] is None
        ]
        [before] = repo.load_item_verdicts(original["run_id"])
        assert {e.doc_id for c in before.claims for e in c.evidence} == {"polar.txt"}

        # The file changes on disk; nothing but the watcher notices.
        sent = datetime.datetime.now(datetime.UTC)
        polar.write_text(POLAR_CHANGED, encoding="utf-8")
        _wait_until(
            lambda: repo.get_documents()["polar.txt"].content_hash != first_hash,
            what="the watcher's ingest of the change",
        )
        reprocess_run = run_async(
            wait_for_flow_run(
                api,
                reprocess_id(deployments),
                after=sent,
                parameters=document,
            )
        )
        assert reprocess_run.state.is_completed(), reprocess_run.state
        assert watcher.poll() is None, log.read_text(errors="replace")[-3000:]
    finally:
        stop_process_group(watcher)  # polar.txt stays: removing it would be one more change

    children = [
        r
        for r in repo.list_runs(limit=1000, kind="verify")
        if r["parent_run_id"] == original["run_id"]
    ]
    assert len(children) == 1 and children[0]["status"] == "completed", children
    [after] = repo.load_item_verdicts(children[0]["run_id"])
    assert after.item_id == "earbuds"
    assert {e.doc_id for c in after.claims for e in c.evidence} == {"polar.txt"}
    assert "3 hours" in after.claims[0].evidence[0].text  # the new text was the evidence
    assert after.p_supported < before.p_supported  # 8 hours is no longer backed
    assert before.label.value == "supported" and after.label.value == "contradicted"


JOB_ITEMS = [
    {"id": "job-kettle-volume", "text": "The Aurora K2 kettle holds 1.7 litres."},
    {"id": "job-kettle-boil", "text": "The Aurora K2 boils water in nine minutes."},
]
FINAL_STATES = {"Completed", "Failed", "Crashed", "Cancelled"}


def polled_run_ids(client, flow_run_id: str) -> list[str]:
    """The verify runs ``GET /v1/jobs/{id}`` says the job stored."""
    answer = client.get(f"/v1/jobs/{flow_run_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["run_ids"]


def test_post_jobs_starts_the_served_verify_dataset_and_its_verdicts_are_read_over_http(served):
    """``POST /v1/jobs`` of a real ``verdictflow api`` (PREFECT_API_URL at the module's
    server) starts the served verify-dataset deployment; ``GET /v1/jobs/{id}`` follows it to
    Completed; ``GET /v1/runs`` then holds the run and its verdicts. (Kettle items: they cite
    aurora.txt, which no test changes, so no reprocessing of this run can follow.)"""
    import uuid

    from deployments.server import stop_process_group
    from tests.deployments.api.conftest import start_api
    from tests.experts.test_gate import FAST
    from tests.experts.tiny_models import write_registry

    api, home, tmp = served["api"], served["home"], served["tmp"]
    dataset = corpus.write_jsonl(tmp / "job-records.jsonl", JOB_ITEMS)
    registry = write_registry(tmp / "api-registry.yaml", FAST)  # the API scores nothing here
    server = start_api(
        tmp / "api-home",
        corpus.db_url(home),
        registry,
        extra_env={"PREFECT_API_URL": api, "VERDICTFLOW_API__RATE_PER_S": "0"},
    )
    try:
        key = server.key("verify", "read")
        with server.client(key) as client:
            known = {r["run_id"] for r in client.get("/v1/runs?kind=verify&limit=200").json()}
            started = client.post("/v1/jobs", json={"dataset": {"path": str(dataset)}})
            assert started.status_code == 202, started.text + server.log_tail()
            job = started.json()
            assert job["deployment"] == "verify-dataset/verify-dataset"
            flow_run_id = str(uuid.UUID(job["flow_run_id"]))

            deadline = time.monotonic() + 300
            state = job["state"]
            while state not in FINAL_STATES:
                assert time.monotonic() < deadline, f"job still {state} after 300 s"
                time.sleep(1)
                polled = client.get(f"/v1/jobs/{flow_run_id}")
                assert polled.status_code == 200, polled.text
                assert polled.json()["flow_run_id"] == flow_run_id
                state = polled.json()["state"]
            assert state == "Completed", polled.json()

            runs = client.get("/v1/runs?kind=verify&limit=200").json()
            new = [r["run_id"] for r in runs if r["run_id"] not in known]
            details = [client.get(f"/v1/runs/{run_id}").json() for run_id in new]
            [run] = [
                d
                for d in details
                if {v["id"] for v in d["verdicts"]} == {"job-kettle-volume", "job-kettle-boil"}
            ]
            assert run["status"] == "completed" and run["counts"]["items"] == 2
            # The job names the run it stored.
            assert polled_run_ids(client, flow_run_id) == [run["run_id"]]
            verdicts = {v["id"]: v for v in run["verdicts"]}
            assert verdicts["job-kettle-volume"]["verdict"] == "supported"
            evidence = verdicts["job-kettle-volume"]["claims"][0]["evidence"]
            assert {e["doc_id"] for e in evidence} == {"aurora.txt"}
            history = client.get("/v1/items/job-kettle-boil/verdicts").json()
            assert run["run_id"] in {h["run_id"] for h in history}

            missing = str(uuid.uuid4())
            unknown = client.get(f"/v1/jobs/{missing}")
            assert unknown.status_code == 404 and missing in unknown.json()["detail"]
        entries = server.store.audit_entries(key_id=key.split("_")[1], limit=10)
        assert ("job", flow_run_id) in {(e["action"], e["target"]) for e in entries}
    finally:
        stop_process_group(server.process)
        server.repository.dispose()


def test_the_served_train_domain_expert_deployment_trains_and_registers_one(served):
    """A run of ``train-domain-expert`` (as the UI's Run button makes one) trains a domain
    expert on a small corpus of files and registers it in the served home; its
    ``verdictflow.domain.stale`` trigger ships disabled. The expert is removed afterwards, so
    the module's other tests route as before."""
    import shutil

    from prefect.client.orchestration import PrefectClient

    from tests.experts.test_domain import BANK

    api, home, tmp = served["api"], served["home"], served["tmp"]
    docs = tmp / "bank-docs"
    docs.mkdir(exist_ok=True)
    for name, text in BANK.items():
        (docs / name).write_text(text, encoding="utf-8")
    deployment = served["deployments"]["train-domain-expert"].id
    parameters = {"name": "banking", "corpus": {"paths": [str(docs)]}, "minutes": 0.3}
    try:
        run = run_async(_run_deployment(api, deployment, parameters, timeout_s=600))
        assert run.state.is_completed(), run.state
        registered = (home / "models" / "domains.yaml").read_text()
        assert "name: banking" in registered and "domain_only: true" in registered
        profile = home / "models" / "banking" / "domain.json"
        assert profile.exists() and (home / "models" / "banking" / "model_card.md").exists()
    finally:
        (home / "models" / "domains.yaml").unlink(missing_ok=True)
        shutil.rmtree(home / "models" / "banking", ignore_errors=True)

    async def automations():
        async with PrefectClient(api=api) as client:
            return await client.read_automations()

    [trigger] = [a for a in run_async(automations()) if "train-domain-expert" in a.name]
    assert trigger.enabled is False
