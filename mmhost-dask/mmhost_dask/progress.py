"""The progress bar of a distributed run: chunks and bytes done, on stderr.

Like `mmhost run`'s, it is drawn only on a terminal (unless forced with
`--progress`), only once the run has lasted about a second, at most ten
times a second, and erased when the run ends, so that stderr keeps only the
messages that matter.
"""

from __future__ import annotations

import sys
import threading
import time

_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"]


def human(n: float) -> str:
    """Bytes in binary units: `1.5 GiB`."""
    for unit in _UNITS:
        if n < 1024 or unit == _UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class Bar:
    """A one-line bar: `[#####.....] 3/8 chunks, 1.2 GiB/2.0 GiB, 4 s`."""

    def __init__(self, chunks: int, size: int, enabled: bool | None, stream=None):
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = self.stream.isatty()
        self.enabled = enabled
        self.chunks = chunks
        self.size = size
        self.done_chunks = 0
        self.done_bytes = 0
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ticker = None
        if self.enabled:
            # redraws while a long chunk runs (the elapsed time moves)
            self.ticker = threading.Thread(target=self._tick, daemon=True)
            self.ticker.start()

    def _tick(self) -> None:
        while not self.stopped.wait(0.25):
            self.draw()

    def advance(self, chunks: int, nbytes: int) -> None:
        with self.lock:
            self.done_chunks += chunks
            self.done_bytes += nbytes
        self.draw()

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        with self.lock:
            self._draw(force)

    def _draw(self, force: bool) -> None:
        if self.stopped.is_set():
            return
        now = time.monotonic()
        if not force and (now - self.started < 1.0 or now - self.last_draw < 0.1):
            return
        self.last_draw = now
        width = 30
        frac = self.done_chunks / self.chunks if self.chunks else 1.0
        filled = int(frac * width)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done_chunks}/{self.chunks} chunks, "
            f"{human(self.done_bytes)}/{human(self.size)}, {now - self.started:.0f} s"
        )
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        with self.lock:
            self.stopped.set()
            if self.drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.drawn = False
        if self.ticker is not None:
            self.ticker.join()
