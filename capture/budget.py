"""The clock a decode's time budget is measured on: the CPU time of the thread doing the decode.

A budget bounds the work spent on one photo. Measured on the wall clock it also counted the time the thread stood
waiting for a core (a busy server, decode threads running nicer than requests: web/decoding.py), so a photo that
would read was cut short and its sender told to take another one for the server's sake. On the thread's own CPU
clock a busy server makes a decode slower, never worse, and the same photo gets the same reading on any load.
Every deadline in `capture` is a value of `now()`; reported timings stay wall-clock (`time.perf_counter`).
"""

from __future__ import annotations

import time


def now() -> float:
    """Seconds of CPU this thread has used (onnxruntime, zxing-cpp and Pillow all work in the calling thread)."""
    return time.thread_time()
