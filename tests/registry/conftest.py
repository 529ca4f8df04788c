"""Fixtures the registry's tests share: a process of the Sonora OPL (state 26, the synthetic roll's state) and
one aspirant in it. A module that needs another shape defines its own fixture of the same name."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from registry.models import Aspirant, Process
from tests.factories.processes import make_aspirant, make_opl, make_process


@pytest.fixture
def process(session: Session) -> Process:
    return make_process(session, opl=make_opl(session, state_code=26))


@pytest.fixture
def aspirant(session: Session, process: Process) -> Aspirant:
    return make_aspirant(session, process=process)
