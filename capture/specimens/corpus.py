"""A reproducible corpus of simulated phone photos of synthetic credential backs."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from capture.specimens.card import render_back
from capture.specimens.identity import SpecimenIdentity, random_identity
from capture.specimens.photo import Condition, photograph

DEFAULT_MODELS = ("E", "H")
# The card is rendered at about half a 12 MP photo's pixels per millimetre: enough detail for
# the photo's upscaling, while the render stays near 0.1 s.
CORPUS_PX_PER_MM = 16.0


@dataclass(frozen=True)
class Sample:
    """One photo (JPEG bytes) with the truth it shows."""

    data: bytes
    identity: SpecimenIdentity
    condition: Condition
    name: str


def make_sample(seed: int, condition: Condition, index: int, model: str) -> Sample:
    """Sample ``index`` of ``condition``; its bytes depend only on these arguments."""
    rng = random.Random(f"{seed}:{condition.value}:{index}:{model}")
    identity = random_identity(rng, model)
    card = render_back(identity, px_per_mm=CORPUS_PX_PER_MM)
    data = photograph(card, rng, condition)
    name = f"{condition.value}-{index:03d}-{model}"
    return Sample(data=data, identity=identity, condition=condition, name=name)


def corpus(
    seed: int,
    per_condition: int,
    models: Sequence[str] = DEFAULT_MODELS,
    conditions: Sequence[Condition] = tuple(Condition),
) -> Iterator[Sample]:
    """``per_condition`` photos for each condition, cycling through ``models``; fixed seed,
    identical bytes on every run. Generated lazily: nothing is written anywhere."""
    for condition in conditions:
        for index in range(per_condition):
            yield make_sample(seed, condition, index, models[index % len(models)])
