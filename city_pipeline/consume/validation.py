"""Run a mart's Great Expectations suite (GX Core 1.x) on the table about to be published.

The suite is a reviewed JSON file in `expectations/<mart>.json`. GX is imported lazily (it takes
seconds and is only needed here), with analytics and progress bars off, in an ephemeral context
over pandas DataFrames (GX's SQL path over duckdb-engine is broken upstream). A mart is never
turned into one DataFrame (2 M complaints would take 6 GB); GX sees it in three shapes, each
holding only the columns its expectations need:

- schema expectations (`expect_table_columns_to_match_set`, ...): an empty frame with every column;
- row-local map expectations (not null, in set, between, regexes, no national ID, column pairs):
  chunks of `CHUNK_ROWS` rows, streamed from Arrow or Parquet; GX validates each chunk and the
  counts are merged exactly as GX computes them for one frame (`mostly` included), with the first
  unexpected values in row order as samples;
- everything else, e.g. uniqueness and row counts: the whole table, but only the columns the
  expectation names (a frame with no columns for a row count).

Suites may use these parameters (`{"$PARAMETER": "max_rows"}`), computed from the city's partition
window so row-count bounds follow the window: `window_start`, `window_end` (timestamps),
`window_days`, `window_months`, `max_rows`.

Samples of unexpected values are shown in Dagster and in the validation summary, except for the
personal-data expectations: there the matching text is masked, so the check that finds a leak
does not leak it again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from city_pipeline.consume.catalog import PublishedMart, Window
from city_pipeline.consume.privacy import NATIONAL_ID_PATTERN, PII_REGEXES

if TYPE_CHECKING:  # pandas is imported where used: loading definitions stays fast
    import pandas as pd

PII_EXPECTATIONS = {"expect_column_values_to_not_contain_thai_national_id"}
MAX_SAMPLES = 5
# Rows per chunk of the row-local expectations: ~100-300 MB of pandas for the widest mart.
CHUNK_ROWS = 100_000
INDEX_KEY = "city_pipeline_index"

# Expectations on the table's columns only: validated on an empty frame with every column.
SCHEMA_EXPECTATIONS = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_column_count_to_equal",
        "expect_table_column_count_to_be_between",
        "expect_column_to_exist",
    }
)
# Map expectations whose verdict on a row depends on that row alone: validated chunk by chunk.
# Anything not listed (uniqueness, row counts, aggregates, ...) sees the whole table.
ROW_LOCAL_EXPECTATIONS = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
        "expect_column_values_to_not_contain_thai_national_id",
    }
)
ROW_COUNT_EXPECTATIONS = frozenset(
    {"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"}
)


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


class MartSource:
    """The rows GX validates, read a few columns at a time: an Arrow table or a Parquet file."""

    def __init__(self, table: pa.Table | None = None, path: Path | None = None) -> None:
        self._table, self._file = table, None if path is None else pq.ParquetFile(path)
        self.schema: pa.Schema = table.schema if table is not None else self._file.schema_arrow
        self.num_rows: int = table.num_rows if table is not None else self._file.metadata.num_rows

    def columns(self, names: list[str]) -> pa.Table:
        """The whole table, only these columns (none: just the row count)."""
        if not names:
            return pa.table({"_": pa.nulls(self.num_rows)}).drop_columns(["_"])
        if self._table is not None:
            return self._table.select(names)
        return self._file.read(columns=names)

    def chunks(self, names: list[str], rows: int) -> Iterator[pa.Table]:
        """The rows in order, `rows` at a time; always at least one (maybe empty) chunk."""
        empty = True
        if self._table is not None:
            batches = self._table.select(names).to_batches(max_chunksize=rows)
        else:
            batches = self._file.iter_batches(batch_size=rows, columns=names)
        for batch in batches:
            empty = False
            yield pa.Table.from_batches([batch])
        if empty:
            yield self.schema.empty_table().select(names)


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


def _expectation_columns(kwargs: dict[str, Any]) -> list[str] | None:
    """The columns an expectation reads, or None when that is not known (then: all of them)."""
    if kwargs.get("row_condition"):
        return None
    names = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    names += list(kwargs.get("column_list") or [])
    return [str(n) for n in names] if names else None


@dataclass
class _Group:
    """Expectations GX validates together on one shape of the table."""

    kind: str  # "schema", "rows" (chunked) or "whole"
    indices: list[int] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def add(self, index: int, columns: list[str]) -> None:
        self.indices.append(index)
        self.columns += [c for c in columns if c not in self.columns]


def _plan(expectations: list[dict[str, Any]], schema: pa.Schema) -> list[_Group]:
    everything = list(schema.names)
    schema_group, rows, whole = _Group("schema"), _Group("rows"), _Group("whole")
    for index, expectation in enumerate(expectations):
        kind, kwargs = expectation["type"], expectation.get("kwargs") or {}
        columns = _expectation_columns(kwargs)
        if kind in SCHEMA_EXPECTATIONS:
            schema_group.add(index, everything)
        elif kind in ROW_LOCAL_EXPECTATIONS and columns is not None:
            rows.add(index, columns)
        elif kind in ROW_COUNT_EXPECTATIONS:
            whole.add(index, [])
        else:
            whole.add(index, everything if columns is None else columns)
    groups = [g for g in (schema_group, rows, whole) if g.indices]
    for group in groups:  # a column the table lacks fails its expectation inside GX, as usual
        group.columns = [c for c in group.columns if c in schema.names]
    return groups


def run_suite_chunked(
    source: MartSource,
    suite: dict[str, Any],
    parameters: dict[str, Any],
    chunk_rows: int = CHUNK_ROWS,
) -> list[ExpectationOutcome]:
    """Validate a table against one suite without ever holding it as one DataFrame (module doc).

    Outcomes come back in the suite's order, one per expectation, as GX reports them for the
    whole table."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite

    context = _gx_context()
    expectations = suite["expectations"]
    batch = (
        context.data_sources.add_pandas(f"ds-{uuid.uuid4().hex[:8]}")
        .add_dataframe_asset("mart")
        .add_batch_definition_whole_dataframe("whole_table")
    )
    outcomes: dict[int, ExpectationOutcome] = {}
    for group in _plan(expectations, source.schema):
        name = f"{suite.get('name', 'suite')}-{group.kind}-{uuid.uuid4().hex[:8]}"
        tagged = [  # GX reorders results; the tag maps each back to its expectation
            {**expectations[i], "meta": {**(expectations[i].get("meta") or {}), INDEX_KEY: i}}
            for i in group.indices
        ]
        gx_suite = context.suites.add(
            ExpectationSuite(name=name, expectations=tagged, meta=suite.get("meta") or {})
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"vd-{name}", data=batch, suite=gx_suite)
        )

        def run(table: pa.Table, definition: Any = definition) -> list[Any]:
            result = definition.run(
                batch_parameters={"dataframe": frame_for_validation(table)},
                expectation_parameters=parameters,
                result_format="SUMMARY",
            )
            return list(result.results)

        if group.kind == "schema":
            results = [run(source.schema.empty_table())]
        elif group.kind == "rows":
            results = [run(chunk) for chunk in source.chunks(group.columns, chunk_rows)]
        else:
            results = [run(source.columns(group.columns))]
        by_index: dict[int, list[Any]] = {}
        for chunk in results:
            for result in chunk:
                by_index.setdefault(result.expectation_config.meta[INDEX_KEY], []).append(result)
        for index, per_chunk in by_index.items():
            outcomes[index] = _merged(per_chunk, parameters)
    return [outcomes[i] for i in range(len(expectations))]


