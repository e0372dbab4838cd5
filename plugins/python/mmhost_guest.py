"""A small guest library for mmhost plugins in Python (componentize-py).

The Python counterpart of plugins/mmhost-guest: the region in chunks, typed
errors with the same messages as the Rust library, logging and progress.

    from mmhost_guest import Plugin, entry, region

    class WitWorld(Plugin):
        @entry
        def run(self, args: list[str]) -> str:
            for offset, data in region.chunks():
                ...
            return "result"    # printed on stdout; raise Err("...") to fail

`WitWorld` must be a class of that name in the module given to
`componentize-py componentize`; returning a str is `ok`, raising
`componentize_py_types.Err(str)` (re-exported here as `Err`) is `err`. An
uncaught exception traps the plugin (mmhost exit code 5) and, with
--stub-wasi, its traceback goes nowhere: decorate run with `@entry`, which
turns a RegionError into err(its message) and logs any other exception's
traceback at error level before the trap, as a Rust panic does.
"""

from componentize_py_types import Err
import wit_world
from wit_world.imports import host, output
from wit_world.imports import region as _region
from wit_world.imports import types as _types

__all__ = ["Err", "Plugin", "RegionError", "region", "emit", "log", "progress", "entry"]

#: Bytes per chunk: 1 MiB, as in the Rust library.
DEFAULT_CHUNK = 1 << 20
#: The host's limit on one read.
MAX_READ = 64 << 20


class RegionError(Exception):
    """A region call failed; str() is the same message the Rust library gives."""

    def __init__(self, err, length: int = 0, segment: int = 0):
        self.err = err
        if isinstance(err, _types.Error_OutOfRange):
            r = err.value
            msg = (f"access of {r.len} bytes at offset {r.at} is out of range "
                   f"for a region of {r.size} bytes")
        elif isinstance(err, _types.Error_ReadOnly):
            msg = "region is read-only (run with --in-place or --output)"
        elif isinstance(err, _types.Error_TooLarge):
            msg = (f"read of {length} bytes exceeds the host's limit of {err.value} bytes "
                   f"per read (read in chunks)")
        elif isinstance(err, _types.Error_NoSuchSegment):
            count = err.value
            msg = f"no segment {segment}: the region has {count} segment{'' if count == 1 else 's'}"
        else:
            msg = str(err)
        super().__init__(msg)


class _Region:
    """The mapped region: every input file, concatenated."""

    def size(self) -> int:
        return _region.size()

    def segments(self):
        """The input files: objects with .name, .start, .len."""
        return _region.segments()

    def writable(self) -> bool:
        return _region.writable()

    def read(self, at: int, length: int) -> bytes:
        """`length` bytes at `at` (negative: from the end); no short reads."""
        try:
            return _region.read(at, length)
        except Err as e:
            raise RegionError(e.value, length) from None

    def write(self, at: int, data: bytes) -> None:
        try:
            _region.write(at, data)
        except Err as e:
            raise RegionError(e.value, len(data)) from None

    def locate(self, segment: int, delta: int) -> int:
        try:
            return _region.locate(segment, delta)
        except Err as e:
            raise RegionError(e.value, 0, segment) from None

    def chunks(self, start: int = 0, end: int | None = None, chunk_size: int = DEFAULT_CHUNK,
               report_progress: bool = True):
        """Yields (offset, bytes) for [start, end) in chunks of chunk_size."""
        end = self.size() if end is None else end
        pos = start
        while pos < end:
            n = min(chunk_size, end - pos)
            yield pos, self.read(pos, n)
            pos += n
            if report_progress:
                progress(pos - start, end - start)

    def transform_chunks(self, f, chunk_size: int = DEFAULT_CHUNK) -> None:
        """Replaces each chunk with f(offset, bytes), which must keep its length."""
        if not self.writable():
            raise RegionError(_types.Error_ReadOnly())
        for offset, data in self.chunks(chunk_size=chunk_size):
            new = f(offset, data)
            if len(new) != len(data):
                raise ValueError("transform_chunks: f changed the length of a chunk")
            self.write(offset, new)


region = _Region()


def emit(data: bytes) -> None:
    """Appends bytes to the plugin's output (mmhost's stdout)."""
    output.emit(data)


class _Log:
    def _at(self, level, message: str) -> None:
        host.log(level, message)

    def trace(self, m: str) -> None: self._at(host.Level.TRACE, m)
    def debug(self, m: str) -> None: self._at(host.Level.DEBUG, m)
    def info(self, m: str) -> None: self._at(host.Level.INFO, m)
    def warn(self, m: str) -> None: self._at(host.Level.WARN, m)
    def error(self, m: str) -> None: self._at(host.Level.ERROR, m)


log = _Log()

_last_progress = [0]


def progress(done: int, total: int) -> None:
    """Reports progress, at most once per 1% (and always at the end)."""
    step = max(total // 100, 1)
    if done >= total or done - _last_progress[0] >= step or done < _last_progress[0]:
        _last_progress[0] = done
        host.progress(done, total)


def entry(run):
    """Decorator for run(): see the module's documentation."""

    def wrapped(self, args):
        try:
            return run(self, args)
        except Err:
            raise
        except RegionError as e:
            raise Err(str(e)) from None
        except BaseException:
            import traceback
            log.error("uncaught exception:\n" + traceback.format_exc().rstrip())
            raise

    return wrapped


Plugin = wit_world.WitWorld
