"""The network marts, computed by DuckDB over the members' verified Parquet files.

`network_city_daily`: one row per city per day of the city's `mart_city_daily`. Complaint
figures are per **cohort**: the tickets opened that day (`fct_complaints.opened_date`), so every
figure of a row describes the same tickets: how many, per 10,000 residents, how long the resolved
ones took (median hours), the share that were duplicates (`complaint_insights.duplicate_of`) and
the share resolved within 7 days (168 hours) of opening. The last share is NULL for days less than
7 days before the city's last day of data, which cannot be known yet. Residents are the member's
DOPA population (`mart_population`): the city's areas (`is_city_area`) at the finest level DOPA
publishes, summed, of the newest month on or before the day (the earliest month before that).
The Thai AQI and its category are computed here from the city-mean PM2.5 with the project's one
AQI implementation (`analyse/aqi.py`).

`network_city_summary`: one row per member over the last 30 days of its own data, with the two
rankings the network report shows (column descriptions in `network/columns.yml`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from city_pipeline.analyse import aqi
from city_pipeline.network.members import REQUIRED_MARTS, MemberRelease
from city_pipeline.report.executive import PM25_STANDARD
from city_pipeline.sql import sql_text

SUMMARY_DAYS = 30
WITHIN_HOURS = 7 * 24
OPTIONAL_MARTS = ("pm25_forecast", "complaint_insights")

SETUP = """
create table members (city_slug varchar, city_name_th varchar, city_name_en varchar,
    member_status varchar, stale_reason varchar, release_id varchar, release_created varchar);
create table days (city_slug varchar, date date, pm25_city_mean double);
create table tickets (city_slug varchar, opened_date date, resolution_hours double,
    is_resolved boolean, is_duplicate boolean);
create table population (city_slug varchar, month date, residents bigint, level varchar);
create table forecasts (city_slug varchar, forecast_date date, pm25_forecast double);
"""

LOADS = {
    "days": "select {slug}, date, pm25_city_mean from {mart_city_daily}",
    "tickets": """
        select {slug}, t.opened_date, t.resolution_hours, t.is_resolved,
               {duplicate} as is_duplicate
        from {fct_complaints} t {insights_join}""",
    # The finest level DOPA publishes for the city's own areas, per month.
    "population": """
        select {slug}, month, residents, level from (
            select month, level, sum(total) as residents,
                   row_number() over (partition by month order by
                       case level when 'subdistrict' then 1 when 'district' then 2 else 3 end) as r
            from {mart_population}
            where is_city_area and total is not null and admin_code is not null
              and level in ('subdistrict', 'district', 'province')
            group by month, level)
        where r = 1""",
    "forecasts": """
        select {slug}, forecast_date, pm25_forecast from {pm25_forecast}
        where station_id = 'city'""",
}

DAILY = f"""
with last_day as (select city_slug, max(date) as last_date from days group by city_slug),
cohorts as (
    select t.city_slug, t.opened_date as date, count(*) as complaints,
        median(t.resolution_hours) filter (where t.is_resolved) as median_resolution_hours,
        avg(t.is_duplicate::int) as duplicate_share,
        avg((coalesce(t.is_resolved, false)
             and t.resolution_hours <= {WITHIN_HOURS})::int) as within_share
    from tickets t group by all),
residents as (
    select d.city_slug, d.date,
        coalesce(p.residents, (select p2.residents from population p2
            where p2.city_slug = d.city_slug order by p2.month limit 1)) as residents,
        coalesce(p.level, (select p2.level from population p2
            where p2.city_slug = d.city_slug order by p2.month limit 1)) as residents_level
    from days d asof left join population p
        on d.city_slug = p.city_slug and d.date >= p.month)
