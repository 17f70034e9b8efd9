"""Complaint surge early warning in Dagster (group `analyse`): `analyse/complaint_surges`.

Nightly, `surge.detect_surges` runs over the tickets opened in the last `RECENT_DAYS` days plus the
28-day baseline before them (all history on a first run), and the rows of those days replace the
table's. A surge new to the table and dated within the last `ALERT_DAYS` days of the data goes to
the alert channel (`city_pipeline/alerts.py`: alerts.jsonl and the webhook, like held-back marts).
"""

from datetime import timedelta
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from city_pipeline import alerts
from city_pipeline.analyse import surge
from city_pipeline.consume.warehouse import connect_read_only
from city_pipeline.defs.analyse import GROUP, SCHEMA, guarded, output_check, replace_table
from city_pipeline.defs.naming import CityNames
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import Settings

SURGES_KEY = dg.AssetKey([SCHEMA, "complaint_surges"])
COMPLAINTS_KEY = dg.AssetKey(["marts", "fct_complaints"])
# Days recomputed each night.
RECENT_DAYS = 14
# Surges dated this many days before the newest complaint day still raise an alert; older ones
# (e.g. found by a first run over all history) are published but page nobody.
ALERT_DAYS = 2


def table_exists(connection: duckdb.DuckDBPyConnection, name: str, schema: str = SCHEMA) -> bool:
    query = (
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    )
    # fetchall: a fetchone() leaves the result open, and DuckDB 2.0 then refuses `register`.
    return connection.execute(query, [schema, name]).fetchall()[0][0] > 0


def recent_tickets(
    settings: Settings, columns: str, own_table: str, days: int = RECENT_DAYS
) -> pd.DataFrame:
    """Tickets opened in the last `days` days before the newest one; all of them on a first run
    (`own_table` not written yet)."""
    with connect_read_only(settings.warehouse_path) as connection:
        since = ""
        if table_exists(connection, own_table):
            since = (
                "where opened_date > (select max(opened_date) from marts.fct_complaints) "
                f"- interval {days} day"
            )
        return connection.execute(f"select {columns} from marts.fct_complaints {since}").df()


SURGE_COLUMNS = "subdistrict_code, opened_date, categories"


def area_names(settings: Settings) -> pd.DataFrame:
    """Subdistrict and district names by subdistrict code (empty without dim_admin_area)."""
    with connect_read_only(settings.warehouse_path) as connection:
        found = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'dim_admin_area'"
        ).fetchone()[0]
        if not found:
            return pd.DataFrame(columns=AREA_NAME_COLUMNS, dtype="string")
        return connection.execute(
            "select admin_code as subdistrict_code, name_th as subdistrict_name_th, "
            "name_en as subdistrict_name_en, district_name_th, district_name_en "
            "from marts.dim_admin_area where level = 'subdistrict'"
        ).df()


AREA_NAME_COLUMNS = [
    "subdistrict_code", "subdistrict_name_th", "subdistrict_name_en", "district_name_th",
    "district_name_en",
]  # fmt: skip


def previous_alerts(settings: Settings) -> set[tuple] | None:
    """(area, type, day) of the alerts already published; None before the first run."""
    with connect_read_only(settings.warehouse_path) as connection:
        if not table_exists(connection, "complaint_surges"):
            return None
        rows = connection.execute(
            f'select subdistrict_code, problem_type, date from "{SCHEMA}".complaint_surges '
            "where alert"
        ).fetchall()
    return {(a, t, pd.Timestamp(d).date()) for a, t, d in rows}


