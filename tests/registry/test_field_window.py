"""The collection window's rules for field captures (registry.field_window), on an in-memory process."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from registry.field_window import WindowRules, WindowVerdict, judge
from registry.intake.refusals import Refusal
from registry.models import Process
from registry.states import ScopeKind

OPENS = datetime(2027, 1, 10, 6, 0, tzinfo=UTC)
CLOSES = datetime(2027, 2, 10, 5, 59, tzinfo=UTC)
RULES = WindowRules(grace=timedelta(hours=72), clock_skew=timedelta(minutes=10))


def _process(opens: datetime, closes: datetime) -> Process:
    return Process(opl_id=1, name="Gubernatura 2027", office="Gubernatura", scope_kind=ScopeKind.STATE,
                   scope_state=26, starts_at=opens, ends_at=closes, threshold_percent=Decimal("3.0"))


PROCESS = _process(OPENS, CLOSES)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
INSIDE = OPENS + 5 * DAY


@pytest.mark.parametrize(("captured", "received", "verdict"), [
    # inside the window, sent at once: nothing to say
    (INSIDE, INSIDE + HOUR, WindowVerdict(None, flagged=False)),
    (INSIDE + 5 * timedelta(minutes=1), INSIDE, WindowVerdict(None, flagged=False)),  # within the clock skew
    # inside, but the device clock runs ahead of the server, or the capture waited longer than the grace
    (INSIDE + 30 * timedelta(minutes=1), INSIDE, WindowVerdict(None, flagged=True)),
    (INSIDE, INSIDE + 4 * DAY, WindowVerdict(None, flagged=True)),
    # an offline queue of captures made inside the window, sent within the grace: accepted, flagged
    (CLOSES - HOUR, CLOSES + 2 * DAY, WindowVerdict(None, flagged=True)),
    # arrived before the close, so it was made before the close: the device time after it is a wrong clock
    (CLOSES + 3 * DAY, CLOSES - HOUR, WindowVerdict(None, flagged=True)),
    # refused
    (OPENS - HOUR, INSIDE, WindowVerdict(Refusal.CAPTURED_BEFORE)),
    (CLOSES + HOUR, CLOSES + 2 * HOUR, WindowVerdict(Refusal.CAPTURED_AFTER)),
    (CLOSES - HOUR, CLOSES + 72 * HOUR + timedelta(seconds=1), WindowVerdict(Refusal.WINDOW_CLOSED)),
    (INSIDE, CLOSES + 10 * DAY, WindowVerdict(Refusal.WINDOW_CLOSED)),  # whatever the device claims
    (OPENS - HOUR, OPENS - timedelta(minutes=1), WindowVerdict(Refusal.WINDOW_NOT_OPEN)),
    (INSIDE, OPENS - timedelta(minutes=1), WindowVerdict(Refusal.WINDOW_NOT_OPEN)),
])
def test_the_window_refuses_or_flags_by_both_clocks(captured: datetime, received: datetime,
                                                    verdict: WindowVerdict) -> None:
    assert judge(PROCESS, captured=captured, received=received, rules=RULES) == verdict


def test_naive_times_from_sqlite_are_read_as_utc() -> None:
    naive = _process(OPENS.replace(tzinfo=None), CLOSES.replace(tzinfo=None))
    assert judge(naive, captured=CLOSES + HOUR, received=CLOSES + 2 * HOUR, rules=RULES).refusal \
        is Refusal.CAPTURED_AFTER


def test_the_grace_and_skew_come_from_the_settings() -> None:
    rules = WindowRules.from_settings(grace_hours=0, clock_skew_minutes=60)
    assert judge(PROCESS, captured=CLOSES - HOUR, received=CLOSES + HOUR, rules=rules).refusal \
        is Refusal.WINDOW_CLOSED
    assert not judge(PROCESS, captured=INSIDE + 30 * timedelta(minutes=1), received=INSIDE, rules=rules).flagged
