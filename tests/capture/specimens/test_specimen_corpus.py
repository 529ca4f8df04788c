"""The corpus: naming, model cycling and byte-for-byte reproducibility."""

from __future__ import annotations

from capture.specimens.corpus import Sample, corpus, make_sample
from capture.specimens.photo import Condition


def test_names_are_unique_and_models_cycle() -> None:
    samples = list(corpus(3, per_condition=3, models=("E", "H"), conditions=[Condition.DISTANCE]))
    assert [sample.name for sample in samples] == ["distance-000-E", "distance-001-H", "distance-002-E"]
    assert [sample.identity.model for sample in samples] == ["E", "H", "E"]


def test_a_sample_is_identical_when_generated_again(small_corpus: list[Sample], small_corpus_seed: int) -> None:
    first = next(sample for sample in small_corpus if sample.condition is Condition.DISTANCE)
    again = make_sample(small_corpus_seed, Condition.DISTANCE, 0, "H")
    assert again.data == first.data and again.identity == first.identity
