"""Synthetic credential-back specimens: made-up identities, rendered cards, simulated phone photos.

Nothing here describes a real person; it exists to test and benchmark the capture pipeline.
"""

from capture.specimens.card import render_back
from capture.specimens.corpus import Sample, corpus, make_sample
from capture.specimens.identity import SpecimenIdentity, random_identity
from capture.specimens.photo import Condition, photograph

__all__ = [
    "Condition",
    "Sample",
    "SpecimenIdentity",
    "corpus",
    "make_sample",
    "photograph",
    "random_identity",
    "render_back",
]
