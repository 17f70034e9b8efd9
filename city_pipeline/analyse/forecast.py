"""Next-day 24-hour mean PM2.5 per station and for the city.

The model is one pooled scikit-learn Ridge regression over all stations. The features of target
day t use only values up to day t-1 (the day the forecast is issued): lags 1..7, trailing means
over 3/7/14 days, the regional median and mean across every station on day t-1, and the target's
day of year as sin/cos. A missing lag or mean takes the station's 14-day mean (else the regional
median). Ridge was chosen over HistGradientBoostingRegressor after a backtest on the PCD history
2022-2023 (docs/analysis.md): it scored better (MAE 4.39 against 4.52-4.56 µg/m³) and retrains in
milliseconds instead of seconds, which keeps a weekly-retrain backtest over 13 years quick.

Two baselines are always computed: persistence (tomorrow = the last value of the past 7 days) and
climatology (the station's day-of-year mean over the training data, smoothed over ±7 days).

The rolling-origin backtest retrains every `retrain_days` (7) on rows dated before the origin and
forecasts the days until the next retrain, so no forecast ever sees data on or after its target
day. What the pipeline *publishes* on a day is the model's forecast only where, over the station's
previous `FALLBACK_WINDOW_DAYS` evaluated days (all before that day), the model's MAE was lower
than persistence's; otherwise persistence, and the `method` column says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from city_pipeline.analyse import aqi

MODEL_NAME = "pm25_forecast"
LAGS = tuple(range(1, 8))
ROLLING = (3, 7, 14)
FEATURES = [
    *(f"lag_{k}" for k in LAGS),
    *(f"mean_{n}" for n in ROLLING),
    "region_median",
    "region_mean",
    "doy_sin",
    "doy_cos",
]
PERSISTENCE_MAX_AGE_DAYS = 7
TRAIN_WINDOW_DAYS = 3 * 365  # recent years only: sites and sources change, and it keeps fits fast
RETRAIN_DAYS = 7
FALLBACK_WINDOW_DAYS = 365
FALLBACK_MIN_DAYS = 28  # fewer past forecasts than this are no evidence: publish persistence
MIN_TRAIN_ROWS = 200
INTERVAL = (0.1, 0.9)  # the published 80% interval
# Columns of the published `pm25_forecast` (its suite in expectations/ lists the same).
OUTPUT_COLUMNS = (
    "forecast_date",
    "issued_on",
    "scope",
    "station_id",
    "pm25_forecast",
    "pm25_lower",
    "pm25_upper",
    "persistence_pm25",
    "method",
    "aqi",
    "aqi_band",
    "aqi_category_th",
    "aqi_category_en",
    "aqi_colour",
    "aqi_colour_hex",
    "interval_level",
    "model_version",
)
MODEL_PARAMS = {"alpha": 1.0}


@dataclass(frozen=True)
class Panel:
    """Daily values as a dense day × station matrix (NaN = no value); row t is `days[t]`."""

    days: pd.DatetimeIndex
    stations: list[str]
    values: np.ndarray

    @property
    def flat_days(self) -> np.ndarray:
        return np.repeat(self.days.to_numpy(), len(self.stations))

    @property
    def flat_stations(self) -> np.ndarray:
        return np.tile(np.asarray(self.stations, dtype=object), len(self.days))


def make_panel(rows: pd.DataFrame, extra_days: int = 0) -> Panel:
    """`rows` (station_id, date, pm25) as a panel from the first day to the last + extra_days."""
    wide = rows.pivot_table(index="date", columns="station_id", values="pm25", aggfunc="mean")
    days = pd.date_range(wide.index.min(), wide.index.max() + pd.Timedelta(days=extra_days))
    wide = wide.reindex(days)
    return Panel(days, [str(s) for s in wide.columns], wide.to_numpy(dtype=float))


def _shift(values: np.ndarray, k: int) -> np.ndarray:
    shifted = np.full_like(values, np.nan)
    shifted[k:] = values[:-k]
    return shifted


def persistence(panel: Panel) -> np.ndarray:
    """Day × station: the last value seen in the 7 days before each day."""
    filled = pd.DataFrame(panel.values).ffill(limit=PERSISTENCE_MAX_AGE_DAYS - 1).to_numpy()
    return _shift(filled, 1)


def feature_matrix(panel: Panel) -> np.ndarray:
    """(days × stations, FEATURES) for every target day; row t*S+s uses days < t only."""
    values = panel.values
    frame = pd.DataFrame(values)
    columns = [_shift(values, k) for k in LAGS]
    columns += [_shift(frame.rolling(n, min_periods=1).mean().to_numpy(), 1) for n in ROLLING]
    with np.errstate(all="ignore"):
        seen = np.isfinite(values).any(axis=1)
        median = np.full(len(values), np.nan)
        mean = np.full(len(values), np.nan)
        median[seen] = np.nanmedian(values[seen], axis=1)
        mean[seen] = np.nanmean(values[seen], axis=1)
    shape = values.shape
    columns += [np.broadcast_to(_shift(v[:, None], 1), shape) for v in (median, mean)]
    angle = 2 * np.pi * (panel.days.dayofyear.to_numpy() - 1) / 365.25
    columns += [np.broadcast_to(f(angle)[:, None], shape) for f in (np.sin, np.cos)]
    return _impute(np.stack([c.reshape(-1) for c in columns], axis=1))


def _impute(x: np.ndarray) -> np.ndarray:
    """Missing lags and means take the 14-day mean, else the regional median (Ridge needs
    numbers; rows without any recent value are never trained on nor scored)."""
    mean_14, region = FEATURES.index("mean_14"), FEATURES.index("region_median")
    fill = np.where(np.isfinite(x[:, mean_14]), x[:, mean_14], x[:, region])
    for column in range(FEATURES.index("region_median")):
        missing = ~np.isfinite(x[:, column])
        x[missing, column] = fill[missing]
    return x


def new_estimator():
    from sklearn.linear_model import Ridge

    return Ridge(**MODEL_PARAMS)


def single_threaded():
    """Hundreds of small Ridge fits: BLAS threads only spin against each other on a busy
    machine (measured: one thread keeps the 13-year backtest at seconds, not minutes)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


