"""Analyse assets, group `analyse`: models over the marts, between Curate and Consume.

    marts/mart_air_quality_daily ─┬─> analyse/pm25_forecast_model (weekly retrain, skops + card)
    data/history seed + imports ──┘        └─> analyse/pm25_forecast (nightly: tomorrow)
    staging/stg_air4thai_hourly ───> analyse/air_sensor_flags (nightly)

Outputs are tables in the warehouse's `analyse` schema, published like the marts
(`consume/catalog.py`), so every released row carries the model version that made it. Assets that
open the warehouse share the `duckdb_warehouse` pool (DuckDB has one writer).

A failing nightly step must not cost the night's release: `guarded` turns its exception into a
failed `output_written` check (ERROR) instead of a failed step, so `published/<mart>` below it
runs, sees the failed check (defs/gates.py) and holds back only that mart (last good version kept,
marked stale, alert sent); every other mart and the release go out.
"""

import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa

from city_pipeline.analyse import anomaly, forecast, history, store
from city_pipeline.consume.warehouse import connect_read_only
from city_pipeline.defs.consume import markdown_preview
from city_pipeline.defs.naming import CityNames
from city_pipeline.defs.policies import freshness_policy
from city_pipeline.defs.resources import CityResource
from city_pipeline.freshness import RULES
from city_pipeline.settings import Settings

GROUP = "analyse"
SCHEMA = "analyse"
MODEL_KEY = dg.AssetKey([SCHEMA, "pm25_forecast_model"])
FORECAST_KEY = dg.AssetKey([SCHEMA, "pm25_forecast"])
FLAGS_KEY = dg.AssetKey([SCHEMA, "air_sensor_flags"])
AIR_DAILY_KEY = dg.AssetKey(["marts", "mart_air_quality_daily"])
HOURLY_KEY = dg.AssetKey(["staging", "stg_air4thai_hourly"])
MODEL_CHECK = "beats_baseline_and_predecessor"
OUTPUT_CHECK = "output_written"


def output_check(key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        OUTPUT_CHECK,
        asset=key,
        description="The step ran and wrote its table. When it fails, only its published mart is "
        "held back (last good version kept, marked stale); the rest of the release goes out.",
    )


def guarded(
    context: dg.AssetExecutionContext, compute: Callable[[], dict[str, Any]]
) -> dg.MaterializeResult:
    """Run `compute` (it writes the table and returns metadata); an exception becomes a failed
    `output_written` check with the error's last line, not a failed step (see the module doc)."""
    try:
        metadata = compute()
    except Exception as exc:
        error = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
        )
        context.log.error(
            f"{context.asset_key.to_user_string()} failed, its mart will be held "
            f"back:\n{traceback.format_exc()}"
        )
        return dg.MaterializeResult(
            metadata={"status": "failed", "error": error},
            check_results=[
                dg.AssetCheckResult(
                    check_name=OUTPUT_CHECK,
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"error": error},
                )
            ],
        )
    return dg.MaterializeResult(
        metadata={"status": "written", **metadata},
        check_results=[dg.AssetCheckResult(check_name=OUTPUT_CHECK, passed=True)],
    )


def training_rows(settings: Settings) -> pd.DataFrame:
    """Seed history, imported exports and the warehouse's daily means; for a station-day the
    warehouse wins over an import, an import over the seed."""
    with connect_read_only(settings.warehouse_path) as connection:
        mart = connection.sql(
            "select upper(station_id) as station_id, cast(date as timestamp) as date, "
            "pm25_24h_mean as pm25 from marts.mart_air_quality_daily"
        ).df()
    frames = [history.read_daily_csv(history.SEED_HISTORY)]
    frames += [history.imported_history(settings.lake_dir), mart]
    rows = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    rows["station_id"] = rows["station_id"].astype(str).str.upper()
    return rows.drop_duplicates(["station_id", "date"], keep="last").reset_index(drop=True)


def city_stations(settings: Settings) -> list[str]:
    """The city's stations: those configured and those in the warehouse's daily mart (found by
    area name), upper-cased like the PCD history."""
    with connect_read_only(settings.warehouse_path) as connection:
        found = connection.sql(
            "select distinct upper(station_id) from marts.mart_air_quality_daily"
        ).fetchall()
    configured = [s.upper() for s in settings.source("air4thai").station_ids]
    return sorted({*configured, *(row[0] for row in found)})


