"""Network mart figures on two small member releases, each figure worked out by hand from the
fixture in tests/network_members.py (KHON_KAEN, CHIANG_MAI)."""

from datetime import date

import pytest
from network_members import copy_members, network_yaml

from city_pipeline.network.config import load_network
from city_pipeline.network.marts import build_network_marts
from city_pipeline.network.members import check_members


@pytest.fixture(scope="module")
def marts(network_members, tmp_path_factory):
    data_dir = copy_members(network_members, tmp_path_factory.mktemp("marts") / "data")
    members = {s: f"{s}/published/current" for s in ("khon_kaen", "chiang_mai")}
    network = load_network(network_yaml(data_dir, members), data_dir)
    releases = check_members(network)
    assert [r.status for r in releases] == ["verified", "verified"]
    tables = build_network_marts(releases)
    daily = {(r["city_slug"], r["date"]): r for r in tables["network_city_daily"].to_pylist()}
    summary = {r["city_slug"]: r for r in tables["network_city_summary"].to_pylist()}
    return daily, summary


def test_one_row_per_city_per_day(marts):
    daily, _ = marts
    assert len(daily) == 20
    assert {slug for slug, _ in daily} == {"khon_kaen", "chiang_mai"}
    assert daily[("chiang_mai", date(2024, 1, 3))]["city_name_en"] == "Chiang Mai City Municipality"


def test_complaint_figures_of_a_day(marts):
    daily, _ = marts
    day = daily[("khon_kaen", date(2024, 1, 2))]
    # four tickets opened; December's 80,000 residents (February's 120,000 is after the day;
    # the province is coarser and 4002 is not the city's): 4 * 10,000 / 80,000
    assert day["complaints"] == 4
    assert (day["residents"], day["residents_level"]) == (80_000, "district")
    assert day["complaints_per_10k_residents"] == pytest.approx(0.5)
    assert day["median_resolution_hours"] == pytest.approx(30.0)  # of 10, 30, 200 (one open)
    assert day["duplicate_share"] == pytest.approx(0.25)  # KK-2 of four
    assert day["resolved_within_7d_share"] == pytest.approx(0.5)  # 10 h and 30 h of four
    quiet = daily[("khon_kaen", date(2024, 1, 3))]
    assert quiet["complaints"] == 0 and quiet["complaints_per_10k_residents"] == 0
    assert quiet["median_resolution_hours"] is None


def test_within_7_days_is_unknown_for_the_last_week(marts):
    daily, _ = marts
    # the data ends on 10 January: 5 January's ticket (resolved in 4 h) cannot be judged yet
    assert daily[("khon_kaen", date(2024, 1, 5))]["complaints"] == 1
    assert daily[("khon_kaen", date(2024, 1, 5))]["resolved_within_7d_share"] is None
    assert daily[("chiang_mai", date(2024, 1, 1))]["resolved_within_7d_share"] == pytest.approx(1)


def test_aqi_and_forecast(marts):
    daily, _ = marts
    # PM2.5 20.0 in the 15.1-25.0 band (AQI 26-50): 24 / 9.9 * (20 - 15.1) + 26 = 37.88 -> 38
    last = daily[("khon_kaen", date(2024, 1, 10))]
    assert last["pm25_city_mean"] == 20.0
    assert (last["aqi_pm25"], last["aqi_band"], last["aqi_category_en"]) == (38, 2, "Satisfactory")
    assert last["pm25_forecast_tomorrow"] == pytest.approx(42.0)  # issued for 11 January
    assert daily[("khon_kaen", date(2024, 1, 9))]["pm25_forecast_tomorrow"] is None
    assert daily[("chiang_mai", date(2024, 1, 10))]["pm25_forecast_tomorrow"] is None
    # 15.0 is the top of band 1 (0-15 -> 0-25)
    assert daily[("khon_kaen", date(2024, 1, 5))]["aqi_pm25"] == 25
    # 40 in the fourth band, 37.6-75.0 (AQI 101-200): 99 / 37.4 * (40 - 37.6) + 101 = 107.35
    over = daily[("chiang_mai", date(2024, 1, 1))]
    assert (over["aqi_pm25"], over["aqi_band"]) == (107, 4)


def test_summary_figures_and_rankings(marts):
    _, summary = marts
    kk, cm = summary["khon_kaen"], summary["chiang_mai"]
    assert (kk["period_start"], kk["period_end"]) == (date(2023, 12, 12), date(2024, 1, 10))
    assert kk["pm25_mean_30d"] == pytest.approx(15.5)  # mean of 11..20
    assert kk["days_over_pm25_standard"] == 0 and cm["days_over_pm25_standard"] == 10
    assert kk["complaints_30d"] == 6
    assert kk["complaints_per_10k_residents_30d"] == pytest.approx(0.75)  # 6 * 10,000 / 80,000
    assert kk["median_resolution_hours"] == pytest.approx(10.0)  # of 1, 4, 10, 30, 200
    assert kk["duplicate_share"] == pytest.approx(0.1667)  # one of six
    # opened up to 3 January: KK-1..4, two of them within 168 h
    assert kk["resolved_within_7d_share"] == pytest.approx(0.5)
    assert (cm["residents"], cm["residents_level"]) == (20_000, "subdistrict")  # the finest
    assert cm["complaints_per_10k_residents_30d"] == pytest.approx(1.0)
    assert (kk["rank_cleanest_air"], cm["rank_cleanest_air"]) == (1, 2)
    assert (kk["rank_resolved_within_7d"], cm["rank_resolved_within_7d"]) == (2, 1)
