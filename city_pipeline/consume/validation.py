"""Run a mart's Great Expectations suite (GX Core 1.x) on the table about to be published.

The suite is a reviewed JSON file in `expectations/<mart>.json`. GX is imported lazily (it takes
seconds and is only needed here), with analytics and progress bars off, in an ephemeral
context over a pandas DataFrame: GX's SQL path over duckdb-engine is broken upstream, and the marts
are small enough to validate in memory.

Suites may use these parameters (`{"$PARAMETER": "max_rows"}`), computed from the city's partition
window so row-count bounds follow the window: `window_start`, `window_end` (timestamps),
`window_days`, `window_months`, `max_rows`.

Samples of unexpected values are shown in Dagster and in the validation summary, except for the
personal-data expectations: there the matching text is masked, so the check that finds a leak
does not leak it again.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from city_pipeline.consume.catalog import PublishedMart, Window
from city_pipeline.consume.privacy import NATIONAL_ID_PATTERN, PII_REGEXES

if TYPE_CHECKING:  # pandas is imported where used: loading definitions stays fast
    import pandas as pd

PII_EXPECTATIONS = {"expect_column_values_to_not_contain_thai_national_id"}
MAX_SAMPLES = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    observed: str | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    samples: list[str] = field(default_factory=list)
    notes: str | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass(frozen=True)
class ValidationOutcome:
    mart: str
    suite: str
    success: bool
    rows: int
    validated_at: str
    results: list[ExpectationOutcome]
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]

    @property
    def evaluated(self) -> int:
        return len(self.results)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationOutcome:
        results = [ExpectationOutcome(**r) for r in data["results"]]
        return cls(**{**data, "results": results})

    def summary_line(self) -> str:
        status = "passed" if self.success else "FAILED"
        return (
            f"{self.mart}: {status}, {self.evaluated - len(self.failed)}/{self.evaluated} "
            f"expectations, {self.rows:,} rows"
        )

    def markdown(self) -> str:
        """Failed expectations with samples, for the Dagster UI."""
        lines = [f"**{self.summary_line()}** (suite `{self.suite}`)", ""]
        if not self.failed:
            return "\n".join(lines + ["All expectations passed."])
        lines += [
            "| expectation | column | unexpected | observed | samples |",
            "|---|---|---|---|---|",
        ]
        for r in self.failed:
            samples = ", ".join(f"`{s}`" for s in r.samples) or (r.error or "")
            lines.append(
                f"| {r.expectation} | {r.column or ''} | {r.unexpected_count or ''} | "
                f"{_cell(r.observed)} | {_cell(samples)} |"
            )
        return "\n".join(lines)


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")[:200]


def suite_parameters(mart: PublishedMart, window: Window) -> dict[str, Any]:
    import pandas as pd

    return {
        "window_start": pd.Timestamp(window.start),
        "window_end": pd.Timestamp(window.end),
        "window_days": window.days,
        "window_months": window.months,
        "max_rows": mart.max_rows(window),
    }


def load_suite(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no expectation suite {path}: every published mart needs one"
        ) from None


def frame_for_validation(table: pa.Table) -> pd.DataFrame:
    # Dates become datetime64 so range expectations compare them with Timestamp parameters.
    return table.to_pandas(date_as_object=False)


def _gx_context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    import city_pipeline.consume.gx_pii  # noqa: F401  registers the national-ID expectation

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def run_suite(
    frame: pd.DataFrame, suite: dict[str, Any], parameters: dict[str, Any]
) -> list[ExpectationOutcome]:
    """Validate one DataFrame against one suite (a dict in GX 1.x suite JSON format)."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite

    context = _gx_context()
    name = f"{suite.get('name', 'suite')}-{uuid.uuid4().hex[:8]}"
    gx_suite = context.suites.add(
        ExpectationSuite(
            name=name, expectations=suite["expectations"], meta=suite.get("meta") or {}
        )
    )
    batch = (
        context.data_sources.add_pandas(f"ds-{name}")
        .add_dataframe_asset("mart")
        .add_batch_definition_whole_dataframe("whole_table")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"vd-{name}", data=batch, suite=gx_suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format="SUMMARY",
    )
    return [_outcome(r) for r in result.results]


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    exception = result.exception_info or {}
    error = exception.get("exception_message") if exception.get("raised_exception") else None
    observed = details.get("observed_value")
    samples = [str(v) for v in (details.get("partial_unexpected_list") or [])[:MAX_SAMPLES]]
    if _is_pii_expectation(config.type, config.kwargs):
        samples = [mask_pii(s) for s in samples]
    percent = details.get("unexpected_percent")
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(result.success),
        observed=None if observed is None else str(observed)[:300],
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=None if percent is None else round(float(percent), 3),
        samples=samples,
        notes=(config.meta or {}).get("notes"),
        error=error,
    )


def _is_pii_expectation(kind: str, kwargs: dict[str, Any]) -> bool:
    return kind in PII_EXPECTATIONS or kwargs.get("regex") in PII_REGEXES.values()


def mask_pii(text: str) -> str:
    """Keep a sample's context, hide what matched: digits and e-mail characters become '•'."""
    patterns = [NATIONAL_ID_PATTERN, *(re.compile(p) for p in PII_REGEXES.values())]
    for pattern in patterns:
        text = pattern.sub(lambda m: "•" * len(m.group(0)), text)
    return re.sub(r"\d", "•", text)


def validate_table(
    mart: PublishedMart, table: pa.Table, window: Window, suite_path: Path | None = None
) -> ValidationOutcome:
    """Validate the table exactly as it would be published (after privacy scrubbing)."""
    path = suite_path or mart.suite_path
    suite = load_suite(path)
    parameters = suite_parameters(mart, window)
    results = run_suite(frame_for_validation(table), suite, parameters)
    return ValidationOutcome(
        mart=mart.name,
        suite=path.name,
        success=all(r.success for r in results) and bool(results),
        rows=table.num_rows,
        validated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        results=results,
        parameters={k: str(v) for k, v in parameters.items()},
    )