def replace_table(
    settings: Settings, name: str, data: pd.DataFrame | pa.Table, key: str | None = None
) -> None:
    """Write `data` into `"analyse".<name>`: rows with the same `key` values are replaced (all
    rows when `key` is None). ANALYSE is a DuckDB keyword, so the schema is always quoted."""
    table = f'"{SCHEMA}"."{name}"'
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute(f'create schema if not exists "{SCHEMA}"')
        connection.register("incoming", data)
        exists = connection.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ?",
            [SCHEMA, name],
        ).fetchall()[0][0]
        if not exists:
            connection.execute(f"create table {table} as select * from incoming")
        elif key is None:
            connection.execute(f"delete from {table}")
            connection.execute(f"insert into {table} by name select * from incoming")
        else:
            connection.execute(f"delete from {table} where {key} in (select {key} from incoming)")
            connection.execute(f"insert into {table} by name select * from incoming")


def model_card(trained: forecast.TrainedForecast, rows: pd.DataFrame, version: str):
    return store.ModelCard(
        model=forecast.MODEL_NAME,
        version=version,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        training_window=trained.training_window,
        rows=trained.rows,
        training_sha256=store.frame_sha256(rows),
        features=list(forecast.FEATURES),
        metrics=trained.metrics,
        parameters={
            "estimator": "sklearn.linear_model.Ridge",
            **forecast.MODEL_PARAMS,
            "train_window_days": forecast.TRAIN_WINDOW_DAYS,
            "retrain_days": forecast.RETRAIN_DAYS,
            "interval_log_quantiles": trained.interval,
            "station_methods": trained.station_methods,
            "station_metrics": trained.station_metrics,
        },
    )


def judge(new: store.ModelCard, old: store.ModelCard | None) -> tuple[bool, list[str]]:
    """Whether the new version may go into service, and why not."""
    reasons = []
    metrics = new.metrics
    model_mae, persistence_mae = metrics.get("model_only_mae"), metrics.get("persistence_mae")
    if model_mae is not None and persistence_mae is not None and model_mae >= persistence_mae:
        reasons.append(
            f"model MAE {model_mae} does not beat persistence {persistence_mae} on the backtest"
        )
    if old is not None and (old.metrics.get("skill") or 0) > (metrics.get("skill") or 0):
        reasons.append(
            f"skill {metrics.get('skill')} is below the current version {old.version}'s "
            f"{old.metrics.get('skill')}"
        )
    return not reasons, reasons


def train_and_store(settings: Settings):
    """Train, store a new version, and put it in service unless `judge` objects (the first
    version always goes into service: persistence fallback still guards each station)."""
    rows = training_rows(settings)
    trained = forecast.train(rows)
    current = store.current_version(settings.models_dir, forecast.MODEL_NAME)
    directory = settings.models_dir / forecast.MODEL_NAME
    old = store.read_card(directory / current / store.CARD) if current else None
    card = model_card(trained, rows, store.new_version())
    accepted, reasons = judge(card, old)
    store.save(settings.models_dir, card, trained.estimator, make_current=accepted or old is None)
    return trained, card, old, accepted, reasons


def pm25_forecast_model_asset(names: CityNames) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.key(MODEL_KEY),
        deps=[names.key(AIR_DAILY_KEY)],
        group_name=GROUP,
        pool=names.pool,
        kinds={"scikitlearn", "python"},
        check_specs=[dg.AssetCheckSpec(MODEL_CHECK, asset=names.key(MODEL_KEY))],
        freshness_policy=freshness_policy(RULES["weekly"]),
        description="ตัวแบบพยากรณ์ PM2.5 วันพรุ่งนี้ · Next-day PM2.5 model (pooled Ridge), retrained "
        "weekly on the seed PCD history and the warehouse's daily means; stored with skops and a "
        "model card under <data dir>/models/pm25_forecast/. A version worse than persistence or "
        "than the one in service is kept but not put in service (the check warns).",
    )
    def pm25_forecast_model(context: dg.AssetExecutionContext, city: CityResource):
        settings = city.settings(context.selected_asset_keys)
        trained, card, old, accepted, reasons = train_and_store(settings)
        in_service = store.current_version(settings.models_dir, forecast.MODEL_NAME)
        context.log.info(f"model {card.version}: {trained.metrics}; in service: {in_service}")
        yield dg.MaterializeResult(
            metadata={
                "version": card.version,
                "in_service": in_service,
                "dagster/row_count": trained.rows,
                **{k: v for k, v in trained.metrics.items() if isinstance(v, (int, float))},
                "method": trained.metrics.get("method"),
                "training_window": dg.MetadataValue.json(trained.training_window),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=MODEL_CHECK,
                    passed=accepted,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={
                        "reasons": "; ".join(reasons)
                        or "beats persistence and the previous version",
                        "previous_version": old.version if old else "none",
                    },
                )
            ],
        )

    return pm25_forecast_model