def find_surges(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """The surge rows of the recomputed days (with area names), the new alerts among them, and
    the first recomputed day (None on a first run: all days)."""
    already = previous_alerts(settings)
    complaints = recent_tickets(
        settings, SURGE_COLUMNS, "complaint_surges", days=RECENT_DAYS + surge.BASELINE_DAYS
    )
    found = surge.detect_surges(complaints)
    found = found.merge(area_names(settings), on="subdistrict_code", how="left")
    found["date"] = pd.to_datetime(found["date"]).dt.date
    newest = pd.to_datetime(complaints["opened_date"]).max()
    if pd.isna(newest):
        return found, found.iloc[:0], None
    newest = newest.date()
    first_day = None
    if already is not None:  # earlier days were computed with their full baseline before
        first_day = newest - timedelta(days=RECENT_DAYS - 1)
        found = found[found["date"] >= first_day]
    keys = zip(found["subdistrict_code"], found["problem_type"], found["date"], strict=True)
    fresh = found["alert"].to_numpy(dtype=bool) & [k not in (already or ()) for k in keys]
    recent = (found["date"] > newest - timedelta(days=ALERT_DAYS)).to_numpy(dtype=bool)
    return found, found[fresh & recent], first_day


def surge_alert(settings: Settings, row: pd.Series, run_id: str) -> dict[str, Any]:
    area = row.get("subdistrict_name_en") or row["subdistrict_code"]
    return alerts.new_alert(
        "complaint_surge",
        settings,
        run_id=run_id,
        date=row["date"].isoformat(),
        subdistrict_code=row["subdistrict_code"],
        subdistrict_name_th=none_if_na(row.get("subdistrict_name_th")),
        subdistrict_name_en=none_if_na(row.get("subdistrict_name_en")),
        problem_type=row["problem_type"],
        observed=int(row["observed"]),
        expected=round(float(row["expected"]), 2),
        p_value=float(row["p_value"]),
        summary=f"{row['observed']} {row['problem_type']} complaints in {area} on "
        f"{row['date']:%Y-%m-%d}, expected {row['expected']:.1f}",
    )


def none_if_na(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


SURGE_TABLE_COLUMNS = [
    "date", "subdistrict_code", "subdistrict_name_th", "subdistrict_name_en", "district_name_th",
    "district_name_en", "problem_type", "observed", "expected", "upper_bound", "p_value",
    "has_baseline", "alert",
]  # fmt: skip


def detect_and_alert(context: dg.AssetExecutionContext, settings: Settings) -> dict[str, Any]:
    found, new_alerts, first_day = find_surges(settings)
    table = found[SURGE_TABLE_COLUMNS].astype({"observed": "int32", "upper_bound": "int32"})
    if first_day is None:
        replace_table(settings, "complaint_surges", table)
    else:
        with duckdb.connect(str(settings.warehouse_path)) as connection:
            connection.execute(
                f'delete from "{SCHEMA}".complaint_surges where date >= ?', [first_day]
            )
        replace_table(settings, "complaint_surges", table, key="date")
    for _, row in new_alerts.iterrows():
        alert = surge_alert(settings, row, context.run_id)
        alerts.send(settings, alert)
        context.log.warning(f"surge: {alert['summary']}")
    return {
        "dagster/row_count": len(table),
        "alerts": int(table["alert"].sum()),
        "alerts_sent": len(new_alerts),
        "recomputed_from": str(first_day or "all history"),
    }


def complaint_surges_asset(names: CityNames) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.key(SURGES_KEY),
        deps=[names.key(COMPLAINTS_KEY)],
        group_name=GROUP,
        pool=names.pool,
        kinds={"python", "duckdb"},
        check_specs=[output_check(names.key(SURGES_KEY))],
        description="การเพิ่มขึ้นผิดปกติของเรื่องร้องเรียน · Complaint surges per subdistrict × problem "
        "type × day: observed and expected count (trailing 28 days with day of week), Poisson "
        "p-value and alert; a new alert goes to the alert channel (alerts.jsonl, webhook). Table "
        "analyse.complaint_surges.",
    )
    def complaint_surges(context: dg.AssetExecutionContext, city: CityResource):
        return guarded(
            context, lambda: detect_and_alert(context, city.settings(context.selected_asset_keys))
        )

    return complaint_surges
