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
turns a RegionError into err(its message), logs any other exception's
traceback at error level before the trap, as a Rust panic does, and checks
the type of what run returns (a str; anything else is logged as "run
returned ... which is not a result<string, string>" and traps).

The `parallel` world (build with `-w parallel`): define, next to WitWorld, a
class `Chunked` with the methods `plan(self, args) -> int | None`,
`run_chunk(self, args, chunk) -> bytes` and `reduce(self, args, partials) ->
str`, each decorated with `@entry` (which checks those result types too).
"""

import sys

from componentize_py_types import Err
import wit_world
from wit_world.imports import host, output
from wit_world.imports import config as _config
from wit_world.imports import region as _region
from wit_world.imports import types as _types

__all__ = ["Err", "Plugin", "RegionError", "region", "emit", "log", "progress", "config",
           "entry", "format_exception", "SHA256"]

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

    def find(self, pattern: bytes, start: int = 0, end: int | None = None,
             limit: int = 1 << 20) -> list[int]:
        """Up to `limit` non-overlapping occurrences of `pattern` wholly inside
        [start, end) (default: the whole region), leftmost first, searched by
        the host; their global offsets. An empty pattern finds nothing."""
        end = self.size() if end is None else end
        try:
            return _region.find(pattern, start, end, limit)
        except Err as e:
            raise RegionError(e.value, max(end - start, 0)) from None

    def digest(self, at: int = 0, length: int | None = None, algorithm=None) -> bytes:
        """The digest (default SHA-256, 32 bytes) of `length` bytes at `at`
        (default: the whole region), computed by the host: nothing is copied
        into the plugin. Needs a host of WIT 0.1.3 or later."""
        length = self.size() if length is None else length
        try:
            return _region.digest(SHA256 if algorithm is None else algorithm, at, length)
        except Err as e:
            raise RegionError(e.value, length) from None

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

#: The digest algorithm of `region.digest`.
SHA256 = _region.DigestAlgorithm.SHA256


def config() -> str:
    """The step's configuration as JSON text (`"null"` when it has none);
    parse it with `json.loads`."""
    return _config.get()


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


def format_exception(e: BaseException, skip=None) -> str:
    """A traceback like `traceback.format_exception` gives, without source
    lines: built from tb_frame/tb_lineno only, because `traceback` reads
    source files through `linecache`, whose `stat` traps under --stub-wasi.
    Causes and contexts (`raise ... from ...`) come first, as in Python.
    Frames of the code object `skip` (the wrapper of `entry`) are left out."""
    parts = []
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        lines = []
        tb = e.__traceback__
        if tb is not None:
            lines.append("Traceback (most recent call last):")
        while tb is not None:
            code = tb.tb_frame.f_code
            if code is skip:
                tb = tb.tb_next
                continue
            lines.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}')
            tb = tb.tb_next
        kind = type(e)
        name = kind.__qualname__
        if kind.__module__ not in ("builtins", "__main__"):
            name = f"{kind.__module__}.{name}"
        text = str(e)
        lines.append(f"{name}: {text}" if text else name)
        parts.append("\n".join(lines))
        if e.__cause__ is not None:
            parts.append("\nThe above exception was the direct cause of the following exception:\n")
            e = e.__cause__
        elif e.__context__ is not None and not e.__suppress_context__:
            parts.append("\nDuring handling of the above exception, another exception occurred:\n")
            e = e.__context__
        else:
            e = None
    return "\n".join(reversed(parts))


#: What each export must return, for the check in `entry`: (test, WIT type,
#: what to return instead).
_RESULTS = {
    "run": (lambda v: isinstance(v, str), "result<string, string>", "a str"),
    "reduce": (lambda v: isinstance(v, str), "result<string, string>", "a str"),
    "plan": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64),
             "result<option<u64>, string>", "None or an int in [0, 2**64)"),
    "run_chunk": (lambda v: isinstance(v, (bytes, bytearray)), "result<list<u8>, string>", "bytes"),
}


def _kind(value) -> str:
    return f"{value!r:.60} ({type(value).__name__})"


def _logged(e: BaseException) -> BaseException:
    """Marks `e` as logged, for `_excepthook`."""
    try:
        e._mmhost_logged = True
    except AttributeError:
        pass
    return e


def _excepthook(kind, value, tb) -> None:
    """What the runtime calls to print an exception that escaped an export,
    before it traps: log its traceback (unless `entry` did). Python's own
    hook would import `traceback`, whose `stat` traps under --stub-wasi with
    30 frames of CPython in the backtrace and the exception lost."""
    if not getattr(value, "_mmhost_logged", False):
        log.error("uncaught exception:\n" + format_exception(value))


sys.excepthook = _excepthook


def entry(run):
    """Decorator for run() (and plan, run_chunk, reduce): see the module's
    documentation."""
    name = run.__name__
    check, wit_type, instead = _RESULTS.get(name, (lambda v: True, "", ""))

    def wrong(what: str) -> None:
        message = (f"{name} {what}, which is not a {wit_type}: return {instead} (ok) "
                   f"or raise Err(str) (err)")
        log.error(message)
        raise _logged(TypeError(message))

    def wrapped(self, *args):
        try:
            result = run(self, *args)
        except Err as e:
            if not isinstance(e.value, str):
                wrong(f"raised Err({_kind(e.value)})")
            raise
        except RegionError as e:
            raise Err(str(e)) from None
        except BaseException as e:
            log.error("uncaught exception:\n" + format_exception(e, wrapped.__code__))
            raise _logged(e)
        if not check(result):
            wrong(f"returned {_kind(result)}")
        return result

    wrapped.__name__ = name
    wrapped.__doc__ = run.__doc__
    return wrapped


Plugin = wit_world.WitWorld
