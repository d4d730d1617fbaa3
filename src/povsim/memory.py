"""Allocator settings for large runs.

With glibc's defaults every numpy buffer above its mmap threshold (at most 32 MiB: a float64
column of ~4.2M households) is a fresh ``mmap``, which the kernel page-faults and zeroes on
first touch and unmaps on free, for every temporary of every operation. At national scale
(~52M households) that was a third of the run's time, spent in the kernel. Keeping freed
buffers in the heap lets the next temporary reuse them (docs/performance.md, R1). It changes
no result; the peak resident memory is a few per cent higher.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Ask glibc malloc to serve large buffers from the heap and keep freed memory for reuse.

    Does nothing (returns False) off Linux/glibc, or when the environment variable
    ``POVSIM_MALLOC`` is ``default``. Call it early, before large arrays exist.
    """
    if os.environ.get("POVSIM_MALLOC", "") == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt takes an int: 2 GiB is the largest trim threshold it accepts
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
