"""The clock, read only here: ``fleetc rollout`` passes "now" into the pure stages."""

from __future__ import annotations

from datetime import datetime, timezone

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class BadTime(ValueError):
    pass


def now(given: str | None = None) -> str:
    """``given`` (RFC 3339, e.g. 2026-03-01T09:30:00Z or with an offset) in UTC, or the
    current time; to the second."""
    if given is None:
        return datetime.now(timezone.utc).strftime(TIME_FORMAT)
    text = given.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadTime(f"{given!r} is not a time such as 2026-03-01T09:30:00Z") from exc
    if moment.tzinfo is None:
        raise BadTime(f"{given!r} has no time zone: add Z for UTC")
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)
