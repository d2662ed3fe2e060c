"""Cron schedule arithmetic with the semantics CronJobs have upstream (robfig/cron's standard parser).

Five fields (minute hour day-of-month month day-of-week) with `*`, `?`, ranges, steps, lists and
names, or a descriptor (`@hourly`, `@daily`, ..., `@every 1h30m`). When both day fields are restricted a
day matching either one matches; a `*` in one of them makes the other alone decide. Times are
computed in the schedule's time zone (`CRON_TZ=`/`TZ=` prefix or the CronJob's `spec.timeZone`).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from .config import parse_duration

_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_SEARCH_YEARS = 5


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    days_star: bool = False
    weekdays_star: bool = False
    every: float | None = None  # `@every`: a constant delay instead of calendar fields
    zone: tzinfo = UTC

    def day_matches(self, when: datetime) -> bool:
        dom = when.day in self.days
        dow = (when.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def next_after(self, when: datetime) -> datetime | None:
        """The first activation strictly after `when` (None when the schedule never fires, e.g. Feb 30)."""
        if self.every is not None:
            step = max(1.0, float(int(self.every)))
            return when.replace(microsecond=0) + timedelta(seconds=step)
        local = when.astimezone(self.zone).replace(tzinfo=None)
        t = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = local.year + _SEARCH_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self.day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += timedelta(minutes=1)
                continue
            return t.replace(tzinfo=self.zone).astimezone(UTC)
        return None


def _number(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}")
    return int(text)


def _field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    values: set[int] = set()
    star = False
    for expr in filter(None, text.split(",")):
        range_part, _, step_part = expr.partition("/")
        step = _number(step_part, {}) if step_part else 1
        if step <= 0:
            raise ScheduleError(f"step of range should be a positive number: {expr}")
        if range_part in ("*", "?"):
            start, end = low, high
            star = star or step == 1
        else:
            first, dash, last = range_part.partition("-")
            start = _number(first, names)
            end = _number(last, names) if dash else (high if step_part else start)
        if start < low or end > high or start > end:
            raise ScheduleError(f"value out of range ({low}-{high}): {expr}")
        values.update(range(start, end + 1, step))
    return values, star


def time_zone(name: str | None) -> tzinfo:
    """The IANA zone of that name (UTC for none); ScheduleError when there is no such zone."""
    if not name:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name}") from exc


def parse_schedule(spec: str, zone_name: str | None = None) -> Schedule:
    """A parsed schedule; the zone (an IANA name) applies unless the spec names its own."""
    spec = spec.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, spec = spec.partition(" ")
        zone_name = prefix.split("=", 1)[1]
        spec = spec.strip()
    zone = time_zone(zone_name)
    if spec.startswith("@every "):
        delay = parse_duration(spec[len("@every "):])
        if delay is None:
            raise ScheduleError(f"failed to parse duration {spec}")
        return Schedule(every=delay, zone=zone)
    spec = _DESCRIPTORS.get(spec, spec)
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_field(text, low, high, names) for text, (low, high, names) in zip(fields, _FIELDS, strict=True)]
    return Schedule(frozenset(parsed[0][0]), frozenset(parsed[1][0]), frozenset(parsed[2][0]),
                    frozenset(parsed[3][0]), frozenset(parsed[4][0]), parsed[2][1], parsed[4][1], None, zone)


def most_recent(schedule: Schedule, earliest: datetime, now: datetime) -> tuple[datetime | None, int]:
    """The latest activation in (earliest, now], and roughly how many activations that span holds."""
    first = schedule.next_after(earliest)
    if first is None or first > now:
        return None, 0
    second = schedule.next_after(first)
    if second is None or second > now:
        return first, 1
    interval = max(1.0, (second - first).total_seconds())
    missed = int((now - first).total_seconds() // interval) + 1
    back = interval * 2
    while True:
        start = max(first, now - timedelta(seconds=back))
        t = start if start == first else schedule.next_after(start)
        latest = None
        while t is not None and t <= now:
            latest = t
            t = schedule.next_after(t)
        if latest is not None:
            return latest, missed
        back *= 2
