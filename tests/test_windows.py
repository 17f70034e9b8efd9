"""The one reader and walker of date windows (`city_pipeline.windows`)."""

from datetime import date

import pytest

from city_pipeline.windows import days_between, months_between, parse_day


def test_days_between_includes_both_ends_and_crosses_a_leap_day():
    days = list(days_between(date(2024, 2, 28), date(2024, 3, 1)))
    assert days == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    assert list(days_between(date(2024, 3, 2), date(2024, 3, 1))) == []


def test_months_between_starts_at_the_first_month_and_crosses_a_year():
    months = list(months_between(date(2023, 11, 15), date(2024, 1, 1)))
    assert months == [date(2023, 11, 1), date(2023, 12, 1), date(2024, 1, 1)]


def test_parse_day_names_what_it_read_on_a_bad_value():
    assert parse_day("2024-01-31") == date(2024, 1, 31)
    message = r"^--start: expected a day as YYYY-MM-DD, got '31/01/2024'$"
    with pytest.raises(ValueError, match=message):
        parse_day("31/01/2024", "--start")