class Climatology:
    """Per-station day-of-year means of everything added so far (added in date order)."""

    def __init__(self, stations: int) -> None:
        self.sums = np.zeros((366, stations))
        self.counts = np.zeros((366, stations))

    def add(self, doy: np.ndarray, values: np.ndarray) -> None:
        np.add.at(self.sums, doy, np.nan_to_num(values))
        np.add.at(self.counts, doy, np.isfinite(values))

    def means(self) -> np.ndarray:
        """366 × stations, smoothed over ±7 days around the year (few years are noisy)."""
        kernel = np.ones(15)

        def smooth(x: np.ndarray) -> np.ndarray:
            padded = np.concatenate([x[-7:], x, x[:7]])
            return np.apply_along_axis(lambda c: np.convolve(c, kernel, "valid"), 0, padded)

        with np.errstate(all="ignore"):
            return smooth(self.sums) / smooth(self.counts)


def backtest(
    panel: Panel,
    first_target: int,
    stations: np.ndarray | None = None,
    retrain_days: int = RETRAIN_DAYS,
    train_window_days: int = TRAIN_WINDOW_DAYS,
) -> pd.DataFrame:
    """Rolling-origin forecasts for every day from index `first_target` on.

    Rows: date, station_id, actual, model, persistence, climatology; one per evaluated station-day
    (actual and persistence known). `stations` is a boolean mask of the stations to train on and
    evaluate (default all)."""
    n_days, n_stations = panel.values.shape
    keep = np.ones(n_stations, bool) if stations is None else np.asarray(stations, bool)
    x = feature_matrix(panel)
    y = panel.values.reshape(-1)
    last = persistence(panel).reshape(-1)
    usable = np.isfinite(y) & np.isfinite(last) & np.isfinite(x).all(axis=1)
    usable &= np.tile(keep, n_days)
    with single_threaded():
        model, clim = _rolling_fits(
            panel, x, y, usable, first_target, retrain_days, train_window_days
        )
    rows = np.arange(first_target * n_stations, n_days * n_stations)
    rows = rows[usable[rows]]
    result = pd.DataFrame(
        {
            "date": panel.flat_days[rows],
            "station_id": panel.flat_stations[rows],
            "actual": y[rows],
            "model": model[rows],
            "persistence": last[rows],
            "climatology": clim[rows],
        }
    )
    # No fitted model yet (too little history): the model column repeats persistence.
    result["model"] = result["model"].fillna(result["persistence"])
    return result


