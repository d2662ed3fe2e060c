"""Cron schedule arithmetic and the CronJob controller's pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from idpbuilder.runtime.simnode.cron import ScheduleError, most_recent, parse_schedule
from idpbuilder.runtime.simnode.cronjobs import history_to_delete, job_for, job_name, scheduled_time


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("spec", "after", "expected"), [
    ("*/15 * * * *", utc(2025, 3, 3, 10, 7), utc(2025, 3, 3, 10, 15)),
    ("*/15 * * * *", utc(2025, 3, 3, 10, 15), utc(2025, 3, 3, 10, 30)),   # strictly after
    ("5 4 * * *", utc(2025, 3, 3, 10, 0), utc(2025, 3, 4, 4, 5)),
    ("0 9 * * 1-5", utc(2025, 3, 7, 10, 0), utc(2025, 3, 10, 9, 0)),        # Friday -> Monday
    ("0 0 1 jan,jul *", utc(2025, 3, 3), utc(2025, 7, 1)),
    ("0 0 * * sun", utc(2025, 3, 3), utc(2025, 3, 9)),
    ("30 2 29 2 *", utc(2025, 1, 1), utc(2028, 2, 29, 2, 30)),              # the next leap day
    ("@hourly", utc(2025, 3, 3, 10, 7), utc(2025, 3, 3, 11, 0)),
    ("@daily", utc(2025, 3, 3, 10, 7), utc(2025, 3, 4)),
    ("@weekly", utc(2025, 3, 3, 10, 7), utc(2025, 3, 9)),
    ("@monthly", utc(2025, 3, 3, 10, 7), utc(2025, 4, 1)),
    ("@yearly", utc(2025, 3, 3, 10, 7), utc(2026, 1, 1)),
    ("0 10-12/2 * * *", utc(2025, 3, 3, 10, 0), utc(2025, 3, 3, 12, 0)),
    ("15/20 * * * *", utc(2025, 3, 3, 10, 36), utc(2025, 3, 3, 10, 55)),
])
def test_next_activation(spec: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(spec).next_after(after) == expected


def test_restricted_day_fields_match_either_one() -> None:
    friday_or_13th = parse_schedule("0 0 13 * 5")
    assert friday_or_13th.next_after(utc(2025, 3, 3)) == utc(2025, 3, 7)   # a Friday before the 13th
    assert friday_or_13th.next_after(utc(2025, 3, 12)) == utc(2025, 3, 13)  # the 13th, a Thursday
    only_13th = parse_schedule("0 0 13 * *")
    assert only_13th.next_after(utc(2025, 3, 3)) == utc(2025, 3, 13)
    mondays_in_range = parse_schedule("0 0 */2 * 1")  # */2 is not a star: either one matches
    assert mondays_in_range.next_after(utc(2025, 3, 3)) == utc(2025, 3, 5)  # odd day, a Wednesday
    assert mondays_in_range.next_after(utc(2025, 3, 9)) == utc(2025, 3, 10)  # even day, a Monday


def test_time_zones_apply_to_the_fields() -> None:
    berlin = parse_schedule("0 9 * * *", "Europe/Berlin")
    assert berlin.next_after(utc(2025, 1, 10, 0, 0)) == utc(2025, 1, 10, 8, 0)   # CET
    assert berlin.next_after(utc(2025, 7, 10, 0, 0)) == utc(2025, 7, 10, 7, 0)   # CEST
    prefixed = parse_schedule("CRON_TZ=America/New_York 30 6 * * *")
    assert prefixed.next_after(utc(2025, 1, 10, 0, 0)) == utc(2025, 1, 10, 11, 30)
    with pytest.raises(ScheduleError):
        parse_schedule("0 9 * * *", "Mars/Olympus")


def test_every_is_a_constant_delay() -> None:
    every = parse_schedule("@every 90s")
    assert every.next_after(utc(2025, 3, 3, 10, 0, 0)) == utc(2025, 3, 3, 10, 1, 30)


@pytest.mark.parametrize("spec", ["* * * *", "61 * * * *", "* * * * 8", "*/0 * * * *", "a b c d e", "@sometimes"])
def test_bad_schedules_are_rejected(spec: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(spec)


def test_impossible_dates_never_fire() -> None:
    assert parse_schedule("0 0 30 2 *").next_after(utc(2025, 1, 1)) is None


def test_most_recent_unmet_activation() -> None:
    hourly = parse_schedule("0 * * * *")
    assert most_recent(hourly, utc(2025, 3, 3, 10, 0), utc(2025, 3, 3, 10, 59)) == (None, 0)
    assert most_recent(hourly, utc(2025, 3, 3, 10, 0), utc(2025, 3, 3, 11, 0)) == (utc(2025, 3, 3, 11), 1)
    latest, missed = most_recent(hourly, utc(2025, 3, 3, 10, 0), utc(2025, 3, 3, 13, 30))
    assert latest == utc(2025, 3, 3, 13) and missed == 3
    weekdays = parse_schedule("0 9 * * 1-5")
    latest, _ = most_recent(weekdays, utc(2025, 3, 3, 9, 0), utc(2025, 3, 9, 8, 0))  # Monday .. Sunday
    assert latest == utc(2025, 3, 7, 9, 0)
    minutely = parse_schedule("* * * * *")
    latest, missed = most_recent(minutely, utc(2025, 1, 1), utc(2025, 3, 1, 0, 0, 30))
    assert latest == utc(2025, 3, 1) and missed > 100


def cronjob(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "tick", "namespace": "default", "uid": "cj-uid",
                         "creationTimestamp": "2025-03-03T10:00:00Z"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {
                "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [
                    {"name": "c", "image": "busybox"}]}}}}, **spec},
            "status": {}}


def test_jobs_are_named_after_the_scheduled_minute() -> None:
    when = utc(2025, 3, 3, 10, 5)
    assert job_name(cronjob(), when) == f"tick-{int(when.timestamp()) // 60}"
    job = job_for(cronjob(), when)
    assert job["metadata"]["labels"] == {"team": "a"}
    assert job["metadata"]["annotations"] == {"note": "x",
                                              "batch.kubernetes.io/cronjob-scheduled-timestamp": "2025-03-03T10:05:00Z"}
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    zoned = job_for(cronjob(timeZone="Europe/Berlin"), when)
    assert zoned["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        "2025-03-03T11:05:00+01:00"


def test_scheduled_time_honours_the_starting_deadline() -> None:
    now = utc(2025, 3, 3, 10, 12, 30)
    assert scheduled_time(cronjob(), now) == (utc(2025, 3, 3, 10, 10), utc(2025, 3, 3, 10, 15))
    done = cronjob()
    done["status"]["lastScheduleTime"] = "2025-03-03T10:10:00Z"
    assert scheduled_time(done, now)[0] is None
    # With a 60 s deadline, 10:10 is 150 s late: nothing to start now.
    assert scheduled_time(cronjob(startingDeadlineSeconds=60), now)[0] is None


def test_history_limits_keep_the_newest_finished_jobs() -> None:
    def job(name: str, kind: str, start: str) -> dict[str, Any]:
        return {"metadata": {"name": name}, "status": {"startTime": start, "conditions": [
            {"type": kind, "status": "True"}]}}

    jobs = [job("s1", "Complete", "2025-03-03T10:00:00Z"), job("s2", "Complete", "2025-03-03T10:05:00Z"),
            job("f1", "Failed", "2025-03-03T10:01:00Z"), job("f2", "Failed", "2025-03-03T10:06:00Z"),
            {"metadata": {"name": "running"}, "status": {}}]
    doomed = [j["metadata"]["name"] for j in history_to_delete(cronjob(successfulJobsHistoryLimit=1), jobs)]
    assert doomed == ["s1", "f1"]
