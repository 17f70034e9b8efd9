"""Date windows: one vocabulary and one way to read and walk them.

"Window" means five different things in this project; each has one name, used the same way in
code, docs and messages:

- **recorded window**: the days the bundled recordings cover (`recorded_window` in the city
  YAML). Replay runs (`make run`, `city-pipeline run` without `--start`) materialize it, and the
  synthetic recordings (`city_pipeline.synth`) are generated for it.
- **backfill range**: the first and last day an operator asks for (`city-pipeline run --start
  --end`, a Dagster backfill). Inclusive at both ends, like every range of days here.
- **partition window**: the partitions one run materializes: a Dagster run's `partition_keys`
  (one day at night, every day of a range in a single-run backfill; the first day of each month
  for monthly sources). Assets read it with `partition_days(context.partition_keys)`; dbt gets it
  as `min_date`/`max_date` (`defs/curate.window_vars`).
- **request window**: the dates one request to a source covers. Every source asks for one
  partition at a time, so it is the partition's day (Traffy `start`/`end`, Air4Thai `sdate`/
  `edate`, Open-Meteo `start_date`/`end_date`) or month (DOPA); only Traffy's Exchange API widens
  it by `duration` (`sources.traffy.client.exchange_duration`).
- **parse window**: consecutive landed partitions parsed in one DuckDB query
  (`capture.write_windows`, bounded by `capture.WINDOW_BYTES`; helpers in
  `sources/window_parse.py`). Each day's rows are what parsing that day alone gives.
- **freshness window**: how long an asset may go without a new materialization before it is late
  (the Dagster freshness policies in `defs/automation.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta


def parse_day(text: str, what: str = "date") -> date:
    """A `YYYY-MM-DD` day (a partition key, an option's value); anything else is a one-line
    error naming `what` was being read."""
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected a day as YYYY-MM-DD, got {text!r}") from None


def days_between(start: date, end: date) -> Iterator[date]:
    """Every day from `start` to `end`, both included."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def months_between(start: date, end: date) -> Iterator[date]:
    """The first day of every month from `start`'s month to `end`, both included."""
    month = start.replace(day=1)
    while month <= end:
        yield month
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_days(partition_keys: Iterable[str]) -> list[date]:
    """The days of a partition window from its Dagster partition keys (`YYYY-MM-DD`, daily and
    monthly alike), in order."""
    return sorted(parse_day(key, "partition key") for key in partition_keys)