def _rolling_fits(panel, x, y, usable, first_target, retrain_days, train_window_days):
    """Model and climatology forecasts of every row, refitted every `retrain_days` days on
    rows dated before each origin."""
    n_days, n_stations = panel.values.shape
    doy = panel.days.dayofyear.to_numpy() - 1
    climate = Climatology(n_stations)
    climate_until = 0
    model = np.full(y.shape, np.nan)
    clim = np.full(y.shape, np.nan)
    for origin in range(first_target, n_days, retrain_days):
        climate.add(doy[climate_until:origin], panel.values[climate_until:origin])
        climate_until = origin
        start = max(0, origin - train_window_days) * n_stations
        train = np.arange(start, origin * n_stations)[usable[start : origin * n_stations]]
        block = np.arange(origin * n_stations, min(origin + retrain_days, n_days) * n_stations)
        block = block[usable[block]]
        if len(train) >= MIN_TRAIN_ROWS and len(block):
            estimator = new_estimator().fit(x[train], y[train])
            model[block] = estimator.predict(x[block])
        means = climate.means()
        days = slice(origin * n_stations, min(origin + retrain_days, n_days) * n_stations)
        clim[days] = means[doy[origin : origin + retrain_days]].reshape(-1)
    return model, clim


def choose_method(
    forecasts: pd.DataFrame,
    window_days: int = FALLBACK_WINDOW_DAYS,
    min_days: int = FALLBACK_MIN_DAYS,
) -> pd.DataFrame:
    """Add `method` and `published`: per station and day, the model where its MAE over the
    station's previous `window_days` calendar days (strictly before the day) beat persistence's."""
    data = forecasts.sort_values(["station_id", "date"]).reset_index(drop=True)
    data["model_error"] = (data["model"] - data["actual"]).abs()
    data["persistence_error"] = (data["persistence"] - data["actual"]).abs()
    trailing = (
        data.set_index("date")
        .groupby("station_id")[["model_error", "persistence_error"]]
        .rolling(f"{window_days}D", closed="left")
        .agg({"model_error": ["sum", "count"], "persistence_error": "sum"})
    )
    trailing.columns = ["model_sum", "count", "persistence_sum"]
    trailing = trailing.reset_index(drop=True).fillna(0)
    use_model = (trailing["count"] >= min_days) & (
        trailing["model_sum"] < trailing["persistence_sum"]
    )
    data["method"] = np.where(use_model.to_numpy(), "model", "persistence")
    data["published"] = np.where(use_model.to_numpy(), data["model"], data["persistence"])
    return data.drop(columns=["model_error", "persistence_error"])


def _method_summary(methods: pd.Series) -> str:
    kinds = set(methods)
    return kinds.pop() if len(kinds) == 1 else "mixed"


def metrics(published: pd.DataFrame) -> dict[str, Any]:
    """Scores of what was published (fallback included) against persistence and climatology."""
    n = len(published)
    if n == 0:
        return {
            "n": 0,
            "mae": None,
            "rmse": None,
            "persistence_mae": None,
            "persistence_rmse": None,
            "climatology_mae": None,
            "skill": None,
            "category_accuracy": None,
            "method": None,
            "model_share": None,
        }
    error = published["published"] - published["actual"]
    base = published["persistence"] - published["actual"]
    clim = (published["climatology"] - published["actual"]).abs()
    mae, persistence_mae = float(error.abs().mean()), float(base.abs().mean())
    band_forecast = aqi.pm25_band(published["published"].clip(lower=0), published["date"])
    band_actual = aqi.pm25_band(published["actual"].clip(lower=0), published["date"])
    latest = published.sort_values("date")["method"].iloc[-1]
    return {
        "n": n,
        "mae": round(mae, 3),
        "rmse": round(float(np.sqrt((error**2).mean())), 3),
        "persistence_mae": round(persistence_mae, 3),
        "persistence_rmse": round(float(np.sqrt((base**2).mean())), 3),
        "climatology_mae": round(float(clim.mean()), 3) if clim.notna().any() else None,
        "skill": round(1 - mae / persistence_mae, 4) if persistence_mae > 0 else None,
        "category_accuracy": round(float((band_forecast == band_actual).mean()), 4),
        "method": _method_summary(published["method"]),
        "method_latest": latest,
        "model_share": round(float((published["method"] == "model").mean()), 4),
    }


