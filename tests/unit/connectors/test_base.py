"""Backoff, the memory of recent keys, source timestamps, HTTP retry hints, the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postwatch.connectors.base import (
    Backoff,
    MalformedEvent,
    RecentKeys,
    UnknownConnector,
    parse_time,
)
from postwatch.connectors.http import MAX_RETRY_AFTER_S, retry_after
from postwatch.connectors.registry import CONNECTORS, check_registered
from postwatch.connectors.rss import RssConnector
from postwatch.connectors.runtime import LogQuota
from postwatch.rules.alerts import isoformat


def test_backoff_grows_to_its_ceiling_with_full_jitter() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0)
    assert [backoff.delay(n, rand=lambda: 1.0) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(3, rand=lambda: 0.25) == 2.0
    assert backoff.delay(10_000, rand=lambda: 1.0) == 30.0


def test_backoff_never_waits_less_than_the_source_asked() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0)
    assert backoff.delay(0, retry_after=120.0, rand=lambda: 0.5) == 120.0
    assert backoff.delay(4, retry_after=3.0, rand=lambda: 0.5) == 8.0


def test_recent_keys_forget_the_oldest_first() -> None:
    keys = RecentKeys(3, ["a", "b"])
    keys.add("c")
    keys.add("a")  # seen again: now the newest
    keys.add("d")
    assert "b" not in keys
    assert keys.keys() == ["c", "a", "d"]
    assert RecentKeys(3, keys.keys()).keys() == ["c", "a", "d"]


def test_source_times_are_timezone_aware() -> None:
    assert parse_time("2022-08-30T23:05:46.839Z") == datetime(
        2022, 8, 30, 23, 5, 46, 839000, tzinfo=UTC
    )
    assert parse_time("2026-07-04T14:38:02+02:00").utcoffset() == timedelta(hours=2)
    assert parse_time("2026-07-04T14:38:02").tzinfo is UTC
    for bad in ("yesterday", None, 17, "2026-13-01T00:00:00Z"):
        with pytest.raises(MalformedEvent) as caught:
            parse_time(bad)
        assert caught.value.reason == "bad_timestamp"


@pytest.mark.parametrize(
    "beyond",
    ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+12:00", "0001-01-01T00:00:00.5+00:01"],
)
def test_a_time_that_leaves_the_years_1_to_9999_in_utc_is_malformed(beyond: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_time(beyond)
    assert caught.value.reason == "bad_timestamp"


def test_a_value_too_deep_to_print_is_a_bad_timestamp_too() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(MalformedEvent) as caught:
        parse_time(deep)
    assert caught.value.detail == "not a timestamp: a list"


def test_the_extreme_times_that_stay_in_range_are_read_and_written() -> None:
    for edge, written in (
        ("9999-12-31T23:59:59.999+00:00", "9999-12-31T23:59:59.999Z"),
        ("9999-12-31T10:00:00-12:00", "9999-12-31T22:00:00.000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
    ):
        moment = parse_time(edge)
        assert isoformat(moment) == written
        assert isinstance(moment.timestamp(), float)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 7, 4, 14, 0, 0, tzinfo=UTC)
    assert retry_after("120") == 120.0
    assert retry_after("Sat, 04 Jul 2026 14:01:30 GMT", now) == 90.0
    assert retry_after("Sat, 04 Jul 2026 13:00:00 GMT", now) == 0.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert retry_after("²") is None  # a digit to str.isdigit, not to float


def test_retry_after_waits_an_hour_at_the_most() -> None:
    now = datetime(2026, 7, 4, 14, 0, 0, tzinfo=UTC)
    assert retry_after("1" * 40) == MAX_RETRY_AFTER_S == 3600.0
    assert retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now) == MAX_RETRY_AFTER_S
    assert retry_after("Sat, 04 Jul 2026 14:30:00 GMT", now) == 1800.0
    assert retry_after("-5") is None


def test_registered_names_are_the_sources_and_strangers_are_refused() -> None:
    assert sorted(CONNECTORS) == ["bluesky", "mastodon", "rss", "telegram", "webhook", "x"]
    assert all(cls.source == name for name, cls in CONNECTORS.items())

    class Impostor(RssConnector):
        """Claims the name `rss` without being the registered class."""

    with pytest.raises(UnknownConnector):
        check_registered(Impostor([], instance="x"))


def test_warnings_of_a_kind_are_logged_up_to_a_quota_a_window_and_the_rest_counted() -> None:
    now = [0.0]
    quota = LogQuota(per_window=3, window_s=60.0, clock=lambda: now[0])
    taken = [quota.take("invalid") for _ in range(1000)]
    assert [logged for logged, _ in taken].count(True) == 3
    assert all(unlogged == {} for _, unlogged in taken)
    assert quota.take("other") == (True, {})  # each kind has its own quota
    now[0] = 61.0
    assert quota.take("invalid") == (True, {"invalid": 997})  # said once, in the next window
    assert quota.take("invalid") == (True, {})
