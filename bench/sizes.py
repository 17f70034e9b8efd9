"""Benchmark sizes: how big a city and how long a history each size generates.

`L` is the target scale of the issue (100 Air4Thai stations x 2 years hourly = 1.75 M readings,
2 M Traffy tickets with their state history, 2 years of weather, every one of Thailand's 7,436
subdistricts in the monthly population files). `S` runs in a few minutes on a 2-core laptop, `M`
sits between, and `XS` exists for the test that keeps the harness from rotting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

# Every size starts here: the window crosses 2023-06-01, when the Thai PM2.5 AQI bands changed.
WINDOW_START = date(2023, 1, 1)


@dataclass(frozen=True)
class Size:
    name: str
    stations: int  # the city's Air4Thai stations (hourly history for each)
    days: int  # history length: every daily source covers these days
    tickets: int  # Traffy tickets reported during the window (each has 1-4 versions)
    description: str

    @property
    def start(self) -> date:
        return WINDOW_START

    @property
    def end(self) -> date:
        return WINDOW_START + timedelta(days=self.days - 1)

    @property
    def readings(self) -> int:
        return self.stations * self.days * 24

    def months(self) -> list[date]:
        """First day of every month the window touches (DOPA partitions)."""
        month, out = self.start.replace(day=1), []
        while month <= self.end:
            out.append(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "readings": self.readings,
            "months": len(self.months()),
        }


SIZES: dict[str, Size] = {
    "XS": Size("XS", stations=2, days=3, tickets=60, description="smoke test (pytest)"),
    "S": Size("S", stations=10, days=60, tickets=12_000, description="a few minutes"),
    "M": Size("M", stations=30, days=365, tickets=200_000, description="one year, mid-size city"),
    "L": Size(
        "L",
        stations=100,
        days=730,
        tickets=2_000_000,
        description="two years, Bangkok scale (1.75 M readings, 2 M tickets)",
    ),
}


def get_size(name: str) -> Size:
    try:
        return SIZES[name.upper()]
    except KeyError:
        raise SystemExit(f"unknown size {name!r}: choose one of {', '.join(SIZES)}") from None
