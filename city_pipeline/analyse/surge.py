"""Complaint surge early warning per area x problem type x day.

For each (area, problem type) series, the expected count of a day comes from the trailing
`BASELINE_DAYS` days before it (never the day itself), scaled by the problem type's city-wide
day-of-week effect over the same trailing window. The observed count is compared with a Poisson
distribution of that mean: `p_value` = P(X >= observed), `upper_bound` = its 99th percentile.
A day is an `alert` when the count is improbably high (p < `MAX_P_VALUE`) and not tiny
(observed >= `MIN_OBSERVED`), and only once a full baseline window of data exists.

Everything is array arithmetic on an (series x day) count matrix: cumulative sums give every
trailing window at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import poisson

from city_pipeline.analyse.complaint_types import UNINFORMATIVE_TAGS

BASELINE_DAYS = 28
MAX_P_VALUE = 0.01
MIN_OBSERVED = 3
# Half a complaint over the window: a series never seen before still has a small, non-zero mean.
PSEUDO_COUNT = 0.5
# Shrinks the day-of-week factor towards 1 when a type has few complaints in the window.
WEEKDAY_PRIOR = 2.0


def daily_counts(
    complaints: pd.DataFrame, area_column: str = "subdistrict_code"
) -> tuple[pd.MultiIndex, pd.DatetimeIndex, np.ndarray]:
    """Complaints (opened_date, categories list, area) -> the (area, problem_type) series, the
    days from the first to the last, and the count matrix (series x day), zeros filled in. A
    ticket counts once under each of its informative categories; tickets without an area are
    left out."""
    tagged = complaints[[area_column, "opened_date", "categories"]].explode("categories")
    tagged = tagged.rename(columns={"categories": "problem_type"})
    tagged = tagged[
        tagged[area_column].notna()
        & tagged["problem_type"].notna()
        & ~tagged["problem_type"].isin(UNINFORMATIVE_TAGS)
        & tagged["opened_date"].notna()
    ]
    days = pd.to_datetime(tagged["opened_date"])
    tagged = tagged.assign(opened_date=days)
    counts = tagged.groupby([area_column, "problem_type", "opened_date"]).size()
    if counts.empty:
        return counts.index.droplevel(2), pd.DatetimeIndex([]), np.zeros((0, 0))
    all_days = pd.date_range(days.min(), days.max(), freq="D")
    matrix = counts.unstack("opened_date", fill_value=0).reindex(columns=all_days, fill_value=0)
    return matrix.index, all_days, matrix.to_numpy(dtype=float)


def trailing_sum(matrix: np.ndarray, window: int, lag: int = 1) -> np.ndarray:
    """Sum over columns d-lag-window+1 .. d-lag for every column d (missing days count 0)."""
    padded = np.concatenate([np.zeros((matrix.shape[0], window + lag)), matrix], axis=1)
    cumulative = np.cumsum(padded, axis=1)
    n = matrix.shape[1]
    end = np.arange(n) + window  # index in `padded` of day d-lag
    return cumulative[:, end + 1 - lag] - cumulative[:, end + 1 - lag - window]


def shifted(matrix: np.ndarray, days: int) -> np.ndarray:
    """Column d holds column d-days (zeros before the first day)."""
    padded = np.concatenate([np.zeros((matrix.shape[0], days)), matrix], axis=1)
    return padded[:, : matrix.shape[1]]


def weekday_factor(type_matrix: np.ndarray, window: int) -> np.ndarray:
    """Per (type, day): how busy this weekday was in the trailing window vs an average day."""
    same_weekday = sum(shifted(type_matrix, k) for k in range(7, window + 1, 7))
    expected_same_weekday = trailing_sum(type_matrix, window) * (window // 7) / window
    return (same_weekday + WEEKDAY_PRIOR) / (expected_same_weekday + WEEKDAY_PRIOR)


def detect_surges(
    complaints: pd.DataFrame,
    area_column: str = "subdistrict_code",
    baseline_days: int = BASELINE_DAYS,
    max_p_value: float = MAX_P_VALUE,
    min_observed: int = MIN_OBSERVED,
) -> pd.DataFrame:
    """One row per (area, problem_type, date) with at least one complaint or an alert:
    observed, expected, upper_bound (99 % Poisson quantile), p_value, has_baseline, alert.
    `complaints` uses the mart fct_complaints' columns (opened_date, categories, the area)."""
    series, days, observed = daily_counts(complaints, area_column)
    columns = [area_column, "problem_type", "date", "observed", "expected", "upper_bound"]
    columns += ["p_value", "has_baseline", "alert"]
    if observed.size == 0:
        return pd.DataFrame(columns=columns)
    types = series.get_level_values("problem_type")
    type_codes, type_names = pd.factorize(types)
    type_matrix = np.zeros((len(type_names), observed.shape[1]))
    np.add.at(type_matrix, type_codes, observed)
    factor = weekday_factor(type_matrix, baseline_days)[type_codes]
    expected = (trailing_sum(observed, baseline_days) + PSEUDO_COUNT) / baseline_days * factor
    p_value = poisson.sf(observed - 1, expected)
    has_baseline = np.broadcast_to(np.arange(len(days)) >= baseline_days, observed.shape)
    alert = has_baseline & (p_value < max_p_value) & (observed >= min_observed)
    keep = (observed > 0) | alert
    rows, cols = np.nonzero(keep)
    return pd.DataFrame(
        {
            area_column: series.get_level_values(area_column)[rows],
            "problem_type": types[rows],
            "date": days[cols].date,
            "observed": observed[rows, cols].astype(int),
            "expected": expected[rows, cols],
            "upper_bound": poisson.ppf(0.99, expected[rows, cols]).astype(int),
            "p_value": p_value[rows, cols],
            "has_baseline": has_baseline[rows, cols],
            "alert": alert[rows, cols],
        },
        columns=columns,
    )