select m.city_slug, m.city_name_th, m.city_name_en, d.date, d.pm25_city_mean,
    f.pm25_forecast as pm25_forecast_tomorrow,
    coalesce(c.complaints, 0)::bigint as complaints,
    r.residents, r.residents_level,
    round(coalesce(c.complaints, 0) * 10000.0 / nullif(r.residents, 0), 3)
        as complaints_per_10k_residents,
    c.median_resolution_hours,
    round(c.duplicate_share, 4) as duplicate_share,
    case when d.date <= l.last_date - interval {WITHIN_HOURS // 24} day
         then round(c.within_share, 4) end as resolved_within_7d_share,
    m.member_status, m.stale_reason, m.release_id, m.release_created
from days d
join members m using (city_slug)
join last_day l using (city_slug)
left join cohorts c on c.city_slug = d.city_slug and c.date = d.date
left join residents r on r.city_slug = d.city_slug and r.date = d.date
left join forecasts f on f.city_slug = d.city_slug and f.forecast_date = d.date + 1
order by m.city_slug, d.date
"""

SUMMARY = f"""
with period as (
    select city_slug, max(date) as period_end, max(date) - {SUMMARY_DAYS - 1} as period_start
    from days group by city_slug),
air as (
    select d.city_slug, count(d.pm25_city_mean) as days_with_pm25,
        round(avg(d.pm25_city_mean), 2) as pm25_mean_30d,
        count(*) filter (where d.pm25_city_mean > {PM25_STANDARD}) as days_over_pm25_standard
    from days d join period p using (city_slug)
    where d.date between p.period_start and p.period_end group by all),
cohort as (
    select t.city_slug, count(*) as complaints_30d,
        median(t.resolution_hours) filter (where t.is_resolved) as median_resolution_hours,
        round(avg(t.is_duplicate::int), 4) as duplicate_share,
        round(avg((coalesce(t.is_resolved, false) and t.resolution_hours <= {WITHIN_HOURS})::int)
            filter (where t.opened_date <= p.period_end - {WITHIN_HOURS // 24}), 4)
            as resolved_within_7d_share
    from tickets t join period p using (city_slug)
    where t.opened_date between p.period_start and p.period_end group by all),
residents as (
    select p.city_slug, x.residents, x.level as residents_level from period p
    left join lateral (select * from population x where x.city_slug = p.city_slug
        order by (x.month <= p.period_end) desc, abs(x.month - p.period_end) limit 1) x on true),
joined as (
    select m.*, p.period_start, p.period_end, a.days_with_pm25, a.pm25_mean_30d,
        a.days_over_pm25_standard,
        -- a member with no good release has no figures at all, not zero complaints
        case when p.period_end is not null then coalesce(c.complaints_30d, 0) end::bigint
            as complaints_30d,
        r.residents, r.residents_level,
        round(coalesce(c.complaints_30d, 0) * 10000.0 / nullif(r.residents, 0), 3)
            as complaints_per_10k_residents_30d,
        c.median_resolution_hours, c.duplicate_share, c.resolved_within_7d_share
    from members m left join period p using (city_slug) left join air a using (city_slug)
    left join cohort c using (city_slug) left join residents r using (city_slug))
select city_slug, city_name_th, city_name_en, member_status, stale_reason, release_id,
    release_created, period_start, period_end, days_with_pm25, pm25_mean_30d,
    days_over_pm25_standard, complaints_30d, residents, residents_level,
    complaints_per_10k_residents_30d,
    median_resolution_hours, duplicate_share, resolved_within_7d_share,
    case when pm25_mean_30d is not null then
        rank() over (partition by pm25_mean_30d is null order by pm25_mean_30d) end
        as rank_cleanest_air,
    case when resolved_within_7d_share is not null then
        rank() over (partition by resolved_within_7d_share is null
                     order by resolved_within_7d_share desc) end as rank_resolved_within_7d
from joined order by city_slug
"""


def _load_member(connection: duckdb.DuckDBPyConnection, release: MemberRelease) -> None:
    member = release.member
    connection.execute(
        "insert into members values (?, ?, ?, ?, ?, ?, ?)",
        [
            member.slug,
            member.name_th,
            member.name_en,
            release.status,
            release.reason,
            release.release_id,
            release.created,
        ],
    )
    if release.folder is None:
        return
    files = {name: release.folder / f"{name}.parquet" for name in REQUIRED_MARTS + OPTIONAL_MARTS}
    has_insights = files["complaint_insights"].exists()
    parts = {name: _relation(path) for name, path in files.items()}
    parts["slug"] = f"{sql_text(member.slug)} as city_slug"
    parts["duplicate"] = "(i.duplicate_of is not null)" if has_insights else "null::boolean"
    parts["insights_join"] = (
        f"left join {parts['complaint_insights']} i using (ticket_id)" if has_insights else ""
    )
    for table, query in LOADS.items():
        if table == "forecasts" and not files["pm25_forecast"].exists():
            continue
        connection.execute(f"insert into {table} {query.format(**parts)}")


def _relation(path: Path) -> str:
    return f"read_parquet({sql_text(str(path))})"


def with_aqi(table: pa.Table) -> pa.Table:
    """Add the Thai AQI of the city-mean PM2.5 and its category, after `pm25_city_mean`."""
    pm25 = table.column("pm25_city_mean").to_numpy(zero_copy_only=False).astype(float)
    days = table.column("date").to_numpy(zero_copy_only=False)
    index = aqi.pm25_aqi(pm25, days) if len(pm25) else np.array([])
    bands = aqi.pm25_band(pm25, days) if len(pm25) else np.array([], dtype=int)
    known = ~np.isnan(index)
    cats = [aqi.category(int(b)) if b else None for b in bands]
    columns = {
        "aqi_pm25": pa.array(np.where(known, index, 0).astype("int64"), mask=~known),
        "aqi_band": pa.array(bands.astype("int64"), mask=~known),
        "aqi_category_th": pa.array([c.name_th if c else None for c in cats], pa.string()),
        "aqi_category_en": pa.array([c.name_en if c else None for c in cats], pa.string()),
        "aqi_colour_hex": pa.array([c.colour_hex if c else None for c in cats], pa.string()),
    }
    position = table.schema.get_field_index("pm25_city_mean") + 1
    for offset, (name, values) in enumerate(columns.items()):
        table = table.add_column(position + offset, name, values)
    return table


def build_network_marts(releases: Sequence[MemberRelease]) -> dict[str, pa.Table]:
    """Both network marts from the members' verified copies (members with none get a summary
    row with their status and no figures)."""
    with duckdb.connect(":memory:") as connection:
        connection.execute(SETUP)
        for release in releases:
            _load_member(connection, release)
        daily = connection.sql(DAILY).to_arrow_table()
        summary = connection.sql(SUMMARY).to_arrow_table()
    return {"network_city_daily": with_aqi(daily), "network_city_summary": summary}
