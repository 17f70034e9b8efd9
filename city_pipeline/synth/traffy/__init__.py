"""Traffy Fondue `teamchadchart-stat-api/geojson/v1` pages for the recorded window.

Follows real-samples/traffy_teamchadchart_stat_api_geojson_v1_2026-09-26_excerpt.json: the same
envelope and property names, numbers as numbers, naive Asia/Bangkok timestamps. The tickets are
invented (seeded), with what curation must cope with:

* each ticket reappears on every later day it changes (รอรับเรื่อง -> ส่งต่อ(ใหม่) ->
  กำลังดำเนินการ -> เสร็จสิ้น with timestamp_finished), so the latest version must be picked;
* district and subdistrict names as Traffy writes them: with and without อ./อำเภอ/เขต/ต./ตำบล/
  แขวง prefixes, trailing spaces, and a few misspelt names that resolve to no admin area;
* two storm days whose flood complaints need a second page, one day with no tickets at all, and
  days where the server's cache warning leaves `total` at 0 beside real features (when no page of
  a day gives its total, the source asks for one more page, which comes back empty);
* a few descriptions with fake personal data (a Thai national ID with a valid mod-11 check digit,
  a mobile number, an e-mail address) for the privacy scrubber.

Admin-area names: thailand-geography-data/thailand-geography-json (MIT, Copyright (c) 2023-Present
Joe Takara), the districts and subdistricts of Bangkok (10) and Mueang Khon Kaen (4001).
"""

from __future__ import annotations

from city_pipeline.synth.traffy.flavour import (
    BANGKOK_NAMING,
    PROVINCIAL_NAMING,
    CityFlavour,
    SpecialDays,
    as_written,
    fake_contact,
    flavour_of,
    misspell,
    special_days,
    thai_national_id,
)
from city_pipeline.synth.traffy.pages import (
    daily_features,
    day_recordings,
    envelope,
    pages,
    recordings,
)
from city_pipeline.synth.traffy.places import DISTRICTS, SUBDISTRICTS
from city_pipeline.synth.traffy.tickets import Ticket, TicketFactory, generate_tickets, report_time

__all__ = [
    "BANGKOK_NAMING",
    "CityFlavour",
    "DISTRICTS",
    "PROVINCIAL_NAMING",
    "SUBDISTRICTS",
    "SpecialDays",
    "Ticket",
    "TicketFactory",
    "as_written",
    "daily_features",
    "day_recordings",
    "envelope",
    "fake_contact",
    "flavour_of",
    "generate_tickets",
    "misspell",
    "pages",
    "recordings",
    "report_time",
    "special_days",
    "thai_national_id",
]