def pm25_forecast_asset(names: CityNames) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.key(FORECAST_KEY),
        deps=[names.key(MODEL_KEY), names.key(AIR_DAILY_KEY)],
        group_name=GROUP,
        pool=names.pool,
        kinds={"scikitlearn", "duckdb"},
        check_specs=[output_check(names.key(FORECAST_KEY))],
        description="พยากรณ์ PM2.5 วันพรุ่งนี้ · Tomorrow's 24-hour mean PM2.5 per city station and for "
        "the city, with the 80% interval, Thai AQI category, the method published (model or "
        "persistence) and the model version; table analyse.pm25_forecast.",
    )
    def pm25_forecast(
        context: dg.AssetExecutionContext, city: CityResource
    ) -> dg.MaterializeResult:
        return guarded(
            context, lambda: forecast_tomorrow(context, city.settings(context.selected_asset_keys))
        )

    return pm25_forecast


def forecast_tomorrow(context: dg.AssetExecutionContext, settings: Settings) -> dict[str, Any]:
    if store.current_version(settings.models_dir, forecast.MODEL_NAME) is None:
        # A fresh install: the nightly run needs a model before the first weekly retrain.
        context.log.info("no PM2.5 model in service yet: training the first version")
        train_and_store(settings)
    estimator, card = store.load(settings.models_dir, forecast.MODEL_NAME)
    rows = training_rows(settings)
    tomorrow = forecast.predict_next_day(
        rows,
        estimator,
        card.parameters["station_methods"],
        card.parameters["interval_log_quantiles"],
        card.version,
        city_stations(settings),
    )
    replace_table(settings, "pm25_forecast", tomorrow, key="forecast_date")
    return {
        "dagster/row_count": len(tomorrow),
        "forecast_date": str(tomorrow["forecast_date"].iloc[0]) if len(tomorrow) else "none",
        "model_version": card.version,
        "methods": dg.MetadataValue.json(tomorrow["method"].value_counts().to_dict()),
        "preview": dg.MetadataValue.md(markdown_preview(pa.Table.from_pandas(tomorrow))),
    }


def air_sensor_flags_asset(names: CityNames) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.key(FLAGS_KEY),
        deps=[names.key(HOURLY_KEY)],
        group_name=GROUP,
        pool=names.pool,
        kinds={"duckdb"},
        check_specs=[output_check(names.key(FLAGS_KEY))],
        description="ธงความผิดปกติของเครื่องวัด · Sensor anomaly flags per station-day (and per "
        "station-hour in analyse.air_sensor_flags_hourly): flat lines, spikes, PM2.5 above PM10, "
        "out-of-range values, divergence from the regional median. Advice for maintenance only: "
        "the official AQI figures are never changed.",
    )
    def air_sensor_flags(
        context: dg.AssetExecutionContext, city: CityResource
    ) -> dg.MaterializeResult:
        return guarded(context, lambda: flag_sensors(city.settings(context.selected_asset_keys)))

    return air_sensor_flags


def flag_sensors(settings: Settings) -> dict[str, Any]:
    with connect_read_only(settings.warehouse_path) as connection:
        hourly = connection.sql(
            "select upper(station_id) as station_id, measured_at, pm25_ugm3 as pm25, "
            "pm10_ugm3 as pm10 from staging.stg_air4thai_hourly"
        ).df()
    hours = anomaly.flag_hours(hourly)
    days = anomaly.flag_days(hours)
    replace_table(settings, "air_sensor_flags_hourly", anomaly.typed(hours, anomaly.HOURLY_SCHEMA))
    replace_table(settings, "air_sensor_flags", anomaly.typed(days, anomaly.DAILY_SCHEMA))
    return {
        "dagster/row_count": len(days),
        "flagged_hours": len(hours),
        "reasons": dg.MetadataValue.json(days["reason"].value_counts().to_dict()),
    }


def air_assets(names: CityNames) -> list[dg.AssetsDefinition]:
    return [
        pm25_forecast_model_asset(names),
        pm25_forecast_asset(names),
        air_sensor_flags_asset(names),
    ]


def build_defs(settings: Settings) -> dg.Definitions:
    from city_pipeline.defs import analyse_complaints

    names = CityNames.of(settings)
    return dg.Definitions(assets=[*air_assets(names), *analyse_complaints.complaint_assets(names)])
