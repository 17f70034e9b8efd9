"""The one-page executive summary (`report/summary.html`): the headline figures and executive
panels of the report, laid out to print on one A4 page (print CSS in `assets/summary.css`).

Every figure is taken from the same functions as the full report, so the two pages cannot disagree.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from markupsafe import Markup

from city_pipeline.report import areas, builder
from city_pipeline.report.inputs import CHART_DAYS, ReportInputs

OLDEST_SHOWN = 5
SLOWEST_SHOWN = 5
AGENCIES_SHOWN = 4


def summary_stylesheet() -> Markup:
    css = resources.files("city_pipeline.report").joinpath("assets/summary.css")
    return Markup(css.read_text(encoding="utf-8"))


def shortened(panels: dict[str, Any] | None) -> dict[str, Any] | None:
    """The executive panels with their long lists cut to what fits on the page."""
    if panels is None:
        return None
    open_cases = dict(panels["open"])
    open_cases["oldest"] = open_cases["oldest"][:OLDEST_SHOWN]
    open_cases["agencies"] = open_cases["agencies"][:AGENCIES_SHOWN]
    resolution = dict(panels["resolution"])
    resolution["rows"] = resolution["rows"][-SLOWEST_SHOWN:][::-1]  # the slowest first
    return {**panels, "open": open_cases, "resolution": resolution}


def render_summary(inputs: ReportInputs) -> str:
    area = areas.panel(inputs)
    context = {
        **builder.common_context(inputs),
        "summary_css": summary_stylesheet(),
        "report_day": inputs.report_day,
        "chart_days": CHART_DAYS,
        "kpis": builder.kpis(inputs),
        "executive": shortened(builder.executive_panels(inputs)),
        "areas": {k: v for k, v in area.items() if not k.endswith("_svg")},
        "counting_start": builder.counting_start(inputs),
    }
    return builder.environment().get_template("summary.html.j2").render(**context)
