"""Peak memory of a piece of work, in the same process.

On Linux the kernel keeps the process's resident-set high-water mark (``VmHWM`` in
``/proc/self/status``) and resets it to the current resident set when ``5`` is written to
``/proc/self/clear_refs``. ``PeakMemory`` resets it on entry and reports, on exit, how far the
resident set rose above its level at entry: that is everything the work held at its worst
moment (NumPy and PyTorch buffers, memory-mapped file pages it touched), which ``tracemalloc``
cannot see (PyTorch allocates outside Python's allocator). Where the reset is not available,
it falls back to ``tracemalloc`` (Python and NumPy allocations only) and says so in ``method``.

Memory freed earlier but kept by the C allocator would be reused without raising the resident
set, hiding part of the work's peak; so on entry free heap memory is first handed back to the
system (glibc ``malloc_trim``), where that exists.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import tracemalloc
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+)\s+kB", _STATUS.read_text(), re.MULTILINE)
    if not match:
        raise OSError(f"{field} not in {_STATUS}")
    return int(match.group(1))


def _trim() -> None:
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _can_reset() -> bool:
    try:
        _CLEAR.write_text("5")
        _status_kib("VmHWM")
        return True
    except OSError:
        return False


class PeakMemory:
    """``with PeakMemory() as pm: work()`` then ``pm.peak_bytes`` / ``pm.peak_mb`` / ``pm.method``."""

    def __init__(self):
        self.method = "VmHWM" if _can_reset() else "tracemalloc"
        self.peak_bytes = 0

    def __enter__(self):
        if self.method == "VmHWM":
            _trim()
            _CLEAR.write_text("5")
            self._start = _status_kib("VmRSS")
        else:
            self._was_tracing = tracemalloc.is_tracing()
            if not self._was_tracing:
                tracemalloc.start()
            tracemalloc.reset_peak()
            self._start = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc):
        if self.method == "VmHWM":
            self.peak_bytes = max(0, _status_kib("VmHWM") - self._start) * 1024
        else:
            self.peak_bytes = max(0, tracemalloc.get_traced_memory()[1] - self._start)
            if not self._was_tracing:
                tracemalloc.stop()
        return False

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20
