"""The published HTML report and validation summary (offline: inline CSS and SVG, no CDN)."""

from city_pipeline.report.builder import ReportInputs, render_report, render_validation_summary
from city_pipeline.report.summary import render_summary

__all__ = ["ReportInputs", "render_report", "render_summary", "render_validation_summary"]
