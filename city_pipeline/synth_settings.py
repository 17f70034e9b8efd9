"""The `recordings:` section of a city YAML: what `make recordings` (city_pipeline.synth) needs to
invent a plausible recorded window for the city, so a new city needs a YAML, not code.

Only the generator reads it; capture, curation and the report never do. Every key has a default,
so a city YAML may leave the section out and still get recordings in the real payload shapes;
set the values that make the city's synthetic data look like its own (its PM2.5 season, its
street names, how many complaints a day it gets).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pm25Season(_Strict):
    """Daily mean PM2.5 (µg/m³) = base + peak * bell(day of year), times the day's weather,
    clipped to [low, high]. Fit these to the city's station in the PCD daily series
    (bundled as data/history/pcd_daily_pm25.csv) and say so in the YAML."""

    base: float = Field(default=33.0, ge=0)
    peak: float = Field(default=22.0, ge=0)
    peak_doy: int = Field(default=58, ge=1, le=366)  # day of year of the seasonal peak
    width: float = Field(default=26.0, gt=0)  # days; the bell's e-folding half-width
    low: float = Field(default=24.0, ge=0)
    high: float = Field(default=95.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Pm25Season:
        if self.high <= self.low:
            raise ValueError(f"high {self.high} must be above low {self.low}")
        return self


class TraffyFlavour(_Strict):
    """What the synthetic complaints say about places, and how many arrive a day."""

    # Defaults are generic Thai municipal street names; a city lists its own real streets.
    streets: list[str] = Field(
        default=["ถนนเทศบาล 1", "ถนนเทศบาล 2", "ถนนหน้าเมือง", "ถนนสายกลาง", "ถนนราษฎร์บำรุง"],
        min_length=1,
    )
    landmarks: list[str] = Field(
        default=["หน้าตลาดสด", "หน้าโรงเรียน", "หน้าวัด", "ใกล้สถานีขนส่ง"], min_length=1
    )
    # Standard deviation (degrees) of ticket coordinates around the city centre.
    spread_deg: float = Field(default=0.025, gt=0, le=1)
    new_per_day: tuple[int, int] = (9, 27)  # new tickets on an ordinary day: (fewest, most)

    @model_validator(mode="after")
    def _range(self) -> TraffyFlavour:
        low, high = self.new_per_day
        if not 1 <= low <= high:
            raise ValueError(f"new_per_day {list(self.new_per_day)}: need 1 <= fewest <= most")
        return self


class RecordingSettings(_Strict):
    pm25: Pm25Season = Pm25Season()
    traffy: TraffyFlavour = TraffyFlavour()
