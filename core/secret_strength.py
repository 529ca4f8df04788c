"""Is a configured secret really random? Production refuses placeholders and low-entropy values.

The checks are heuristics over the text alone (a secret from `secrets.token_urlsafe(32)` passes all of them with a
wide margin); they exist to catch what people actually paste into a production environment: `change-me-…`,
`'a' * 32`, `1234567890…`, a word repeated. The messages never quote the value."""

from __future__ import annotations

import itertools
import math
from collections import Counter

MIN_SECRET_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 12
MIN_ENTROPY_BITS = 128
# Any of these inside a secret means it was typed by a person, not generated.
PLACEHOLDER_MARKERS = ("change", "replace", "placeholder", "example", "secret", "password", "passw0rd", "default",
                       "insecure", "dummy", "sample", "todo", "fixme", "qwerty", "letmein", "registro")


def _entropy_bits(value: str) -> float:
    """Shannon entropy of the value's own character distribution, times its length."""
    counts = Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


def _mostly_sequential(value: str) -> bool:
    """'abcdefgh…', '12345678…', 'zyxw…': most neighbours one code point apart."""
    steps = [abs(ord(b) - ord(a)) for a, b in itertools.pairwise(value)]
    return sum(1 for step in steps if step <= 1) * 2 > len(steps)


def _repeats_a_short_unit(value: str) -> bool:
    """'abcabcabc…', 'k' * 48: the value is a short block written again and again."""
    return any(value == (value[:size] * (len(value) // size + 1))[: len(value)] for size in range(1, 17))


def weakness(value: str) -> str | None:
    """Why `value` is not acceptable as a production secret, or None. Never includes the value itself."""
    if len(value) < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters"
    lowered = value.lower()
    if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return "it looks like a placeholder (contains a word such as 'change' or 'secret')"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS or _repeats_a_short_unit(value):
        return "it repeats too few characters to be random"
    if _mostly_sequential(value):
        return "it is a sequence of neighbouring characters"
    if _entropy_bits(value) < MIN_ENTROPY_BITS:
        return f"it has less than {MIN_ENTROPY_BITS} bits of entropy"
    return None
