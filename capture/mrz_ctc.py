"""Decoding the recogniser's per-timestep character probabilities (CTC) for MRZ lines.

Two decoders over the same output:
- greedy, the recogniser's own reading, with each character's confidence;
- constrained to the shape of an MRZ line (`IDMEX` + 10 digits + `<<` + 13 digits, ...):
  the most probable string of that shape. Blur makes the recogniser read `<<` as `2` or
  drop a character; the constrained path recovers them, and how much less probable it is
  than the free reading (the margin) says whether the image really supports it.
Neither decoder decides anything: the check digits (and the callers' gates) do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np

_DIGITS: Final = "0123456789"
LINE1_SHAPE: Final = ("I", "D", "M", "E", "X", *[_DIGITS] * 10, "<", "<", *[_DIGITS] * 13)
LINE2_SHAPE: Final = (
    *[_DIGITS] * 7, "MH<", *[_DIGITS] * 7, "M", "E", "X", *[_DIGITS + "<"] * 11, _DIGITS,
)  # fmt: skip
# Line 2's optional area as on INE's specimen and the cards seen: `<`, the 2-digit
# emission number, `<<`, 5 digits, `<` (whether every card has it is *unconfirmed*; a
# card without it just does not fit this shape, and the general one still applies).
LINE2_INE_SHAPE: Final = (
    *LINE2_SHAPE[:18], "<", _DIGITS, _DIGITS, "<", "<", *[_DIGITS] * 5, "<", _DIGITS,
)  # fmt: skip
_NEG: Final = -1e30
_Pointers = tuple[np.ndarray, np.ndarray]
_FLOOR: Final = 1e-12


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: its text, each character's confidence, and (for the
    constrained decoder) the log-probabilities it came from."""

    text: str
    confidences: tuple[float, ...]
    log_probs: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Shaped:
    """A constrained reading: text of the line's shape and its margin (nats) below the
    free reading; 0 means the recogniser read exactly this."""

    text: str
    confidences: tuple[float, ...]
    margin: float


def greedy(probs: np.ndarray, charset: list[str]) -> OcrLine:
    """Best class per timestep, repeats merged and blanks (class 0) dropped."""
    best = probs.argmax(axis=1)
    top = probs.max(axis=1)
    chars: list[str] = []
    confidences: list[float] = []
    previous = 0
    for index, probability in zip(best.tolist(), top.tolist(), strict=True):
        if index != 0 and index != previous:
            chars.append(charset[index])
            confidences.append(probability)
        elif index != 0:
            confidences[-1] = max(confidences[-1], probability)
        previous = index
    return OcrLine("".join(chars), tuple(confidences), np.log(np.maximum(probs, _FLOOR)))


class ShapeDecoder:
    """Viterbi over CTC alignments of strings of one shape (a tuple of allowed characters
    per position), vectorised over positions and characters."""

    def __init__(self, shape: tuple[str, ...], charset: list[str]) -> None:
        self.alphabet = sorted({char for allowed in shape for char in allowed})
        index = {char: i for i, char in enumerate(charset)}
        self.columns = np.array([index[char] for char in self.alphabet])
        self.allowed = np.array([[char in allowed for char in self.alphabet] for allowed in shape])

    def decode(self, log_probs: np.ndarray) -> Shaped:
        emissions = np.where(self.allowed[None], log_probs[:, self.columns][:, None, :], _NEG)
        blanks = log_probs[:, 0]
        history, blank, label = self._forward(emissions, blanks)
        length = label.shape[0]
        best = float(max(blank[length], label[length - 1].max()))
        ends_on_label = label[length - 1].max() > blank[length]
        end = (length - 1, int(label[length - 1].argmax())) if ends_on_label else (length, -1)
        text, confidences = self._backtrack(history, emissions, end)
        free = float(log_probs.max(axis=1).sum())
        return Shaped(text, confidences, max(0.0, free - best))

    @classmethod
    def _forward(cls, emissions: np.ndarray, blanks: np.ndarray) -> tuple[list[_Pointers], np.ndarray, np.ndarray]:
        """Scores per state at the last timestep, and per timestep where each state came from.

        States: `blank[k]` (before position k; `blank[L]` after the last) and `label[k, a]`.
        Back-pointers: blank -1 = stayed, else the label index left at position k-1;
        label -2 = stayed, -1 = came from the blank, else the previous position's label.
        """
        steps, length, width = emissions.shape
        blank = np.full(length + 1, _NEG)
        label = np.full((length, width), _NEG)
        blank[0] = blanks[0]
        label[0] = emissions[0, 0]
        history: list[_Pointers] = []
        for t in range(1, steps):
            blank, label, pointers = cls._step(blank, label, emissions[t], blanks[t])
            history.append(pointers)
        return history, blank, label

    @staticmethod
    def _step(
        blank: np.ndarray, label: np.ndarray, emission: np.ndarray, blank_emission: float
    ) -> tuple[np.ndarray, np.ndarray, _Pointers]:
        length, width = label.shape
        leave = label.max(axis=1)
        leave_at = label.argmax(axis=1)
        new_blank = blank.copy()
        blank_from = np.full(length + 1, -1)
        better = leave > blank[1:]
        new_blank[1:] = np.where(better, leave, blank[1:])
        blank_from[1:] = np.where(better, leave_at, -1)
        # From the previous position's best label, or its second best when that is the same
        # character (CTC needs a blank between two equal characters).
        previous = np.vstack([np.full((1, width), _NEG), label[:-1]])
        order = np.argsort(previous, axis=1)
        first_at, second_at = order[:, -1], order[:, -2]
        rows = np.arange(length)
        first, second = previous[rows, first_at], previous[rows, second_at]
        same = np.arange(width)[None, :] == first_at[:, None]
        from_label = np.where(same, second[:, None], first[:, None])
        from_label_at = np.where(same, second_at[:, None], first_at[:, None])
        candidates = np.stack([label, np.broadcast_to(blank[:-1, None], label.shape), from_label])
        choice = candidates.argmax(axis=0)
        label_from = np.where(choice == 0, -2, np.where(choice == 1, -1, from_label_at))
        new_label = candidates.max(axis=0) + emission
        return new_blank + blank_emission, new_label, (blank_from, label_from)

    def _backtrack(
        self, history: list[_Pointers], emissions: np.ndarray, end: tuple[int, int]
    ) -> tuple[str, tuple[float, ...]]:
        """The characters along the best path, each with its best probability on the way."""
        position, char = end
        chars: list[str] = []
        confidences: list[float] = []
        best_here = _NEG
        for t in range(len(history), 0, -1):
            blank_from, label_from = history[t - 1]
            if char < 0:
                came = int(blank_from[position])
                if came >= 0:
                    position, char, best_here = position - 1, came, _NEG
                continue
            best_here = max(best_here, float(emissions[t, position, char]))
            came = int(label_from[position, char])
            if came == -2:
                continue
            chars.append(self.alphabet[char])
            confidences.append(float(np.exp(best_here)))
            position, char = (position, -1) if came == -1 else (position - 1, came)
            best_here = _NEG
        if char >= 0:
            best_here = max(best_here, float(emissions[0, position, char]))
            chars.append(self.alphabet[char])
            confidences.append(float(np.exp(best_here)))
        return "".join(reversed(chars)), tuple(reversed(confidences))
