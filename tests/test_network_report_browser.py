"""The network report in a real headless Chromium (as tests/test_report_browser.py does): loads from
file:// with the network off, no console error, every chart drawn, stale members marked, the
rankings state what they rank by. A screenshot is kept in the artifacts folder."""

import pytest
from network_members import copy_members, network_yaml
from test_report_browser import ARTIFACTS, browser_context, open_page  # noqa: F401  (fixture)

from city_pipeline.network.config import load_network
from city_pipeline.network.hub import publish_network


@pytest.fixture(scope="module")
def report(network_members, tmp_path_factory):
    data_dir = copy_members(network_members, tmp_path_factory.mktemp("report") / "data")
    members = {s: f"{{data_dir}}/{s}/published/current" for s in ("khon_kaen", "chiang_mai")}
    members["hat_yai"] = "{data_dir}/hat_yai/published/current"  # never published: missing
    network = load_network(network_yaml(data_dir, members), data_dir)
    return publish_network(network).release.report


def test_network_report_renders_in_chromium(browser_context, report):  # noqa: F811
    page, problems = open_page(browser_context, report)
    assert page.title().startswith("เปรียบเทียบเมือง เครือข่ายทดสอบ")
    assert problems == []
    # the PM2.5 chart and one bar chart per measure, each with drawn marks
    charts = page.locator("svg.chart-svg")
    assert charts.count() == 6
    for index in range(charts.count()):
        assert charts.nth(index).locator(".mark").count() > 0, index
    stale = page.locator("#stale-members li.stale-member")
    assert stale.count() == 1 and "hat_yai" in stale.first.get_attribute("data-city")
    ranking = page.locator("#rank-cleanest-air")
    assert "lowest first" in ranking.inner_text()
    first = ranking.locator("tr").nth(1).inner_text()
    assert first.startswith("1") and "Khon Kaen" in first  # PM2.5 15.5 against Chiang Mai's 40
    box = page.locator("#summary-table").bounding_box()
    assert box and box["width"] > 300
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "network-report.png"), full_page=True)
    page.close()
