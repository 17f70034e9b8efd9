"""The report in a real headless Chromium (Debian's `chromium`, driven by Playwright's Python
package through `executable_path`; no browser is downloaded): it loads from file:// with the
network off, logs no console error, asks for nothing over the network, and draws every chart.

Screenshots (the whole report, each new panel, the summary page) and the summary's A4 PDF are
kept in `$CITY_PIPELINE_ARTIFACTS`, by default tests/artifacts/ (git-ignored), for CI to keep.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from city_pipeline.consume.catalog import PUBLISHED_MARTS
from city_pipeline.consume.demo import build_demo_warehouse
from city_pipeline.consume.freshness import source_freshness
from city_pipeline.consume.validation import ExpectationOutcome, ValidationOutcome
from city_pipeline.consume.warehouse import read_mart
from city_pipeline.report import (
    ReportInputs,
    render_report,
    render_summary,
    render_validation_summary,
)
from city_pipeline.settings import load_settings

ARTIFACTS = Path(os.environ.get("CITY_PIPELINE_ARTIFACTS") or Path(__file__).parent / "artifacts")
CHARTS = ("pm25", "complaints-district", "complaints-category", "backlog", "rain-flood")
# The data_provenance of a replayed run of every source (consume/provenance.py's shape).
REPLAYED = {
    "replayed": True,
    "note": "replayed",
    "sources": {
        source: {"generated": {"days": 91, "ranges": [["2024-01-01", "2024-03-31"]]}}
        for source in ("air4thai", "ckan", "dopa", "open_meteo", "traffy")
    },
}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(path).exists(), "Chromium is missing: apt-get install -y chromium fonts-thai-tlwg"
    return path


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory) -> Path:
    """A report and validation summary laid out as in a release (report/, validation/)."""
    root = tmp_path_factory.mktemp("release")
    warehouse = build_demo_warehouse(root / "warehouse.duckdb", days=91)
    tables = {m.name: read_mart(warehouse, m.name, m.schema) for m in PUBLISHED_MARTS}
    report_day = max(tables["mart_city_daily"].column("date").to_pylist())
    checks = [ExpectationOutcome("expect_table_row_count_to_be_between", None, True, "1")]
    validations = [
        ValidationOutcome(
            name, f"{name}.json", True, table.num_rows, "2024-04-01T02:00:00+00:00", checks
        )
        for name, table in tables.items()
    ]
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(root)})
    inputs = ReportInputs(
        city=settings.city,
        tables=tables,
        validations=validations,
        freshness=source_freshness(settings, tables, report_day),
        release_id="20240401T020000.000000Z",
        generated_at="2024-04-01T02:00:00+00:00",
        report_day=report_day,
        provenance=REPLAYED,  # as after `make run`: the demo banner is part of every page
    )
    for name, html in (
        ("report", render_report(inputs)),
        ("validation", render_validation_summary(inputs)),
    ):
        (root / name).mkdir()
        (root / name / "index.html").write_text(html, encoding="utf-8")
    (root / "report" / "summary.html").write_text(render_summary(inputs), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path(),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            offline=True,
        )
        yield context
        context.close()


def open_page(context, path: Path):
    """Load a page, recording console errors, page errors and any non-file request."""
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type in {"error", "warning"}
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def guard(route):
        if route.request.url.startswith("file://"):
            return route.continue_()
        problems.append(f"network request: {route.request.url}")
        return route.abort()

    page.route("**/*", guard)
    page.goto(path.as_uri(), wait_until="load")
    return page, problems


def test_report_renders_in_chromium(browser_context, release_dir):
    page, problems = open_page(browser_context, release_dir / "report" / "index.html")
    assert page.title().startswith("รายงานข้อมูลเมือง เทศบาลนครขอนแก่น")
    for chart in CHARTS:
        figure = page.locator(f'figure[data-chart="{chart}"] svg')
        box = figure.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 60, chart
        marks = page.locator(f'figure[data-chart="{chart}"] svg .mark')
        assert marks.count() > 0, f"{chart} drew nothing"
        drawn = marks.evaluate_all(
            "ms => ms.filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0 })"
            ".length"
        )
        assert drawn > 0, f"{chart}: every mark has an empty box"
    assert page.locator(".kpi").count() == 6
    # Thai text is laid out with real glyphs: a Thai line is as wide as it should be
    title_width = page.locator("header.top h1").evaluate("e => e.getBoundingClientRect().width")
    assert title_width > 200
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n", encoding="utf-8")
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
    assert problems == []


def test_validation_summary_renders_in_chromium(browser_context, release_dir):
    page, problems = open_page(browser_context, release_dir / "validation" / "index.html")
    assert page.locator("section[id^='suite-']").count() == len(PUBLISHED_MARTS)
    page.screenshot(path=str(ARTIFACTS / "validation.png"), full_page=False)
    assert problems == []


# The panels an executive reads, each drawn and screenshotted on its own.
PANELS = (
    "#executive",
    "#panel-week",
    "#panel-pm25-month",
    "#panel-open-cases",
    "#panel-oldest",
    "#panel-resolution",
    "#areas",
    "#complaint-topics",
    "#complaint-surges",
)


def test_new_panels_render_in_chromium(browser_context, release_dir):
    page, problems = open_page(browser_context, release_dir / "report" / "index.html")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for selector in PANELS:
        panel = page.locator(selector)
        box = panel.bounding_box()
        assert box and box["width"] > 250 and box["height"] > 80, selector
        assert panel.locator("p.reading, table").count() > 0, f"{selector} shows no figures"
        panel.screenshot(path=str(ARTIFACTS / f"panel-{selector[1:]}.png"))
    assert page.locator("#panel-oldest tbody tr").count() == 10
    # The schematic map: one circle per subdistrict with tickets, inside the drawing, and the
    # label that says it is not a map.
    svg = page.locator('figure[data-chart="map-subdistricts"] svg')
    frame = svg.bounding_box()
    assert frame and frame["width"] > 300
    circles = svg.locator("circle.mark")
    assert circles.count() >= 1
    for box in circles.evaluate_all("cs => cs.map(c => c.getBoundingClientRect().toJSON())"):
        assert box["width"] > 4
        assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
        assert frame["y"] <= box["y"] and box["y"] + box["height"] <= frame["y"] + frame["height"]
    assert "schematic, not to scale" in svg.text_content()
    rate_bars = page.locator('figure[data-chart="complaints-rate"] svg .mark')
    assert rate_bars.count() >= 1
    # The report links to the printable summary, and the link resolves to the file next to it.
    link = page.locator("a.summary-link")
    assert link.get_attribute("href") == "summary.html"
    assert (release_dir / "report" / "summary.html").exists()
    assert problems == []


def test_summary_prints_on_one_a4_page(browser_context, release_dir):
    page, problems = open_page(browser_context, release_dir / "report" / "summary.html")
    assert page.title().startswith("สรุปสำหรับผู้บริหาร")
    assert page.locator("#replay-banner li").count() == len(REPLAYED["sources"])
    for selector in ("#summary-kpis", "#summary-week", "#summary-pm25", "#summary-open",
                     "#summary-oldest", "#summary-resolution", "#summary-areas"):  # fmt: skip
        assert page.locator(selector).is_visible(), selector
    page.screenshot(path=str(ARTIFACTS / "summary.png"), full_page=True)
    page.emulate_media(media="print")
    # Laid out for print, the sheet is no taller than an A4 page less the @page margins
    # (297 mm - 2 x 9 mm at 96 px per inch), and Chromium's own print-to-PDF makes one page.
    height = page.locator(".sheet").evaluate("e => e.getBoundingClientRect().height")
    assert 0 < height <= (297 - 18) / 25.4 * 96
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "summary.pdf").write_bytes(pdf)
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf)
    assert len(pages) == 1
    assert problems == []
