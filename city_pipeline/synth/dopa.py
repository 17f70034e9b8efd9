"""DOPA registered-population files for every month the recorded window touches.

Province level (every city): the format of the real `stat_c67.txt`
(real-samples/dopa_stat_c67_province_population_dec2567.txt) exactly: UTF-8, LF, no header, a
trailing `|`, the country row then the 77 provinces with DOPA's own names. The template has no
`{mm}`, so it is a yearly file and, like the real one, reports December of its BE year (6712).
Values are the real December 2567 figures moved by a seeded +-0.2 % (Khon Kaen stays about
1,77x,xxx), with male + female = total and the country row the sum of the provinces.

District level (where the city YAML lists a district file, i.e. Khon Kaen): one file per month for
the city's province, written the way older DOPA downloads come: cp874 (TIS-620) bytes, CRLF, comma
thousands ("1,234"). Names are written "อำเภอ<name>" (Bangkok: "เขต<name>") — DOPA's district
tables spell the prefix out; staging strips prefixes, raw keeps them. District names come from
the bundled DOPA reference (thailand-geography-json, MIT), for any province; Khon Kaen's sizes are
invented but plausible (Mueang Khon Kaen about 420,000 people) and sum to about the province total.
`scale` does not change these files: their size is fixed by the country's admin areas.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

from city_pipeline import reference
from city_pipeline.settings import PROJECT_ROOT, DopaFile, Settings
from city_pipeline.sources import dopa
from city_pipeline.synth import Recording
from city_pipeline.windows import months_between

SAMPLES = PROJECT_ROOT / "data" / "recordings" / "real-samples"
PROVINCE_SAMPLE = SAMPLES / "dopa_stat_c67_province_population_dec2567.txt"
TEXT_PLAIN = {"content-type": "text/plain"}

# Relative sizes of Khon Kaen's districts (registered population, thousands, rounded); any other
# province's districts weigh 50 each, drawn around that (a city may list a district file too).
KHON_KAEN_DISTRICT_WEIGHTS: dict[str, int] = {
    "4001": 420,
    "4002": 60,
    "4003": 38,
    "4004": 83,
    "4005": 112,
    "4006": 82,
    "4007": 108,
    "4008": 55,
    "4009": 83,
    "4010": 102,
    "4011": 23,
    "4012": 86,
    "4013": 30,
    "4014": 49,
    "4015": 78,
    "4016": 78,
    "4017": 71,
    "4018": 51,
    "4019": 32,
    "4020": 24,
    "4021": 27,
    "4022": 29,
    "4023": 21,
    "4024": 31,
    "4025": 24,
    "4029": 30,
}

Row = tuple[str, str, int, int, int]  # code, name, male, female, households


def _real_provinces() -> list[tuple[str, str, int, int, int]]:
    """(code, name, male, female, households) of the real December 2567 file, country row out."""
    rows = []
    for line in PROVINCE_SAMPLE.read_text(encoding="utf-8").splitlines():
        fields = line.split("|")
        if fields[1] != "0":
            rows.append((fields[1], fields[2], int(fields[6]), int(fields[7]), int(fields[9])))
    return rows


def _province_rows(rng: random.Random, year_be: int) -> list[Row]:
    drift = 1 + 0.002 * (year_be - 2567)  # registered population moves little year to year
    rows = []
    for code, name, male, female, households in _real_provinces():
        factor = drift * rng.uniform(0.998, 1.002)
        rows.append(
            (
                code,
                name,
                round(male * factor),
                round(female * factor),
                round(households * factor * rng.uniform(0.999, 1.001)),
            )
        )
    return rows


def _line(
    yymm: str, code: str, name: str, male: int, female: int, households: int, thousands: bool
) -> str:
    number = "{:,}" if thousands else "{}"
    counts = [number.format(v) for v in (male, female, male + female, households)]
    return "|".join([yymm, code, name, "0", "0", "0", *counts]) + "|"


def province_file(rows: list[Row], yymm: str) -> bytes:
    """The whole country: the country row, then every province, as the real file is."""
    male, female, households = (sum(r[i] for r in rows) for i in (2, 3, 4))
    lines = [_line(yymm, "0", "ทั่วประเทศ", male, female, households, False)]
    lines += [_line(yymm, code, name, m, f, h, False) for code, name, m, f, h in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _districts(province_code: str) -> list[tuple[str, str]]:
    """The province's (district code, Thai name), from the bundled DOPA reference."""
    return sorted(
        (code, place.name_th)
        for code, place in reference.places("district").items()
        if place.parent == province_code
    )


def district_weights(rng: random.Random, province_code: str) -> dict[str, float]:
    """Each district's share of the province, drawn once so months differ only by a small drift."""
    weights = {
        code: KHON_KAEN_DISTRICT_WEIGHTS.get(code, 50) * rng.uniform(0.98, 1.02)
        for code, _ in _districts(province_code)
    }
    return {code: weight / sum(weights.values()) for code, weight in weights.items()}


def district_file(
    rng: random.Random, province: Row, weights: dict[str, float], month: date
) -> bytes:
    """The province's districts for one month: cp874, CRLF, comma thousands."""
    code, _, male, female, households = province
    prefix = "เขต" if code == "10" else "อำเภอ"
    # Slightly more people early in the year (the province file is December's), plus a few
    # births, deaths and moves per district and month.
    month_factor = 1 + 0.0003 * (12 - month.month)
    yymm = "".join(dopa.be_yy_mm(month))
    lines = []
    for district, name in _districts(code):
        share = weights[district] * month_factor * rng.uniform(0.9998, 1.0002)
        lines.append(
            _line(
                yymm,
                district,
                prefix + name,
                round(male * share),
                round(female * share),
                round(households * share),
                True,
            )
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp874")


def _is_yearly(entry: DopaFile) -> bool:
    return "{mm}" not in entry.path_template


def recordings(settings: Settings, rng: random.Random, scale: int = 1) -> Iterator[Recording]:
    dopa_settings = settings.config.sources.dopa
    window = settings.config.recorded_window
    province_code = settings.city.province_code
    provinces: dict[int, list[Row]] = {}
    weights: dict[str, dict[str, float]] = {}
    seen: set[str] = set()
    for month in months_between(window.start, window.end):
        year_be = month.year + dopa.BE_OFFSET
        if year_be not in provinces:
            provinces[year_be] = _province_rows(rng, year_be)
        own = next(r for r in provinces[year_be] if r[0] == province_code)
        for entry in dopa_settings.files:
            url = dopa.file_url(dopa_settings, entry, month)
            if url in seen:
                continue
            seen.add(url)
            if entry.level == "province":
                yymm = (
                    dopa.be_yy_mm(month)[0] + "12"
                    if _is_yearly(entry)
                    else "".join(dopa.be_yy_mm(month))
                )
                body = province_file(provinces[year_be], yymm)
            elif entry.level == "district":
                if province_code not in weights:
                    weights[province_code] = district_weights(rng, province_code)
                body = district_file(rng, own, weights[province_code], month)
            else:
                raise ValueError(
                    f"no generator for DOPA {entry.level}-level files yet ({entry.path_template})"
                )
            yield Recording(url=url, params={}, body=body, headers=TEXT_PLAIN)