def _merged(results: list[Any], parameters: dict[str, Any]) -> ExpectationOutcome:
    """One outcome from the same expectation's results on consecutive chunks of the table.

    Counts add up; success is GX's own rule for map expectations: vacuously true without rows
    (or without non-missing rows), else (considered - unexpected) / considered >= mostly; the
    samples are the first unexpected values in row order, as GX lists them for one frame."""
    if len(results) == 1:
        return _outcome(results[0])
    first = _outcome(results[0])
    errors = [r.exception_info for r in results if (r.exception_info or {}).get("raised_exception")]
    if errors:
        return dataclasses.replace(
            first, success=False, error=errors[0].get("exception_message") or "error"
        )
    details = [r.result or {} for r in results]
    elements = sum(d.get("element_count") or 0 for d in details)
    missing = sum(d.get("missing_count") or 0 for d in details)
    counts = [d.get("unexpected_count") for d in details]
    unexpected = None if all(c is None for c in counts) else sum(c or 0 for c in counts)
    considered = elements - missing
    mostly = _resolved(results[0].expectation_config.kwargs.get("mostly", 1.0), parameters)
    if unexpected is None or elements == 0 or considered == 0:
        success = True
    else:
        success = (considered - unexpected) / considered >= float(mostly)
    samples = [s for o in map(_outcome, results) for s in o.samples][:MAX_SAMPLES]
    percent = None if unexpected is None or considered == 0 else unexpected / considered * 100
    return dataclasses.replace(
        first,
        success=success,
        unexpected_count=unexpected,
        unexpected_percent=None if percent is None else round(percent, 3),
        samples=samples,
    )


def _resolved(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


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
    mart: PublishedMart,
    table: pa.Table,
    window: Window,
    suite_path: Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ValidationOutcome:
    """Validate the table exactly as it would be published (after privacy scrubbing)."""
    return validate_source(mart, MartSource(table=table), window, suite_path, chunk_rows)


def validate_parquet(
    mart: PublishedMart,
    path: Path,
    window: Window,
    suite_path: Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ValidationOutcome:
    """Validate a Parquet file (the scrubbed mart about to be published), a few columns and
    `chunk_rows` rows at a time."""
    return validate_source(mart, MartSource(path=path), window, suite_path, chunk_rows)


def validate_source(
    mart: PublishedMart,
    source: MartSource,
    window: Window,
    suite_path: Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ValidationOutcome:
    path = suite_path or mart.suite_path
    suite = load_suite(path)
    parameters = suite_parameters(mart, window)
    results = run_suite_chunked(source, suite, parameters, chunk_rows)
    return ValidationOutcome(
        mart=mart.name,
        suite=path.name,
        success=all(r.success for r in results) and bool(results),
        rows=source.num_rows,
        validated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        results=results,
        parameters={k: str(v) for k, v in parameters.items()},
    )
