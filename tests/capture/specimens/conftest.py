"""One small corpus per test session: every condition once, generated in memory."""

from __future__ import annotations

import pytest

from capture.specimens.corpus import Sample, corpus

CORPUS_SEED = 20240601


@pytest.fixture(scope="session")
def small_corpus_seed() -> int:
    return CORPUS_SEED


@pytest.fixture(scope="session")
def small_corpus(small_corpus_seed: int) -> list[Sample]:
    return list(corpus(small_corpus_seed, per_condition=1, models=("H",)))
