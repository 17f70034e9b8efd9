"""When data is stale: one rule per cadence, the only definition of freshness in the platform.

Used three ways, always with the same windows:
- `defs/policies.py` turns the rule of an asset's cadence into its Dagster freshness policy (the
  daemon and the UI judge assets by it);
- `city-pipeline status` judges each asset by the rule recorded from that policy
  (`status_catalog.py`), without importing Dagster;
- the release's per-source table (`consume/freshness.py`) calls a source late when its newest
  published day is more than the rule's fail window behind the report day.

A source's `cadence` in the city YAML (`daily`, the default, or `monthly`) chooses its capture
job and partitions and, through this table, its freshness. Assets downstream of the captures are
rebuilt nightly and follow the daily rule; models retrained by the weekly job follow the weekly
rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

FRESH, WARN, STALE, NEVER, NO_RULE = "fresh", "warn", "STALE", "never", "-"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class FreshnessRule:
    """Stale once the newest data or materialization is `fail_after` old; a warning from
    `warn_after`."""

    warn_after: timedelta
    fail_after: timedelta

    def state(self, age: timedelta | None) -> str:
        if age is None:
            return NEVER
        if age >= self.fail_after:
            return STALE
        return WARN if age >= self.warn_after else FRESH

    @property
    def allowed_lag_days(self) -> int:
        """Whole days the newest data may trail the report day (26 h → 2 days)."""
        return math.ceil(self.fail_after / DAY)


RULES: dict[str, FreshnessRule] = {
    # Nightly data may be up to a day old plus the run's own time; a night missed is stale.
    "daily": FreshnessRule(warn_after=timedelta(hours=25), fail_after=timedelta(hours=26)),
    # Retrained every week (the `weekly_retrain` job), with a few hours' slack for a slow run.
    "weekly": FreshnessRule(warn_after=timedelta(days=7, hours=6), fail_after=timedelta(days=8)),
    # Monthly sources refresh once a month: a month of 31 days plus two days of slack.
    "monthly": FreshnessRule(warn_after=timedelta(days=32), fail_after=timedelta(days=33)),
}


def rule_for(cadence: str | None) -> FreshnessRule:
    """The rule of a cadence; anything not monthly or weekly is refreshed nightly."""
    return RULES.get(cadence or "daily", RULES["daily"])
