"""The loaders our capture is compared with, reading the SAME landed files.

- `duckdb`: DuckDB-native, one `COPY (SELECT ... FROM read_json/read_csv(<the day's files>)) TO
  parquet` per partition with DuckDB's type auto-detection. No envelope checks, no sentinel
  handling, no contract types, no dedupe: the practical speed limit of landing -> Parquet.
- `duckdb_bulk`: the same SQL once over every day's files (one Parquet file per table), to show
  what per-partition work costs.
- `pandas`: what many city scripts do: `json.load` + `pandas.json_normalize` (+ `read_csv` for
  DOPA) + `to_parquet`, per partition. Columns that mix numbers and strings ("-", "-999") are
  turned into strings first, since pyarrow refuses them otherwise.
- `dlt`: a `dlt` pipeline into DuckDB (parquet load files), one run per capture over all days (its
  fixed per-run cost would swamp per-day runs), pages of records yielded from `json.load`, nested
  lists normalised by dlt into child tables.

Each function takes the landed files per partition and an output folder and returns output rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb

from city_pipeline.settings import Settings
from city_pipeline.sql import sql_list, sql_text

MAX_OBJECT = 1 << 30
Batches = dict[date, list[Path]]  # partition day -> landed files of its batch


def _reader(paths: list[Path]) -> str:
    # Types are inferred from every record of every file: by default DuckDB samples 20,480
    # records of the first 32 files, and over a year of Air4Thai files it then guesses BIGINT
    # for a column that later holds "-" (the bulk read failed that way at size M).
    return (
        f"read_json({sql_list(paths)}, maximum_object_size={MAX_OBJECT}, sample_size=-1, "
        "maximum_sample_files=-1)"
    )


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def native_selects(capture: str, settings: Settings, paths: list[Path]) -> dict[str, str]:
    """Output table -> SELECT over the landed files, DuckDB-native (auto-detected types)."""
    if capture == "air4thai_hourly":
        return {
            "air4thai_hourly": "SELECT st.stationID AS station_id, unnest(st.data, recursive := "
            f"true) FROM (SELECT unnest(stations) AS st FROM {_reader(paths)})"
        }
    if capture == "air4thai_stations":
        return {
            "air4thai_stations": "SELECT unnest(st, recursive := true) FROM "
            f"(SELECT unnest(stations) AS st FROM {_reader(paths)})"
        }
    if capture == "traffy":
        return {
            "traffy_tickets": "SELECT unnest(f.properties), f.geometry.coordinates[1] AS lon, "
            "f.geometry.coordinates[2] AS lat FROM "
            f"(SELECT unnest(features) AS f FROM {_reader(paths)})"
        }
    if capture == "open_meteo":
        om = settings.config.sources.open_meteo
        meta = "latitude, longitude, utc_offset_seconds, timezone"

        def block(name: str, variables: list[str], key: str) -> str:
            cols = ", ".join(f'unnest({name}."{v}") AS "{v}"' for v in variables)
            return f"SELECT unnest({name}.time) AS {key}, {cols}, {meta} FROM {_reader(paths)}"

        return {
            "open_meteo_hourly": block("hourly", om.hourly, "time_local"),
            "open_meteo_daily": block("daily", om.daily, "date"),
        }
    if capture == "dopa":
        # DuckDB reads UTF-8 only without the `encodings` extension (a download): cp874 files are
        # read as latin-1, bytes kept, names garbled. Our parser decodes them properly.
        utf8 = [p for p in paths if _is_utf8(p)]
        other = [p for p in paths if p not in utf8]
        reads = [
            f"SELECT * FROM read_csv({sql_list(group)}, delim='|', header=false, "
            f"all_varchar=true, null_padding=true{enc})"
            for group, enc in ((utf8, ""), (other, ", encoding='latin-1'"))
            if group
        ]
        return {"dopa_population": " UNION ALL BY NAME ".join(reads)}
    raise ValueError(f"no DuckDB-native reader for {capture}")


def _copy(con: duckdb.DuckDBPyConnection, select: str, target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    [(rows,)] = con.execute(
        f"COPY ({select}) TO {sql_text(target)} (FORMAT parquet, COMPRESSION zstd)"
    ).fetchall()
    return rows


def run_duckdb(capture: str, settings: Settings, batches: Batches, out: Path) -> int:
    con = duckdb.connect()
    rows = 0
    for day, paths in batches.items():
        for table, select in native_selects(capture, settings, paths).items():
            rows += _copy(con, select, out / table / f"date={day.isoformat()}" / "part-0.parquet")
    return rows


def run_duckdb_bulk(capture: str, settings: Settings, batches: Batches, out: Path) -> int:
    con = duckdb.connect()
    paths = [p for files in batches.values() for p in files]
    rows = 0
    for table, select in native_selects(capture, settings, paths).items():
        rows += _copy(con, select, out / table / "all.parquet")
    return rows


# --- pandas ---------------------------------------------------------------------------------


def _parquet_safe(frame):
    """Object columns that mix types (30.7, "-", -999) become strings: pyarrow refuses them."""
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        kinds = {type(v) for v in frame[column].dropna().head(1000)}
        if len(kinds) > 1 and list not in kinds:
            frame[column] = frame[column].astype("string")
    return frame


def pandas_frames(capture: str, settings: Settings, paths: list[Path]) -> dict[str, object]:
    import pandas as pd

    def load(path: Path):
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)

    if capture == "dopa":
        frames = []
        for path in paths:
            encoding = "utf-8" if _is_utf8(path) else "cp874"
            frames.append(pd.read_csv(path, sep="|", header=None, dtype=str, encoding=encoding))
        return {"dopa_population": pd.concat(frames, ignore_index=True)}
    payloads = [load(p) for p in paths]
    if capture == "air4thai_hourly":
        parts = [
            pd.json_normalize(p["stations"], record_path="data", meta=["stationID"])
            for p in payloads
        ]
        return {"air4thai_hourly": pd.concat(parts, ignore_index=True)}
    if capture == "air4thai_stations":
        parts = [pd.json_normalize(p["stations"]) for p in payloads]
        return {"air4thai_stations": pd.concat(parts, ignore_index=True)}
    if capture == "traffy":
        parts = [pd.json_normalize(p["features"]) for p in payloads]
        return {"traffy_tickets": pd.concat(parts, ignore_index=True)}
    if capture == "open_meteo":
        meta = ("latitude", "longitude", "utc_offset_seconds", "timezone")
        out = {}
        for block, table in (("hourly", "open_meteo_hourly"), ("daily", "open_meteo_daily")):
            parts = [pd.DataFrame(p[block]).assign(**{k: p[k] for k in meta}) for p in payloads]
            out[table] = pd.concat(parts, ignore_index=True)
        return out
    raise ValueError(f"no pandas reader for {capture}")


def run_pandas(capture: str, settings: Settings, batches: Batches, out: Path) -> int:
    rows = 0
    for day, paths in batches.items():
        for table, frame in pandas_frames(capture, settings, paths).items():
            target = out / table / f"date={day.isoformat()}" / "part-0.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            _parquet_safe(frame).to_parquet(target, compression="zstd", index=False)
            rows += len(frame)
    return rows


# --- dlt ------------------------------------------------------------------------------------


def dlt_records(capture: str, settings: Settings, batches: Batches) -> Iterator[list[dict]]:
    """What a dlt user would yield: the payload's record lists, one page at a time."""
    for paths in batches.values():
        for path in paths:
            if capture == "dopa":
                encoding = "utf-8" if _is_utf8(path) else "cp874"
                text = path.read_text(encoding=encoding)
                yield [
                    {f"c{n}": v for n, v in enumerate(row)}
                    for row in csv.reader(io.StringIO(text), delimiter="|")
                ]
                continue
            payload = json.loads(path.read_bytes())
            if capture == "air4thai_hourly":
                for station in payload["stations"]:
                    yield [{"station_id": station["stationID"], **r} for r in station["data"]]
            elif capture == "air4thai_stations":
                yield payload["stations"]
            elif capture == "traffy":
                yield payload["features"]
            elif capture == "open_meteo":
                hourly = payload["hourly"]
                names = list(hourly)
                yield [
                    dict(zip(names, values, strict=True))
                    for values in zip(*hourly.values(), strict=True)
                ]
            else:
                raise ValueError(f"no dlt reader for {capture}")


def run_dlt(capture: str, settings: Settings, batches: Batches, out: Path) -> int:
    import dlt

    out.mkdir(parents=True, exist_ok=True)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{capture}",
        destination=dlt.destinations.duckdb(str(out / f"{capture}.duckdb")),
        dataset_name="raw",
        pipelines_dir=str(out / "pipelines"),
    )
    resource = dlt.resource(
        dlt_records(capture, settings, batches), name=capture, write_disposition="append"
    )
    # Parquet load files: dlt's default for DuckDB (`insert_values`) took 5x longer and 3 GB of
    # RSS on size S's Traffy pages; parquet is what dlt's performance guide suggests.
    pipeline.run(resource, loader_file_format="parquet")
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return int(counts.get(capture, 0))


RUNNERS: dict[str, Callable[[str, Settings, Batches, Path], int]] = {
    "duckdb": run_duckdb,
    "duckdb_bulk": run_duckdb_bulk,
    "pandas": run_pandas,
    "dlt": run_dlt,
}
