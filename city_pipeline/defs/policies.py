"""What operations needs on every asset, filled in where a layer did not choose: a freshness
policy by cadence, the `eager` automation condition on curate and consume, and the owners.

The freshness windows come from `city_pipeline/freshness.py`, the one definition of "stale": the
Dagster UI shows them, `city-pipeline status` and the release's source table apply the same rules.
"""

from __future__ import annotations

import warnings
from typing import Any

import dagster as dg

from city_pipeline.defs.jobs import cadence
from city_pipeline.freshness import FreshnessRule, rule_for

OWNERS = ["team:city-data-platform"]
EAGER_GROUPS = ("curate", "consume")


def freshness_policy(rule: FreshnessRule) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=rule.fail_after, warn_window=rule.warn_after)


def rule_of(policy: object) -> FreshnessRule | None:
    """The rule a time-window policy applies (what `status` records); None for other kinds."""
    fail = getattr(policy, "fail_window", None)
    if fail is None:
        return None
    warn = getattr(policy, "warn_window", None)
    fail_after = fail.to_timedelta()
    return FreshnessRule(warn.to_timedelta() if warn else fail_after, fail_after)


# Dagster's `eager`, except that an old hole in a daily source's history (a day a source never
# answered) does not block the marts forever: only a missing *latest* partition of a dependency
# holds an asset back (as before the nightly run has captured yesterday, or on a fresh install).
_AC = dg.AutomationCondition
LATEST_DEPENDENCY_MISSING = _AC.any_deps_match(
    _AC.missing() & _AC.in_latest_time_window() & ~_AC.will_be_requested()
).with_label("latest partition of a dependency missing")
EAGER = (
    _AC.eager()
    .replace("any_deps_missing", LATEST_DEPENDENCY_MISSING)
    .with_label("eager (tolerates old gaps upstream)")
)


def freshness_policy_for(spec: dg.AssetSpec) -> dg.FreshnessPolicy:
    return freshness_policy(rule_for(cadence(spec.partitions_def)))


def operating_policy(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Fill in what operations needs on an asset; a layer's own choice always wins."""
    changes: dict[str, Any] = {}
    if spec.freshness_policy is None:
        changes["freshness_policy"] = freshness_policy_for(spec)
    if spec.automation_condition is None and spec.group_name in EAGER_GROUPS:
        changes["automation_condition"] = EAGER
    if not spec.owners:
        changes["owners"] = OWNERS
    return spec.replace_attributes(**changes) if changes else spec


def with_operating_policies(defs: dg.Definitions) -> dg.Definitions:
    """Freshness policies, automation conditions and owners on every asset of the layers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        return defs.map_asset_specs(func=operating_policy)
