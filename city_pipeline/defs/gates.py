"""What may publish: the checks that hold a mart back, and the alert that says so.

A mart is held back when its GX suite fails (`published/<mart>` validates it) or when a check of
error severity failed, in its latest execution, on the mart or on any dbt model or Analyse step
above it (a dbt test, or an Analyse step's `output_written` check when its model failed). Every
reason names the check, the column and a few failing rows, so the operator can act without
opening the UI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from city_pipeline import alerts
from city_pipeline.consume.validation import ValidationOutcome
from city_pipeline.settings import Settings

CURATE_GROUP = "curate"
ANALYSE_GROUP = "analyse"
# Groups whose error-severity checks hold back the marts below them.
GATED_GROUPS = frozenset({CURATE_GROUP, ANALYSE_GROUP})
SAMPLE_ROWS = 5


def dbt_ancestors(graph: Any, key: dg.AssetKey) -> set[dg.AssetKey]:
    """The dbt and Analyse assets at or above `key` (groups curate and analyse), the mart itself
    included."""
    found, todo = set(), [key]
    while todo:
        current = todo.pop()
        if current in found or not graph.has(current):
            continue
        node = graph.get(current)
        if node.group_name not in GATED_GROUPS:
            continue
        found.add(current)
        todo.extend(node.parent_keys)
    return found


def failed_dbt_tests(
    context: dg.AssetExecutionContext, mart: dg.AssetKey, settings: Settings
) -> list[dict[str, Any]]:
    """Reasons to hold `mart` back: checks of error severity whose latest execution failed, on
    the mart or on a dbt model or Analyse step above it."""
    graph = context.job_def.asset_layer.asset_graph
    above = dbt_ancestors(graph, mart)
    keys = [k for k in graph.asset_check_keys if k.asset_key in above]
    if not keys:
        return []
    latest = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    reasons = []
    for key in sorted(latest, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        evaluation = _failed_evaluation(latest[key])
        if evaluation is None:
            continue
        if graph.get(key.asset_key).group_name == ANALYSE_GROUP:
            reasons.append(analyse_reason(key, evaluation.metadata))
        else:
            reasons.append(dbt_reason(key, evaluation.metadata, settings))
    return reasons


def _failed_evaluation(record: Any) -> Any:
    """The check evaluation when it failed with error severity, else None."""
    if record.status.value != "FAILED" or record.event is None:
        return None
    evaluation = record.event.dagster_event.event_specific_data
    if getattr(evaluation, "severity", None) != dg.AssetCheckSeverity.ERROR:
        return None
    return evaluation


def dbt_reason(
    key: dg.AssetCheckKey, metadata: Mapping[str, Any], settings: Settings
) -> dict[str, Any]:
    def value(name: str) -> Any:
        item = metadata.get(name)
        return getattr(item, "value", item)

    unique_id = value("unique_id")
    failed_rows = value("dagster_dbt/failed_row_count")
    column = test_column(unique_id)
    on = key.asset_key.to_user_string()
    return {
        "check": key.name,
        "kind": "dbt test",
        "asset": on,
        "column": column,
        "failed_rows": failed_rows,
        "samples": dbt_failure_samples(value("invocation_id"), unique_id, settings),
        "summary": f"dbt test {key.name} on {on}"
        + (f" column {column}" if column else "")
        + (f": {failed_rows} failing row(s)" if failed_rows is not None else " failed"),
    }


def analyse_reason(key: dg.AssetCheckKey, metadata: Mapping[str, Any]) -> dict[str, Any]:
    error = getattr(metadata.get("error"), "value", metadata.get("error")) or "see the run log"
    on = key.asset_key.to_user_string()
    return {
        "check": key.name,
        "kind": "analyse step",
        "asset": on,
        "column": None,
        "failed_rows": None,
        "samples": [],
        "summary": f"analyse step {on} failed: {error}",
    }


def validation_reasons(outcome: ValidationOutcome) -> list[dict[str, Any]]:
    return [
        {
            "check": f"gx_{outcome.mart}",
            "kind": "expectation",
            "expectation": result.expectation,
            "column": result.column,
            "failed_rows": result.unexpected_count,
            "samples": result.samples,
            "error": result.error,
            "summary": f"expectation {result.label} failed"
            + (f" ({result.unexpected_count} row(s))" if result.unexpected_count else ""),
        }
        for result in outcome.failed
    ]


# --- dbt test details: the column from the manifest, failing rows from the kept run results ----


@cache
def _manifest_nodes(path: str, mtime: float) -> dict[str, Any]:
    return json.loads(Path(path).read_text("utf-8")).get("nodes", {})


def test_column(unique_id: str | None) -> str | None:
    from city_pipeline.defs.curate import CURATE_PROJECT

    path = CURATE_PROJECT.manifest_path
    if not unique_id or not path.exists():
        return None
    node = _manifest_nodes(str(path), path.stat().st_mtime).get(unique_id, {})
    return node.get("column_name") or (node.get("test_metadata") or {}).get("kwargs", {}).get(
        "column_name"
    )


def dbt_failure_samples(
    invocation_id: str | None, unique_id: str | None, settings: Settings
) -> list[dict[str, Any]]:
    """A few rows the failed test returned: its compiled SQL from the invocation's kept
    run_results.json (a failed test keeps its target folder), run read-only on the warehouse.
    Best effort: an empty list when the artifacts are gone."""
    compiled = _compiled_test_sql(invocation_id, unique_id)
    if compiled is None or not settings.warehouse_path.exists():
        return []
    import duckdb

    try:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            cursor = con.execute(f"select * from ({compiled}) limit {SAMPLE_ROWS}")
            names = [d[0] for d in cursor.description]
            return [
                {n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()
            ]
    except duckdb.Error:
        return []


def _compiled_test_sql(invocation_id: str | None, unique_id: str | None) -> str | None:
    from city_pipeline.defs.curate import CURATE_PROJECT

    if not invocation_id or not unique_id:
        return None
    target = CURATE_PROJECT.project_dir / CURATE_PROJECT.target_path
    results = sorted(target.glob("*/run_results.json"), key=os.path.getmtime, reverse=True)
    for path in results[:20]:
        payload = json.loads(path.read_text("utf-8"))
        if payload.get("metadata", {}).get("invocation_id") != invocation_id:
            continue
        for result in payload.get("results", []):
            if result.get("unique_id") == unique_id:
                return result.get("compiled_code")
    return None


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


# --- the alert ---------------------------------------------------------------------------------


def describe_hold(hold: Mapping[str, Any]) -> str:
    lines = [f"{hold['mart']} held back (last good version kept, marked stale):"]
    for reason in hold["reasons"]:
        lines.append(f"  - {reason['summary']}")
        for sample in reason.get("samples") or []:
            lines.append(f"      e.g. {json.dumps(sample, ensure_ascii=False, default=str)[:300]}")
    return "\n".join(lines)


def alert_held_back(settings: Settings, hold: Mapping[str, Any], run_id: str) -> None:
    """Same channel as failed runs (`city_pipeline/alerts.py`)."""
    alert = alerts.new_alert(
        "mart_held_back",
        settings,
        mart=hold["mart"],
        run_id=run_id,
        held_since=hold["held_since"],
        reasons=hold["reasons"],
    )
    alerts.send(settings, alert)
