"""Schedules, sensors, freshness and automation of the Operate layer, evaluated for real:
schedules with `build_schedule_context` on a real (temporary) Dagster instance, the run-failure
sensor with `build_run_status_sensor_context` on a run that really failed, its webhook against a
local HTTP server (answering, failing, hanging, unreachable)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from werkzeug import Response

from city_pipeline import alerts
from city_pipeline.defs import jobs, policies, schedules, sensors
from city_pipeline.defs.build import build_definitions
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import SourceMode, load_settings
from city_pipeline.status_store import partition_label

BANGKOK = ZoneInfo("Asia/Bangkok")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path_factory.mktemp("automation"))})


@pytest.fixture(scope="module")
def defs(settings) -> dg.Definitions:
    return build_definitions(settings)


@pytest.fixture(scope="module")
def repo(defs):
    return defs.get_repository_def()


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def daily_keys(defs) -> list[dg.AssetKey]:
    return jobs.daily_keys([a for a in defs.assets if isinstance(a, dg.AssetsDefinition)])


def mark_materialized(instance, keys, days) -> None:
    for key in keys:
        for day in days:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=day))


def tick(repo, name: str, instance, when: datetime):
    """One tick of the schedule as the daemon evaluates it (validated against the job)."""
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=repo
    )
    return repo.get_schedule_def(name).evaluate_tick(context)


# --- schedules ---------------------------------------------------------------------------------


def test_nightly_schedule_runs_nightly_refresh_at_two_bangkok_time(repo):
    schedule = repo.get_schedule_def(schedules.NIGHTLY_SCHEDULE)
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Bangkok"
    assert schedule.job_name == jobs.NIGHTLY_JOB
    monthly = repo.get_schedule_def(schedules.MONTHLY_SCHEDULE)
    assert (monthly.cron_schedule, monthly.execution_timezone) == ("0 1 15 * *", "Asia/Bangkok")
    assert monthly.job_name == jobs.MONTHLY_JOB


def test_nightly_tick_requests_yesterday_in_the_citys_calendar(repo, defs, instance):
    keys = daily_keys(defs)
    assert dg.AssetKey(["raw", "air4thai_hourly"]) in keys
    # The last week is complete: only yesterday is requested.
    mark_materialized(instance, keys, [f"2024-02-{d}" for d in range(20, 30)])
    # 02:00 in Bangkok on 1 March is 19:00 UTC on 29 February: yesterday is 29 February.
    result = tick(
        repo, schedules.NIGHTLY_SCHEDULE, instance, datetime(2024, 2, 29, 19, 0, tzinfo=UTC)
    )
    assert [r.partition_key for r in result.run_requests] == ["2024-02-29"]
    request = result.run_requests[0]
    assert request.tags["city_pipeline/trigger"] == "nightly"
    assert request.run_key == "nightly_refresh-2024-02-29"


def test_nightly_tick_catches_up_missing_days_of_the_last_week(repo, defs, instance):
    keys = daily_keys(defs)
    days = [f"2024-02-{d:02d}" for d in range(20, 30)]
    mark_materialized(instance, keys, [d for d in days if d not in ("2024-02-26", "2024-02-27")])
    # One source missed 27 February: that day alone is missing for that asset.
    mark_materialized(instance, [k for k in keys if k.path[-1] != "traffy_tickets"], ["2024-02-27"])
    mark_materialized(instance, keys[:1], ["2024-02-26"])  # a partial day is still missing
    result = tick(
        repo, schedules.NIGHTLY_SCHEDULE, instance, datetime(2024, 3, 1, 2, 0, tzinfo=BANGKOK)
    )
    assert [r.partition_key for r in result.run_requests] == [
        "2024-02-26",
        "2024-02-27",
        "2024-02-29",
    ]
    assert [r.tags["city_pipeline/trigger"] for r in result.run_requests] == [
        "catch-up",
        "catch-up",
        "nightly",
    ]


def test_nightly_catch_up_is_bounded_to_a_week_and_the_first_partition(repo, instance, settings):
    empty = tick(
        repo, schedules.NIGHTLY_SCHEDULE, instance, datetime(2024, 3, 1, 2, 0, tzinfo=BANGKOK)
    )
    assert [r.partition_key for r in empty.run_requests] == [
        (datetime(2024, 2, 23) + timedelta(days=n)).date().isoformat() for n in range(7)
    ]
    first = settings.config.partitions_start
    before = tick(
        repo,
        schedules.NIGHTLY_SCHEDULE,
        instance,
        datetime.combine(first, datetime.min.time(), BANGKOK) + timedelta(hours=2),
    )
    assert before.run_requests == []  # yesterday precedes the first partition
    second = tick(
        repo,
        schedules.NIGHTLY_SCHEDULE,
        instance,
        datetime.combine(first, datetime.min.time(), BANGKOK) + timedelta(days=2, hours=2),
    )
    assert [r.partition_key for r in second.run_requests] == [
        first.isoformat(),
        (first + timedelta(days=1)).isoformat(),
    ]


def test_monthly_tick_requests_the_previous_month(repo, instance):
    result = tick(
        repo, schedules.MONTHLY_SCHEDULE, instance, datetime(2024, 3, 15, 1, 0, tzinfo=BANGKOK)
    )
    assert [r.partition_key for r in result.run_requests] == ["2024-02-01"]
    assert result.run_requests[0].run_key == "monthly_refresh-2024-02"
    skipped = tick(
        repo, schedules.MONTHLY_SCHEDULE, instance, datetime(2024, 1, 15, 1, 0, tzinfo=BANGKOK)
    )
    assert skipped.run_requests == [] and "before the first partition" in skipped.skip_message


def test_partition_keys_requested_exist_in_the_jobs(repo, instance):
    nightly = repo.get_job(jobs.NIGHTLY_JOB)
    monthly = repo.get_job(jobs.MONTHLY_JOB)
    now = datetime(2024, 3, 15, 2, 0, tzinfo=BANGKOK)
    for job, name in (
        (nightly, schedules.NIGHTLY_SCHEDULE),
        (monthly, schedules.MONTHLY_SCHEDULE),
    ):
        keys = job.partitions_def.get_partition_keys(current_time=now)
        for request in tick(repo, name, instance, now).run_requests:
            assert request.partition_key in keys


def test_automation_runs_by_itself_only_where_real_sources_are_called(settings):
    assert schedules.automation_status(settings, {}) is False  # replay: a laptop, CI
    live = settings.model_copy(update={"source_mode": SourceMode.LIVE})
    assert schedules.automation_status(live, {}) is True  # the city's server
    assert schedules.automation_status(live, {"CITY_PIPELINE_AUTOMATION": "off"}) is False
    assert schedules.automation_status(settings, {"CITY_PIPELINE_AUTOMATION": "on"}) is True
    repo = build_definitions(live).get_repository_def()
    assert (
        repo.get_schedule_def(schedules.NIGHTLY_SCHEDULE).default_status
        == dg.DefaultScheduleStatus.RUNNING
    )
    assert (
        repo.get_sensor_def(sensors.AUTOMATION_SENSOR).default_status
        == dg.DefaultSensorStatus.RUNNING
    )


# --- freshness, automation, retries -------------------------------------------------------


def test_every_asset_has_a_freshness_policy_and_an_owner(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        assert node.freshness_policy is not None, key
        assert node.owners, key
    hourly = graph.get(dg.AssetKey(["raw", "air4thai_hourly"])).freshness_policy
    assert hourly.fail_window.to_timedelta() == timedelta(hours=26)
    population = graph.get(dg.AssetKey(["raw", "dopa_population"])).freshness_policy
    assert population.fail_window.to_timedelta() > timedelta(days=31)


def test_curate_and_consume_update_eagerly_capture_on_schedule(defs):
    graph = defs.resolve_asset_graph()
    groups: dict[str, list] = {}
    for key in graph.materializable_asset_keys:
        groups.setdefault(graph.get(key).group_name, []).append(graph.get(key))
    assert groups.get("curate") and groups.get("consume"), sorted(groups)
    for group in ("curate", "consume"):
        for node in groups[group]:
            assert node.automation_condition is not None, node.key
    assert all(node.automation_condition is None for node in groups["capture"])
    sensor = defs.get_repository_def().get_sensor_def(sensors.AUTOMATION_SENSOR)
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")  # Dagster's own test helper
def test_eager_condition_propagates_a_recapture_despite_old_gaps(instance):
    """The shipped condition on a two-level graph: no request on a fresh install or while the
    latest day is missing; a re-captured day propagates even with old gaps upstream."""
    days = dg.DailyPartitionsDefinition("2024-01-01", timezone="Asia/Bangkok")

    @dg.asset(partitions_def=days)
    def raw(): ...

    @dg.asset(deps=[raw], automation_condition=policies.EAGER)
    def mart(): ...

    @dg.asset(deps=[mart], automation_condition=policies.EAGER)
    def published(): ...

    graph = dg.Definitions(assets=[raw, mart, published])
    when = datetime(2024, 1, 10, 3, tzinfo=BANGKOK)  # latest partition: 2024-01-09
    result = dg.evaluate_automation_conditions(graph, instance, evaluation_time=when)
    assert result.total_requested == 0
    mark_materialized(instance, ["raw"], ["2024-01-05"])
    result = dg.evaluate_automation_conditions(
        graph, instance, evaluation_time=when, cursor=result.cursor
    )
    assert result.total_requested == 0  # yesterday not captured yet
    mark_materialized(instance, ["raw"], ["2024-01-09"])
    result = dg.evaluate_automation_conditions(
        graph, instance, evaluation_time=when, cursor=result.cursor
    )
    assert result.get_num_requested(dg.AssetKey("mart")) == 1
    assert result.get_num_requested(dg.AssetKey("published")) == 1


def test_capture_assets_retry_with_exponential_backoff(defs):
    for asset in defs.assets:
        if isinstance(asset, dg.AssetsDefinition) and set(asset.group_names_by_key.values()) == {
            "capture"
        }:
            assert asset.op.retry_policy.max_retries >= 1
            assert asset.op.retry_policy.backoff == dg.Backoff.EXPONENTIAL


# --- alerts ------------------------------------------------------------------------------------


@dg.op
def fetch_air4thai_hourly():
    raise RuntimeError("Air4Thai answered HTTP 503 for 2024-01-02")


@dg.job(name="nightly_refresh")
def failing_nightly():
    fetch_air4thai_hourly()


@pytest.fixture
def failure_context(instance, tmp_path):
    """The sensor context of a run that really failed, recorded in a real instance."""
    result = failing_nightly.execute_in_process(
        instance=instance,
        raise_on_error=False,
        tags={
            "dagster/partition": "2024-01-02",
            "dagster/schedule_name": "nightly_refresh_schedule",
        },
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
    context = dg.build_run_status_sensor_context(
        sensor_name=sensors.ALERT_SENSOR,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure.dagster_event,
        resources={"city": CityResource(data_dir=str(tmp_path))},
    )
    return context.for_run_failure()


def read_alerts(data_dir: Path) -> list[dict]:
    lines = (data_dir / "alerts" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_failure_writes_a_structured_alert(failure_context, tmp_path, monkeypatch):
    monkeypatch.delenv(alerts.WEBHOOK_ENV, raising=False)
    sensors.run_failure_alerts(failure_context)
    sensors.run_failure_alerts(failure_context)  # appended, one JSON object per line
    written = read_alerts(tmp_path)
    assert len(written) == 2
    alert = written[0]
    assert alert["alert"] == "run_failure"
    assert alert["job"] == "nightly_refresh"
    assert alert["run_id"] == failure_context.dagster_run.run_id
    assert alert["partition"] == "2024-01-02"
    assert alert["trigger"] == "schedule:nightly_refresh_schedule"
    assert alert["city"] == "khon_kaen" and alert["city_name_th"] == "เทศบาลนครขอนแก่น"
    assert alert["failed_steps"][0]["step"] == "fetch_air4thai_hourly"
    assert "HTTP 503 for 2024-01-02" in alert["failed_steps"][0]["error"]


def test_failure_posts_the_alert_to_the_webhook(failure_context, tmp_path, httpserver, monkeypatch):
    httpserver.expect_oneshot_request("/hooks/city", method="POST").respond_with_json({"ok": 1})
    monkeypatch.setenv(alerts.WEBHOOK_ENV, httpserver.url_for("/hooks/city"))
    sensors.run_failure_alerts(failure_context)
    httpserver.check_assertions()
    request, _ = httpserver.log[0]
    posted = json.loads(request.get_data())
    assert posted == read_alerts(tmp_path)[0]
    assert request.headers["Content-Type"] == "application/json"


def test_a_failing_webhook_never_fails_the_sensor(
    failure_context, tmp_path, httpserver, monkeypatch
):
    httpserver.expect_request("/hooks/city").respond_with_data("down", status=500)
    monkeypatch.setenv(alerts.WEBHOOK_ENV, httpserver.url_for("/hooks/city"))
    sensors.run_failure_alerts(failure_context)
    assert len(httpserver.log) == 1
    assert read_alerts(tmp_path)[0]["run_id"] == failure_context.dagster_run.run_id
    assert alerts.post_webhook(httpserver.url_for("/hooks/city"), {}, 2) == "HTTP 500"


def test_a_hanging_webhook_is_cut_off_by_the_time_box(
    failure_context, tmp_path, httpserver, monkeypatch
):
    released = threading.Event()
    answered = threading.Semaphore(0)

    def slow(_request):
        released.wait(timeout=10)  # hangs until the test has seen both calls time out
        answered.release()
        return Response("late", status=200)

    httpserver.expect_request("/hooks/slow").respond_with_handler(slow)
    monkeypatch.setenv(alerts.WEBHOOK_ENV, httpserver.url_for("/hooks/slow"))
    monkeypatch.setenv(alerts.WEBHOOK_TIMEOUT_ENV, "0.5")
    started = time.monotonic()
    sensors.run_failure_alerts(failure_context)
    assert time.monotonic() - started < 2.0
    assert read_alerts(tmp_path)[0]["partition"] == "2024-01-02"
    outcome = alerts.post_webhook(httpserver.url_for("/hooks/slow"), {}, 0.3)
    assert outcome.startswith(("failed: ReadTimeout", "timed out"))
    # Let the server finish both hung requests now, so none lands in the next test's log.
    released.set()
    for _ in range(2):
        assert answered.acquire(timeout=10)


def test_an_unreachable_webhook_is_reported_not_raised():
    from pg_cluster import free_port

    outcome = alerts.post_webhook(f"http://127.0.0.1:{free_port()}/hook", {"a": 1}, 1.0)
    assert outcome == "failed: ConnectionError"
    assert (
        alerts.redacted("https://hooks.example.org/T000/B000/secret")
        == "https://hooks.example.org/…"
    )


def test_partition_label_names_a_day_or_a_range():
    start, end = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
    assert partition_label({"dagster/partition": "2024-01-02"}) == "2024-01-02"
    assert partition_label({start: "2024-01-01", end: "2024-01-31"}) == "2024-01-01..2024-01-31"
    assert partition_label({start: "2024-01-02", end: "2024-01-02"}) == "2024-01-02"
    assert partition_label({}) is None
