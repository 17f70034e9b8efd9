"""Daily PM2.5 history files (`station_id,date,pm25`): the seed history shipped in
`data/history/`, PCD/Air4Thai exports given to `city-pipeline import-history`, and the CSV that
`city-pipeline evaluate forecast` scores. A bad file is refused with one line naming the file and
the column, never a traceback."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from city_pipeline.lake import (
    LandingBatch,
    raw_partition_path,
    raw_table_dir,
    write_parquet_atomic,
)
from city_pipeline.settings import PROJECT_ROOT

COLUMNS = ("station_id", "date", "pm25")
SEED_HISTORY = PROJECT_ROOT / "data" / "history" / "pcd_daily_pm25.csv"


class HistoryCsvError(ValueError):
    """A history CSV that cannot be read; the message is one line naming file and column."""


def _first_bad(values: pd.Series, bad: pd.Series) -> str:
    position = int(bad.to_numpy().nonzero()[0][0])
    # +2: the header is line 1 and pandas counts rows from 0.
    return f"{values.iloc[position]!r} on line {position + 2}"


def read_daily_csv(path: Path) -> pd.DataFrame:
    """Rows `station_id` (str), `date` (datetime64), `pm25` (float, NaN where blank), one per
    station and day (repeated days are averaged), sorted by station and date."""
    path = Path(path)
    try:
        text = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise HistoryCsvError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise HistoryCsvError(f"{path}: empty file, expected columns {','.join(COLUMNS)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HistoryCsvError(f"{path}: not a readable UTF-8 CSV ({reason})") from None
    text.columns = [str(c).strip() for c in text.columns]
    missing = [c for c in COLUMNS if c not in text.columns]
    if missing:
        found = ",".join(text.columns) or "none"
        raise HistoryCsvError(f"{path}: missing column {missing[0]} (found: {found})")
    if text.empty:
        raise HistoryCsvError(f"{path}: empty file, no rows below the header")
    station = text["station_id"].str.strip()
    if (station == "").any():
        raise HistoryCsvError(
            f"{path}: column station_id: blank value on line "
            f"{int((station == '').to_numpy().nonzero()[0][0]) + 2}"
        )
    raw_date = text["date"].str.strip()
    day = pd.to_datetime(raw_date, format="%Y-%m-%d", errors="coerce")
    if day.isna().any():
        raise HistoryCsvError(
            f"{path}: column date: unparseable date {_first_bad(raw_date, day.isna())}"
        )
    raw_pm25 = text["pm25"].str.strip()
    pm25 = pd.to_numeric(raw_pm25.replace("", None), errors="coerce")
    non_numeric = pm25.isna() & (raw_pm25 != "")
    if non_numeric.any():
        raise HistoryCsvError(
            f"{path}: column pm25: non-numeric value {_first_bad(raw_pm25, non_numeric)}"
        )
    if pm25.isna().all():
        raise HistoryCsvError(f"{path}: column pm25: no values, every row is blank")
    rows = pd.DataFrame({"station_id": station, "date": day, "pm25": pm25.astype(float)})
    rows = rows.groupby(["station_id", "date"], as_index=False, sort=True)["pm25"].mean()
    return rows.reset_index(drop=True)


HISTORY_SOURCE = "pcd_history"
HISTORY_TABLE = "pcd_history_daily"


def import_history(path: Path, lake_dir: Path, today: date | None = None) -> Path:
    """Land a daily export as received (sidecar with sha256) and its parsed rows as raw Parquet
    `raw/pcd_history_daily/date=<import day>/`, whose metadata names the landed file."""
    path = Path(path)
    rows = read_daily_csv(path)
    day = today or date.today()
    batch = LandingBatch(lake_dir, HISTORY_SOURCE, day)
    batch.land(
        path.read_bytes(),
        url=path.resolve().as_uri(),
        params={"file": path.name},
        status=200,
        headers={},
        ext="csv",
    )
    batch.complete()
    target = raw_partition_path(lake_dir, HISTORY_TABLE, day)
    rows = rows.assign(date=rows["date"].dt.date)
    write_parquet_atomic(pa.Table.from_pandas(rows, preserve_index=False), target, batch.lineage())
    return target


def imported_history(lake_dir: Path) -> pd.DataFrame:
    """Every imported export's rows (the newest import wins for a station-day)."""
    files = sorted(raw_table_dir(lake_dir, HISTORY_TABLE).glob("date=*/*.parquet"))
    if not files:
        return pd.DataFrame({"station_id": [], "date": pd.to_datetime([]), "pm25": []})
    frames = [pd.read_parquet(f) for f in files]
    rows = pd.concat(frames, ignore_index=True)
    rows["date"] = pd.to_datetime(rows["date"])
    return rows.drop_duplicates(["station_id", "date"], keep="last").reset_index(drop=True)
