"""Calling Air4Thai: the station list, and the hourly history of the city's stations for one day
in chunks of stations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import pyarrow.parquet as pq

from city_pipeline import lake
from city_pipeline.settings import Air4ThaiSettings, Settings
from city_pipeline.sources.air4thai.contract import (
    HISTORY_PATH,
    MAX_STATIONS_PER_REQUEST,
    STATIONS_PATH,
    STATIONS_TABLE,
)
from city_pipeline.sources.common import (
    FetchContext,
    fetch,
)


def settings_of(settings: Settings) -> Air4ThaiSettings:
    return settings.config.sources.air4thai


def history_requests(
    station_ids: Iterable[str], params: Sequence[str], day: date
) -> list[dict[str, str]]:
    """Query parameters of the history calls for one day: every station, in sorted chunks."""
    ids = sorted({s.strip() for s in station_ids if s and s.strip()})
    chunks = [
        ids[i : i + MAX_STATIONS_PER_REQUEST] for i in range(0, len(ids), MAX_STATIONS_PER_REQUEST)
    ]
    iso = day.isoformat()
    return [
        {
            "stationID": ",".join(chunk),
            "param": ",".join(params),
            "type": "hr",
            "sdate": iso,
            "edate": iso,
            "stime": "00",
            "etime": "23",
        }
        for chunk in chunks
    ]


def city_station_ids(settings: Settings, day: date) -> list[str]:
    """The stations whose history the city needs on `day`: the configured ids plus every station
    the day's raw station list kept (an `areaTH` match finds stations opened after the config was
    written; a configured station missing from one day's list is still asked for)."""
    ids = set(settings_of(settings).station_ids)
    path = lake.raw_partition_path(settings.lake_dir, STATIONS_TABLE, day)
    if path.exists():
        column = pq.read_table(path, columns=["station_id"]).column("station_id")
        ids.update(s for s in column.to_pylist() if s)
    return sorted(ids)


def fetch_stations(ctx: FetchContext) -> None:
    fetch(ctx, settings_of(ctx.settings).base_url + STATIONS_PATH)


def fetch_hourly(ctx: FetchContext) -> None:
    cfg = settings_of(ctx.settings)
    ids = city_station_ids(ctx.settings, ctx.day)
    if not ids:
        raise ctx.error(
            "no Air4Thai station for this city: set sources.air4thai.station_ids in "
            "the city YAML or capture air4thai_stations for the day first",
            field="station_ids",
        )
    for params in history_requests(ids, cfg.params, ctx.day):
        fetch(ctx, cfg.base_url + HISTORY_PATH, params)
