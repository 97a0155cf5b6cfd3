"""The Great Expectations runtime, built once per process: context, datasource, suites.

Great Expectations is imported lazily (its import costs seconds). Suites are defined once with
``$PARAMETER`` placeholders; thresholds come from settings at validation time, so a suite never
needs rebuilding when settings change. Results come back as ``QualityResult`` rows plus the
frame rows that broke each rule.

Cost: GX spends ~6 ms of pure Python per expectation per validation (building its metric
graph), whatever the frame's size, which is most of a one-item request. Three things keep it
down without changing a result: record-level suites first run ``BOOLEAN_ONLY`` and only run
``COMPLETE`` (to name the broken records) when something failed; the validator reads the batch
once.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from dataclasses import dataclass
from typing import Any

from verdictflow.config import get_settings
from verdictflow.contracts import QualityResult

_LOCK = threading.Lock()
_EXAMPLE_CHARS = 120


@dataclass(frozen=True)
class Check:
    """One expectation of a suite: the GX class name, the rule it enforces, its kwargs.

    Kwargs whose value is ``"$name"`` become a ``{"$PARAMETER": name}`` suite parameter.
    """

    expectation: str
    rule: str
    kwargs: tuple[tuple[str, Any], ...]


def check(expectation: str, rule: str, **kwargs: Any) -> Check:
    """Shorthand for a ``Check``; list values are frozen to tuples so checks hash."""
    frozen = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(kwargs.items()))
    return Check(expectation, rule, frozen)


@functools.lru_cache(maxsize=1)
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.data_sources.add_pandas("verdictflow")
    return context


@functools.lru_cache(maxsize=64)
def _batch_definition(frame_name: str) -> Any:
    source = _context().data_sources.get("verdictflow")
    asset = source.add_dataframe_asset(frame_name)
    return asset.add_batch_definition_whole_dataframe(f"{frame_name}-whole")


def _parameter(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return {"$PARAMETER": value[1:]}
    if isinstance(value, tuple):
        return list(value)
    return value


@functools.lru_cache(maxsize=64)
def _suite(name: str, checks: tuple[Check, ...]) -> Any:
    context = _context()  # a suite needs the active context
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name)
    for item in checks:
        cls = getattr(gx.expectations, item.expectation)
        kwargs = {k: _parameter(v) for k, v in item.kwargs}
        suite.add_expectation(cls(**kwargs, meta={"rule": item.rule}))
    return context.suites.add(suite)


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _EXAMPLE_CHARS:
        return value[:_EXAMPLE_CHARS] + f"... ({len(value)} chars)"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return _short(value.item())
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return _short(value)


def validate_frame(
    suite: str,
    frame_name: str,
    frame: Any,
    checks: tuple[Check, ...],
    parameters: dict[str, Any],
    id_column: str | None,
) -> tuple[list[QualityResult], dict[str, str]]:
    """Validate a pandas frame against a (cached) suite.

    Record-level suites (an ``id_column``) report counts and the broken records; aggregate
    suites (no ``id_column``) also report each expectation's observed value.

    Args:
        suite: The gate name recorded on results (inputs, evidence, outputs, batch).
        frame_name: Name of the frame (a GX asset and suite of its own).
        frame: The data, with a RangeIndex.
        checks: The suite's expectations.
        parameters: Values of the ``$name`` suite parameters.
        id_column: Column naming each row's record; unexpected rows map to ids through it.

    Returns:
        One ``QualityResult`` per expectation, and record id -> first rule it broke.
    """
    from great_expectations.validator.v1_validator import Validator

    max_examples = get_settings().quality.max_examples
    frame = frame.reset_index(drop=True)
    # An aggregate suite's observed values come with BASIC; a record-level suite needs nothing
    # beyond pass/fail unless something failed, and then COMPLETE names the broken rows.
    formats = ("BOOLEAN_ONLY", "COMPLETE") if id_column else ("BASIC", "COMPLETE")
    with _LOCK:
        gx_suite = _suite(f"{suite}-{frame_name}", checks)
        validator = Validator(
            batch_definition=_batch_definition(f"{suite}-{frame_name}"),
            batch_parameters={"dataframe": frame},
        )
        for result_format in formats:
            validator.result_format = {"result_format": result_format}
            outcome = validator.validate_expectation_suite(gx_suite, parameters)
            if outcome.success:
                break
    order = {c.rule: i for i, c in enumerate(checks)}
    ranked = sorted(
        outcome.results, key=lambda r: order.get((r.expectation_config.meta or {}).get("rule"), 0)
    )
    results: list[QualityResult] = []
    failed: dict[str, str] = {}
    for res in ranked:
        config = res.expectation_config
        rule = (config.meta or {}).get("rule", config.type)
        info = res.result or {}
        rows = [int(i) for i in info.get("unexpected_index_list") or [] if isinstance(i, int)]
        ids = [str(frame.at[i, id_column]) for i in rows] if id_column else []
        if not res.success:
            for record in ids:
                failed.setdefault(record, rule)
        values = info.get("unexpected_list") or []
        if ids:
            examples = [
                {"id": record, "value": _jsonable(value)}
                for record, value in zip(ids[:max_examples], values[:max_examples], strict=False)
            ]
        else:
            examples = [_jsonable(v) for v in values[:max_examples]]
        if res.exception_info and res.exception_info.get("raised_exception"):
            details_error = res.exception_info.get("exception_message")
        else:
            details_error = None
        details = {
            "rule": rule,
            "kwargs": _jsonable(
                {k: v for k, v in config.kwargs.items() if k not in ("column", "batch_id")}
            ),
        }
        for key in ("observed_value", "element_count", "unexpected_percent"):
            if key in info:
                details[key] = _jsonable(info[key])
        if details_error:
            details["error"] = str(details_error)
        results.append(
            QualityResult(
                suite=suite,
                expectation=config.type,
                column=f"{frame_name}.{config.kwargs.get('column') or _pair(config.kwargs)}",
                success=bool(res.success),
                unexpected_count=int(info.get("unexpected_count") or 0),
                examples=examples,
                details=details,
            )
        )
    return results, failed


def _pair(kwargs: dict[str, Any]) -> str | None:
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}={kwargs['column_B']}"
    return None


def warm_up() -> None:
    """Import Great Expectations and build the context now (e.g. at worker start)."""
    _context()
