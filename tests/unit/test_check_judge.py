"""The checker's judging functions: dates, times, numbers, notices and requests found in free text."""

from __future__ import annotations

import datetime as dt

import pytest

from services.check import judge

TODAY = dt.date(2026, 11, 25)
UTC = dt.UTC
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
NOW = dt.datetime(2026, 11, 25, 20, 46, 46, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25",
        "Date: 2026/11/25",
        "25-11-2026",
        "25/11/2026",
        "25.11.2026",
        "11/25/2026",
        "25/11/26",
        "25 Nov 2026",
        "25th of November, 2026",
        "November 25, 2026",
        "Wed Nov 25 20:46:46 2026",
        "2026-11-25 20:46:46.123456",
        "Today is Wednesday, 25 November 2026\n",
    ],
)
def test_find_dates_reads_the_forms_people_write(text: str) -> None:
    assert TODAY in judge.find_dates(text)


@pytest.mark.parametrize("text", ["", "20:46:46", "2026-13-45", "99/99/2026", "the 25th", "12 + 42 = 54"])
def test_find_dates_finds_no_date_where_there_is_none(text: str) -> None:
    assert judge.find_dates(text) == []


@pytest.mark.parametrize(
    ("text", "hms"),
    [
        ("20:46:46", (20, 46, 46)),
        ("Time: 8:46:46 PM", (20, 46, 46)),
        ("12:05:00 am", (0, 5, 0)),
        ("20:46", (20, 46, None)),
        ("2026-11-25 20:46:46.123456", (20, 46, 46)),
    ],
)
def test_find_times(text: str, hms: tuple[int, int, int | None]) -> None:
    assert judge.find_times(text) == [hms]


@pytest.mark.parametrize("text", ["25-11-2026", "99:99:99", "13:05 PM", "1:2:3:4"])
def test_find_times_rejects_non_times(text: str) -> None:
    assert judge.find_times(text) == []


@pytest.mark.parametrize(
    ("hms", "zones", "ok"),
    [
        ((20, 46, 46), (UTC,), True),
        ((20, 48, 40), (UTC,), True),  # 114 s ahead: within 2 min
        ((20, 49, 0), (UTC,), False),  # 134 s ahead
        ((2, 16, 46), (UTC,), False),  # India's time, but India was not given
        ((2, 16, 46), (UTC, IST), True),
        ((20, 47, None), (UTC,), True),  # no seconds: known to the minute
        ((8, 46, 46), (UTC,), False),  # 12 hours off
    ],
)
def test_time_is_now_within_tolerance_in_the_given_zones(hms, zones, ok: bool) -> None:
    assert judge.time_is_now(hms, NOW, zones) is ok


def test_time_is_now_across_midnight() -> None:
    just_after = dt.datetime(2026, 11, 26, 0, 0, 30, tzinfo=UTC)
    assert judge.time_is_now((23, 59, 50), just_after, (UTC,))


def test_dates_around_has_each_zones_date() -> None:
    late = dt.datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # already the 26th in India
    assert judge.dates_around(late, (UTC, IST)) == {TODAY, dt.date(2026, 11, 26)}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("54", 54),
        ("54.0", 54),
        ("Result: 54", 54),
        ("12 + 42 = 54", 54),
        ("Answer from server: -0.75", -0.75),
        ("4.5/-6=-0.75", -0.75),
        ("0.30000000000000004", 0.3),
        ("145.79999999999998", 145.8),
        ("1e3", 1000),
    ],
)
def test_has_value_finds_the_result_anywhere(text: str, value: float) -> None:
    assert judge.has_value(text, value)


@pytest.mark.parametrize(("text", "value"), [("55", 54), ("0.3001", 0.3), ("no number", 1), ("Calc42: hi", 42)])
def test_has_value_rejects_wrong_or_missing_results(text: str, value: float) -> None:
    assert not judge.has_value(text, value)


@pytest.mark.parametrize(
    ("text", "artefact"),
    [("0.30000000000000004", "0.30000000000000004"), ("3.3000000000000003", "3.3000000000000003"), ("0.3", None)],
)
def test_float_artefact(text: str, artefact: str | None) -> None:
    assert judge.float_artefact(text) == artefact
    if artefact is None:
        assert judge.float_artefact("145.8") is None


@pytest.mark.parametrize(
    ("line", "count"),
    [
        ("Server: time=10:01:02 Batman has joined. Member count=1", 1),
        ("Server: time=10.01 Batman has joined. Member count=12", 12),
        ("[10:01] Batman joined (3 members)", 3),
        ("Batman has left. 0 people in the room", 0),
        ("Batman has joined", None),
    ],
)
def test_count_in_notice_ignores_names_and_times(line: str, count: int | None) -> None:
    assert judge.count_in_notice(line, ["Batman"]) == count


def test_mentions_whole_names_only() -> None:
    assert judge.mentions("Batman: hi", "Batman")
    assert not judge.mentions("Batmanx: hi", "Batman")
    assert not judge.mentions("xBatman has joined", "Batman")
    assert not judge.mentions("_Batman has joined", "Batman")
    # Two notices with no line end between them, read as one.
    assert judge.mentions("Robin has left. Member count=1Batman has joined. Member count=2", "Batman")


@pytest.mark.parametrize(
    "line",
    [
        "Server: time=10.01 Robin has left. Member count=1Server: time=10.01 Batman has joined. Member count=2",
        "Server: time=10.01 Batman has joined. Member count=2Server: time=10.01 Robin has left. Member count=1",
        "Batman joined! Members: 2",
        "[2 members] Batman joined",
    ],
)
def test_count_about_reads_the_notice_about_the_name_in_notices_run_together(line: str) -> None:
    assert judge.count_about(line, "Batman", ["Batman", "Robin"]) == 2


@pytest.mark.parametrize(
    ("line", "parsed"),
    [("12 + 42", (12.0, "+", 42.0)), ("4.5 / -6", (4.5, "/", -6.0)), ("  3.24   *  45 ", (3.24, "*", 45.0))],
)
def test_calc_request_accepts_the_course_format(line: str, parsed) -> None:
    assert judge.calc_request(line) == parsed


@pytest.mark.parametrize("line", ["", "q", "12 +", "hello", "12+42", "3 ^ 4", "1 2 3", "nan + 1", "twelve + 1"])
def test_calc_request_rejects_malformed_lines(line: str) -> None:
    assert judge.calc_request(line) is None


@pytest.mark.parametrize(("gap", "ok"), [(0.85, False), (0.95, True), (1.5, True), (2.25, True), (2.4, False)])
def test_gap_ok(gap: float, ok: bool) -> None:
    assert judge.gap_ok(gap, 0.9, 2.3) is ok
