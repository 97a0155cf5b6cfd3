"""The deployments named in ``prefect.yaml``, as objects ``serve`` can run in one process.

``prefect.yaml`` is the one list of deployments: ``prefect deploy --all`` reads it for work
pools, ``verdictflow serve`` reads it here. Flows are imported by module path, so the serve
process works from any directory where verdictflow is installed.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import yaml

from verdictflow.config import REPO_ROOT

log = logging.getLogger(__name__)

PREFECT_YAML = REPO_ROOT / "prefect.yaml"


class CatalogError(ValueError):
    """prefect.yaml names something that does not exist or is malformed."""


def deployment_specs(path: Path | None = None) -> list[dict[str, Any]]:
    """The ``deployments`` entries of prefect.yaml."""
    path = path or PREFECT_YAML
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    specs = data.get("deployments") or []
    for spec in specs:
        if not spec.get("name") or ":" not in str(spec.get("entrypoint", "")):
            raise CatalogError(f"{path}: deployment {spec!r} needs a name and an entrypoint")
    return specs


def module_path(entrypoint: str) -> tuple[str, str]:
    """``flows/verify.py:verify_items`` -> ``("flows.verify", "verify_items")``."""
    file, _, attribute = entrypoint.partition(":")
    return file.removesuffix(".py").replace("/", "."), attribute


def load_flow(entrypoint: str) -> Any:
    """The flow object an entrypoint names (imported as a module)."""
    module, attribute = module_path(entrypoint)
    try:
        return getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise CatalogError(f"entrypoint {entrypoint}: module {module} does not exist") from exc
        raise
    except AttributeError:
        raise CatalogError(f"entrypoint {entrypoint}: {module} has no {attribute!r}") from None


def _schedules(spec: dict[str, Any]) -> list[Any]:
    from prefect.schedules import Cron, Interval

    out = []
    for schedule in spec.get("schedules") or []:
        options = {k: schedule[k] for k in ("timezone", "active", "parameters") if k in schedule}
        if "cron" in schedule:
            out.append(Cron(schedule["cron"], day_or=schedule.get("day_or", True), **options))
        elif "interval" in schedule:
            out.append(Interval(schedule["interval"], **options))
        else:
            raise CatalogError(f"deployment {spec['name']}: schedule {schedule!r} not understood")
    return out


def _triggers(spec: dict[str, Any]) -> list[Any]:
    from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    adapter = TypeAdapter(DeploymentTriggerTypes)
    out = []
    for number, trigger in enumerate(spec.get("triggers") or [], start=1):
        trigger = {"name": f"{spec['name']}__automation_{number}", **trigger}
        out.append(adapter.validate_python(trigger))
    return out


def build_deployment(spec: dict[str, Any]) -> Any:
    """A ``RunnerDeployment`` from one prefect.yaml entry."""
    from prefect.types.entrypoint import EntrypointType

    flow = load_flow(spec["entrypoint"])
    return flow.to_deployment(
        name=spec["name"],
        description=spec.get("description"),
        tags=spec.get("tags"),
        version=spec.get("version"),
        parameters=spec.get("parameters") or {},
        schedules=_schedules(spec),
        triggers=_triggers(spec),
        concurrency_limit=spec.get("concurrency_limit"),
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def load_deployments(
    names: list[str] | None = None, path: Path | None = None, strict: bool = False
) -> list[Any]:
    """Every deployment of prefect.yaml (or those named) ready for ``prefect.serve``.

    A deployment whose flow module is missing is skipped with a warning (``strict``: error),
    so the rest are still served.
    """
    specs = deployment_specs(path)
    if names:
        unknown = set(names) - {s["name"] for s in specs}
        if unknown:
            raise CatalogError(f"no deployment named {', '.join(sorted(unknown))} in prefect.yaml")
        specs = [s for s in specs if s["name"] in names]
    deployments = []
    for spec in specs:
        try:
            deployments.append(build_deployment(spec))
        except (CatalogError, ImportError) as exc:
            if strict:
                raise
            log.warning("deployment %s not served: %s", spec["name"], exc)
    return deployments


def serve_all(names: list[str] | None = None, limit: int | None = None) -> None:
    """Serve the deployments in this process until SIGTERM or SIGINT (schedules stay active)."""
    from deployments.serving import serve_deployments
    from verdictflow.config import get_settings

    deployments = load_deployments(names)
    if not deployments:
        raise CatalogError("no deployment could be loaded from prefect.yaml")
    limit = limit if limit is not None else get_settings().orchestration.serve_limit
    serve_deployments(deployments, limit)
