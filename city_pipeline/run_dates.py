"""The dates a user types for `city-pipeline run --start/--end`, checked before anything is written.

ISO dates only (`2024-01-31`). A Buddhist Era year (`2567-01-31`, as Thai users often type) is
refused with the Gregorian date to use instead, rather than converted silently: a converted date
the user did not see would land partitions they did not ask for. Every problem is one line.
"""

from __future__ import annotations

import re
from datetime import date

from city_pipeline.settings import ConfigError
from city_pipeline.thai import BE_OFFSET

ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# No Gregorian year this platform handles comes near 2400; BE years of living memory all do.
FIRST_BE_YEAR = 2400


def parse_day(option: str, text: str) -> date:
    """`text` as a date, or ConfigError naming the option and what to type instead."""
    match = ISO_DAY.match(text.strip())
    if match is None:
        raise ConfigError(f"{option} {text!r} is not a date: use YYYY-MM-DD, e.g. 2024-01-31")
    year, month, day = (int(part) for part in match.groups())
    if year >= FIRST_BE_YEAR:
        gregorian = f"{year - BE_OFFSET:04d}-{month:02d}-{day:02d}"
        raise ConfigError(
            f"{option} {text} looks like a Buddhist Era year (พ.ศ. {year}); "
            f"dates are Gregorian (ค.ศ.): use {gregorian}"
        )
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ConfigError(f"{option} {text} is not a calendar date ({exc})") from None


def run_window(
    start_text: str | None,
    end_text: str | None,
    default: tuple[date, date],
    first_partition: date,
    today: date,
) -> tuple[date, date]:
    """The inclusive window a run materializes: `--end` defaults to `--start`, both to `default`."""
    start = parse_day("--start", start_text) if start_text else default[0]
    fallback_end = start if start_text else default[1]
    end = parse_day("--end", end_text) if end_text else fallback_end
    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}")
    if start < first_partition:
        raise ConfigError(
            f"--start {start} is before the city's first partition {first_partition} "
            "(partitions_start in the city YAML)"
        )
    if end > today:
        raise ConfigError(f"--end {end} is in the future (today is {today})")
    return start, end
