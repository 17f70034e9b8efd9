"""A GX Core 1.x expectation that no Thai national ID number is left in a text column.

A regex finds 13-digit numbers but cannot test the mod-11 check digit, so the check lives in a
small custom map metric that reuses the scrubber's detector (`privacy.contains_national_id`).
Importing this module registers `expect_column_values_to_not_contain_thai_national_id`; only
`validation.py` imports it, lazily, because importing GX takes seconds.
"""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from city_pipeline.consume.privacy import contains_national_id


class ColumnValuesHaveNoThaiNationalId(ColumnMapMetricProvider):
    condition_metric_name = "column_values.no_thai_national_id"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: object) -> pd.Series:  # noqa: N805 (GX API)
        return ~contains_national_id(column)


class ExpectColumnValuesToNotContainThaiNationalId(ColumnMapExpectation):
    """Expect no value to contain a 13-digit Thai national ID with a valid check digit."""

    map_metric = "column_values.no_thai_national_id"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