def evaluate(
    rows: pd.DataFrame,
    warmup_days: int = 180,
    min_station_days: int = 180,
    since: pd.Timestamp | None = None,
    retrain_days: int = RETRAIN_DAYS,
) -> dict[str, Any]:
    """The `evaluate forecast` contract: backtest every station with at least `min_station_days`
    values, forecasting each day after the first `warmup_days` days of the data (or from
    `since`, if later), and score what would have been published."""
    panel = make_panel(rows.dropna(subset=["pm25"]))
    counts = np.isfinite(panel.values).sum(axis=0)
    eligible = counts >= min_station_days
    # The warm-up counts from the file's first date, blank rows included.
    first = warmup_days - int((panel.days[0] - rows["date"].min()).days)
    if since is not None:
        first = max(first, int((pd.Timestamp(since) - panel.days[0]).days))
    result: dict[str, Any] = {
        "overall": metrics(pd.DataFrame(columns=["published"])),
        "stations": {},
    }
    if not eligible.any() or first >= len(panel.days):
        return result
    published = choose_method(backtest(panel, first, eligible, retrain_days))
    result["overall"] = metrics(published)
    for station, group in published.groupby("station_id", sort=True):
        result["stations"][str(station)] = metrics(group)
    return result


# --- training and inference for the pipeline -----------------------------------------------

BACKTEST_DAYS = 2 * 365  # the last year decides each station's method from the year before it
SCORED_DAYS = 365


@dataclass
class TrainedForecast:
    """A fitted model and what its backtest says about it (written into the model card)."""

    estimator: Any
    metrics: dict[str, Any]
    station_metrics: dict[str, dict[str, Any]]
    station_methods: dict[str, str]
    interval: dict[str, list[float]]
    training_window: dict[str, str]
    rows: int


def _log_residual_quantiles(actual: pd.Series, forecast: pd.Series) -> list[float]:
    """The 80% interval as quantiles of log errors: PM2.5 errors grow with the level."""
    residual = np.log1p(actual.clip(lower=0)) - np.log1p(forecast.clip(lower=0))
    return [round(float(q), 4) for q in np.nanquantile(residual, INTERVAL)]


