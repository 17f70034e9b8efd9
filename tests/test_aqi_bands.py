"""The Thai AQI bands have one home, the dbt macro `thai_aqi_band_table()`; Python reads it through
`analyse.aqi` (the synthetic recordings, the report's fallback legend, the demo marts)."""

from datetime import date

import pytest

from city_pipeline.analyse.aqi import band_table, categories, pm25_legend
from city_pipeline.synth.air4thai import aqi_color_id, thai_aqi


def test_band_table_in_force_switches_on_2023_06_01():
    assert band_table("PM25", date(2023, 5, 31))["bands"][0] == (0, 25, 0, 25)
    assert band_table("PM25", date(2023, 6, 1))["bands"][0] == (0, 15.0, 0, 25)
    assert band_table("PM25") is band_table("PM25", date(2030, 1, 1))
    with pytest.raises(KeyError, match="no Thai AQI band table for 'XX'"):
        band_table("XX")


def test_pm25_legend_is_the_current_table_with_the_category_colours():
    legend = pm25_legend()
    highs = [high for _, high, _, _ in legend]
    assert highs == [15.0, 25.0, 37.5, 75.0, None]
    assert [low for low, _, _, _ in legend] == [0.0, 15.0, 25.0, 37.5, 75.0]
    assert [colour for _, _, colour, _ in legend] == [c.colour_hex for c in categories()]
    assert legend[0][3] == "ดีมาก · Excellent"


def test_synthetic_sub_index_uses_the_macro_bands_at_their_edges():
    # 37.5 µg/m³ tops band 3 (AQI 100) from 2023-06-01; before, 37 tops band 2 (AQI 50).
    assert thai_aqi("PM25", 37.5, date(2024, 1, 1)) == 100
    assert thai_aqi("PM25", 37.0, date(2023, 1, 1)) == 50
    assert thai_aqi("SO2", 400.0, date(2024, 1, 1)) == 200
    assert [aqi_color_id(a) for a in (25, 26, 100, 101, 200, 201)] == [1, 2, 3, 4, 4, 5]
