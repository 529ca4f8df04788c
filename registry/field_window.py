"""The collection window as the field channel applies it: which captures are refused, which are accepted but
flagged for the mesa de control (`Support.device_time_suspect`), and why.

Two clocks are involved. The server's (`received`, when the capture reaches us) is trusted; the phone's
(`captured`, the device time it claims) is not: a phone's clock can be wrong by accident (a reset battery) or on
purpose. With the process's window [opens, closes], the grace period G (`REGISTRO_FIELD_GRACE_HOURS`, for offline
queues that could only send after the close) and the skew S (`REGISTRO_FIELD_CLOCK_SKEW_MINUTES`):

Refused (the capture is not stored, nor are its photos; the answer names the reason):
1. received before `opens`: the process has not started (`window_not_open`);
2. received after `closes + G`: too late, whatever the device time claims (`window_closed`);
3. device time before `opens` (`captured_before_window`);
4. device time after `closes`, when the capture also arrived after `closes` (`captured_after_window`).

Accepted, and flagged when any of these holds:
- it arrived after `closes` (within the grace): only the device time places it inside the window;
- the device time is more than S ahead of the server (a clock in the future);
- the device time is more than G older than the receipt (held too long, or a clock running behind).

A capture that *arrived* before the close was necessarily made before the close, so a device time after the close
is then only a wrong clock: it is accepted (and flagged as a clock in the future) instead of refused, so a
citizen's support given inside the window is never lost to the phone's clock. Replays of a key already stored
are answered with their folio before any of this (they were accepted when they arrived)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import as_utc
from registry.intake.refusals import Refusal
from registry.models import Process


@dataclass(frozen=True)
class WindowRules:
    grace: timedelta = timedelta(hours=72)
    clock_skew: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, *, grace_hours: int, clock_skew_minutes: int) -> WindowRules:
        return cls(grace=timedelta(hours=grace_hours), clock_skew=timedelta(minutes=clock_skew_minutes))


@dataclass(frozen=True)
class WindowVerdict:
    refusal: Refusal | None
    flagged: bool = False


def judge(process: Process, *, captured: datetime, received: datetime, rules: WindowRules) -> WindowVerdict:
    """The rules above, for one capture of this process."""
    opens, closes = as_utc(process.starts_at), as_utc(process.ends_at)
    captured, received = as_utc(captured), as_utc(received)
    refusal = _refusal(opens, closes, captured, received, rules)
    if refusal is not None:
        return WindowVerdict(refusal)
    late = received > closes
    ahead = captured > received + rules.clock_skew
    held = received - captured > rules.grace
    return WindowVerdict(None, flagged=late or ahead or held)


def _refusal(opens: datetime, closes: datetime, captured: datetime, received: datetime,
             rules: WindowRules) -> Refusal | None:
    if received < opens:
        return Refusal.WINDOW_NOT_OPEN
    if received > closes + rules.grace:
        return Refusal.WINDOW_CLOSED
    if captured < opens:
        return Refusal.CAPTURED_BEFORE
    if captured > closes and received > closes:
        return Refusal.CAPTURED_AFTER
    return None