def train(rows: pd.DataFrame, min_station_days: int = 180) -> TrainedForecast:
    """Backtest the last `BACKTEST_DAYS`, then fit on the latest `TRAIN_WINDOW_DAYS` of `rows`."""
    panel = make_panel(rows.dropna(subset=["pm25"]))
    n_days, n_stations = panel.values.shape
    eligible = np.isfinite(panel.values).sum(axis=0) >= min_station_days
    first = max(min(180, n_days - 1), n_days - BACKTEST_DAYS)
    published = choose_method(backtest(panel, first, eligible))
    scored = published[published["date"] > panel.days[-1] - pd.Timedelta(days=SCORED_DAYS)]
    station_metrics = {str(s): metrics(g) for s, g in scored.groupby("station_id", sort=True)}
    # Tomorrow's method: the same rule as choose_method, over the last year up to today.
    station_methods = {
        station: (
            "model"
            if m["n"] >= FALLBACK_MIN_DAYS
            and (g["model"] - g["actual"]).abs().mean() < m["persistence_mae"]
            else "persistence"
        )
        for (station, g), m in zip(
            scored.groupby("station_id", sort=True), station_metrics.values(), strict=True
        )
    }
    x = feature_matrix(panel)
    y = panel.values.reshape(-1)
    start = max(0, n_days - TRAIN_WINDOW_DAYS) * n_stations
    train_rows = np.arange(start, len(y))
    usable = np.isfinite(y) & np.isfinite(x).all(axis=1) & np.tile(eligible, n_days)
    train_rows = train_rows[usable[train_rows]]
    if len(train_rows) < MIN_TRAIN_ROWS:
        raise ValueError(f"too little history to train: {len(train_rows)} station-days")
    with single_threaded():
        estimator = new_estimator().fit(x[train_rows], y[train_rows])
    model_metrics = metrics(scored)
    model_metrics["model_only_mae"] = round(
        float((scored["model"] - scored["actual"]).abs().mean()), 3
    )
    return TrainedForecast(
        estimator=estimator,
        metrics=model_metrics,
        station_metrics=station_metrics,
        station_methods=station_methods,
        interval={
            "model": _log_residual_quantiles(scored["actual"], scored["model"]),
            "persistence": _log_residual_quantiles(scored["actual"], scored["persistence"]),
        },
        training_window={
            "start": str(panel.days[train_rows[0] // n_stations].date()),
            "end": str(panel.days[-1].date()),
        },
        rows=len(train_rows),
    )


def predict_next_day(
    rows: pd.DataFrame,
    estimator: Any,
    station_methods: dict[str, str],
    interval: dict[str, list[float]],
    model_version: str,
    stations: list[str] | None = None,
) -> pd.DataFrame:
    """Tomorrow (the day after the last date in `rows`) per station and for the city (the mean of
    the stations), with the 80% interval, Thai AQI category and the method published."""
    panel = make_panel(rows.dropna(subset=["pm25"]), extra_days=1)
    n_days, n_stations = panel.values.shape
    target = panel.days[-1]
    x = feature_matrix(panel)[(n_days - 1) * n_stations :]
    last = persistence(panel)[-1]
    wanted = set(panel.stations) if stations is None else set(stations)
    keep = np.array([s in wanted for s in panel.stations]) & np.isfinite(last)
    model = np.full(n_stations, np.nan)
    ready = keep & np.isfinite(x).all(axis=1)
    if ready.any():
        model[ready] = estimator.predict(x[ready])
    method = np.array(
        [
            "model" if station_methods.get(s) == "model" and np.isfinite(m) else "persistence"
            for s, m in zip(panel.stations, model, strict=True)
        ]
    )
    value = np.where(method == "model", model, last).clip(min=0)
    low_q = np.array([interval[m][0] for m in method])
    high_q = np.array([interval[m][1] for m in method])
    result = pd.DataFrame(
        {
            "forecast_date": target.date(),
            "issued_on": (target - pd.Timedelta(days=1)).date(),
            "scope": "station",
            "station_id": panel.stations,
            "pm25_forecast": value,
            "pm25_lower": np.expm1(np.log1p(value) + low_q).clip(min=0),
            "pm25_upper": np.expm1(np.log1p(value) + high_q),
            "persistence_pm25": last,
            "method": method,
        }
    )[keep]
    if not result.empty:
        city = result[["pm25_forecast", "pm25_lower", "pm25_upper", "persistence_pm25"]].mean()
        city_row = {
            **city.to_dict(),
            "forecast_date": target.date(),
            "issued_on": (target - pd.Timedelta(days=1)).date(),
            "scope": "city",
            "station_id": "city",
            "method": _method_summary(result["method"]),
        }
        result = pd.concat([result, pd.DataFrame([city_row])], ignore_index=True)
    return with_category(result.round(2), model_version)


def with_category(forecast: pd.DataFrame, model_version: str) -> pd.DataFrame:
    """Add the Thai AQI and its category (bands from the dbt macro) and the model version."""
    days = pd.to_datetime(forecast["forecast_date"])
    forecast["aqi"] = pd.array(aqi.pm25_aqi(forecast["pm25_forecast"], days), dtype="Int64")
    bands = aqi.pm25_band(forecast["pm25_forecast"], days)
    forecast["aqi_band"] = bands
    for column, attribute in (
        ("aqi_category_th", "name_th"),
        ("aqi_category_en", "name_en"),
        ("aqi_colour", "colour"),
        ("aqi_colour_hex", "colour_hex"),
    ):
        forecast[column] = [getattr(aqi.category(b), attribute) if b else None for b in bands]
    forecast["interval_level"] = round(INTERVAL[1] - INTERVAL[0], 2)
    forecast["model_version"] = model_version
    return forecast[list(OUTPUT_COLUMNS)].reset_index(drop=True)
