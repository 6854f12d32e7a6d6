"""Read one large plain log file on several cores, with the result of reading it in one process.

The file is cut into chunks at the end offsets of the reads a sequential reading makes
(input/text.py reads a first block, then blocks of a fixed size, each cut at its last line end),
so every chunk yields the very blocks a sequential reading yields.  Worker processes run the
block path (fastpath.BlockPath) over their chunks with the per-line front end (front.Front) behind
it, and send back what the parent needs: the events to place and the other calls on the boots, in
columns (front.Steps), and, as lines, only what the parent's own state decides (a chunk's first
lines up to a gap of unrelated lines, lines only the parent's Reader can read).  The parent replays
all of it in order into its one Analyzer, which owns every boot, NIC and finding: the report is the
sequential one.

A worker cannot know the state the block path had before its chunk (the layout kept, the blocks
seen) nor whether a multi-line object (pretty-printed JSON) was left open: it guesses (the
layout of its first block), and the parent checks the guess against the true state before the
replay.  A chunk whose guess was wrong, or that starts inside an open object, is read again in
the parent, block by block, exactly as a sequential reading would: slower, never different.

Only a plain regular file is read this way (not stdin, compressed files, archives or journal
exports, which stay sequential), and only when it is big enough to be worth the processes.

Longer than 400 lines because the chunk plan, the worker protocol and the in-order replay are one
protocol whose three parts must agree.
"""

from __future__ import annotations

import array
import contextlib
import gc
import os
import signal
import stat
import sys
import threading
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Protocol, Union, cast

import attrs

from . import framing
from .config import Config
from .errors import InputError
from .fastpath import BlockPath, LineTaker
from .formats import Reader, Record
from .events import Event
from .front import Front, Lines, Steps
from .input import Limits, Source, Tally
from .input import text as input_text
from .input.archives import _ZIP, _is_tar
from .input.compression import _magic
from .input.export import _EXPORT

if TYPE_CHECKING:  # the process pool is imported when a file is read in parallel: start-up stays as it was
    import concurrent.futures as futures

#: Files at least this big are read on every core when the number of processes is left to vflog.
AUTO_BYTES = 8 << 20
#: The size of a chunk: large enough that a chunk costs far more than sending it, small enough for
#: a steady flow to the parent (each result is a fraction of its chunk's text).
CHUNK_BYTES = 4 << 20
#: Chunks are at least this big whatever the file's size.
MIN_CHUNK_BYTES = 1 << 19
#: Chunks read ahead beyond one per worker: results waiting for the parent stay few, so memory stays flat.
AHEAD = 2

#: A block path's state: the layout kept, the misses in a row, the blocks seen (fastpath.BlockPath.state).
State = tuple[Union[str, None], int, int]


class Analyzer(LineTaker, Protocol):
    """What the replay needs of the Analyzer (analyze.Analyzer): the calls of the block path, its blocks, and the
    state its block path carries from block to block."""

    @property
    def block_state(self) -> State:
        """Return what the block path's layout of the next block depends on."""

    def resume_blocks(self, state: State) -> None:
        """Let the block path go on from *state*."""

    def feed_block(self, first: int, block: str) -> int:
        """Take a block of text whose first line has number *first*; return the number of its last line."""

    @property
    def front_config(self) -> Config | None:
        """Return the configuration workers read lines with, None when they only pass the lines on."""

    def _take_steps(self, steps: Steps, after: Lines, base: int) -> None:
        """Make the hook calls a worker's front end recorded (lines numbered from *base* on); go on from *after*."""


def default_jobs() -> int:
    """Return the number of cores this process may run on."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counted is not None:
        return max(1, counted() or 1)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@attrs.frozen
class Plan:
    """How one plain file is read in parallel: its name, where its chunks start, and how many workers."""

    name: str
    identity: tuple[int, int]
    starts: tuple[tuple[int, int], ...]  # per chunk: (first byte, end of the read it starts after)
    workers: int


def plan(source: Source, jobs: int | None, limits: Limits, chunk_bytes: int | None = None) -> Plan | None:
    """Return how to read *source* in parallel, or None when it is read in this process.

    *jobs* None means every core for a plain file of at least AUTO_BYTES, else one.  Only a path to
    a regular, uncompressed text file that is neither an archive nor a journal export is read in
    parallel, and only when it holds at least two chunks (*chunk_bytes*, by default from its size).
    """
    if jobs == 1 or not isinstance(source, (str, os.PathLike)):
        return None
    name = os.fspath(source)
    name = name if isinstance(name, str) else os.fsdecode(name)
    if name == "-":
        return None
    try:
        info = os.stat(name)  # never opened when it is not a regular file: a FIFO's data is for the usual reading
        workers = jobs if jobs is not None else (default_jobs() if info.st_size >= AUTO_BYTES else 1)
        if workers < 2 or not stat.S_ISREG(info.st_mode):
            return None
        with open(name, "rb") as file:
            info = os.fstat(file.fileno())
            if not _plain_text(file.read(input_text._FIRST_BLOCK)):
                return None
            chunk = chunk_bytes or max(MIN_CHUNK_BYTES, min(CHUNK_BYTES, info.st_size // (workers * 8)))
            starts = _chunk_starts(file.fileno(), info.st_size, chunk, limits)
    except (OSError, ValueError):
        return None  # reading it the usual way gives the error
    if len(starts) < 2:
        return None
    return Plan(name, (info.st_dev, info.st_ino), starts, workers)


def _plain_text(head: bytes) -> bool:
    """Return whether a file starting with *head* is read as plain text blocks (not compressed, an archive,
    a journal export, or only NUL bytes, whose binary check waits for more)."""
    return bool(head) and _magic(head[:8]) is None and not head.startswith(_ZIP) and not _is_tar(head[:512]) \
        and not head.startswith(_EXPORT) and head != bytes(len(head))


def _read_end(index: int) -> int:
    """Return the offset at which read *index* of a sequential reading ends (read 0 is the first block)."""
    return input_text._FIRST_BLOCK + index * input_text._BLOCK


def _chunk_starts(descriptor: int, size: int, chunk: int, limits: Limits) -> tuple[tuple[int, int], ...]:
    """Return the starts of the chunks of a file of *size* bytes, each about *chunk* bytes, with the end of the
    read each starts after: the line start after the last line end before the end of a read, where a
    sequential reading holds no cut line.  Every byte is looked at about once, even in a file of one line."""
    starts = [(0, 0)]
    first, block = input_text._FIRST_BLOCK, input_text._BLOCK
    index = max(0, -(-(chunk - first) // block))
    while _read_end(index) < size:
        end = _read_end(index)
        line_start = _line_start_before(descriptor, end, limits.max_line)
        if line_start is not None and line_start > starts[-1][0]:
            starts.append((line_start, end))
            index += max(1, chunk // block)
            continue
        line_end = _line_end_after(descriptor, end)  # inside a long line: try the first read after its end
        if line_end is None:
            break
        index = max(index + 1, (line_end - first) // block + 1)
    return tuple(starts)


def _line_start_before(descriptor: int, end: int, limit: int) -> int | None:
    """Return the offset after the last line end before *end*, if the line from there to *end* is not over
    *limit* bytes (a sequential reading then holds it whole, uncut); else None."""
    floor = max(0, end - limit - 1)
    position = end
    while position > floor:
        start = max(floor, position - _PIECE)
        piece = os.pread(descriptor, position - start, start)
        found = piece.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0 if floor == 0 else None


def _line_end_after(descriptor: int, position: int) -> int | None:
    """Return the offset of the first line end at or after *position*, None when there is none."""
    while True:
        piece = os.pread(descriptor, _PIECE, position)
        if not piece:
            return None
        found = piece.find(b"\n")
        if found >= 0:
            return position + found
        position += len(piece)


#: Bytes looked at a time when a line end is looked for.
_PIECE = 1 << 16


# -- in a worker --------------------------------------------------------------------------------


@attrs.frozen
class Task:
    """One chunk to read: bytes [start, end) of file *name* (end None: to its end), after the read ending at *after*."""

    name: str
    identity: tuple[int, int]
    index: int
    start: int
    after: int
    end: int | None
    state: State  # chunk 0: the true state; later chunks: its count of blocks, the layout being guessed
    limits: Limits
    config: Config | None  # what the worker reads lines with (None: it passes every line on)
    grid: tuple[int, int]  # the sequential reading's first and later read sizes


class Scanned(NamedTuple):
    """What a worker sends back: the calls for the Analyzer, the chunk's lines, the states, cut lines, a failure."""

    calls: Calls
    lines: int
    assumed: State | None  # the state the chunk was read from (None: the chunk held no block)
    final: State | None
    cut_lines: int
    failure: str | None


class _Span:
    """Bytes [start, end) of a file, read as a sequential reading reads them: each read ends where one of its reads
    ends (the first one after the read ending at *after*), so the same blocks come out."""

    def __init__(self, descriptor: int, start: int, after: int, end: int | None) -> None:
        self._descriptor = descriptor
        self._position = start
        self._after = after
        self._end = end

    def read(self, size: int = -1) -> bytes:
        """Return the bytes up to the end of the next read of the sequential reading (b"" at the end)."""
        position = max(self._position, self._after)
        first, block = input_text._FIRST_BLOCK, input_text._BLOCK
        stop = first if position < first else first + ((position - first) // block + 1) * block
        if self._end is not None:
            stop = min(stop, self._end)
        parts = []
        while self._position < stop:
            piece = os.pread(self._descriptor, stop - self._position, self._position)
            if not piece:
                break
            parts.append(piece)
            self._position += len(piece)
        return b"".join(parts)


@contextlib.contextmanager
def _opened(task: Task) -> Iterator[int]:
    """Open the file of *task* and yield its descriptor; InputError when the name is now another file."""
    with open(task.name, "rb") as file:
        info = os.fstat(file.fileno())
        if (info.st_dev, info.st_ino) != task.identity:
            raise InputError(task.name, "was replaced while being read (rotated?)")
        yield file.fileno()


def _blocks(descriptor: int, task: Task, tally: Tally) -> Iterator[str]:
    """Yield the text blocks of the chunk of *task*, as a sequential reading of the whole file yields them."""
    span = cast(Any, _Span(descriptor, task.start, task.after, task.end))
    return input_text._text_chunks(span, task.name, task.limits, tally, checked=task.index > 0)


class _OpenObjects(Reader):
    """A Reader kept only to tell whether a multi-line object is open: complete objects are not decoded."""

    def _decode(self, number: int, text: str, raw: str, candidate: bool = False) -> Record:
        """Return an empty record: only whether an object is open matters here (the parent decodes it)."""
        return Record(number, None)


class Calls(NamedTuple):
    """The calls of the block path on its Analyzer for one chunk, compact (a result waiting for the parent holds
    little more than the text of its lines): per call a kind, numbers, and a line's text or other fields."""

    kinds: bytes
    numbers: array.array[int]  # per call: lines counted before it, its line; for skipped lines: the count, the last
    texts: str  # the texts of the calls that carry one, joined by line ends (a line holds none)
    others: list[tuple[Any, ...]]  # the fields of records of no common shape


#: Kinds of calls: feed (a candidate or not), record (a plain record, any other), skipped (no record, a record of
#: an unrelated line whose raw text is its text, any other), and the steps of lines read in the worker (front).
_FEED, _FEED_CANDIDATE, _PLAIN, _RECORD, _SKIPPED, _UNRELATED, _SKIPPED_OTHER, _FRONT = range(8)
#: The fields after the text of a plain record (formats.plain_record) and of an unrelated one (before its raw text).
_PLAIN_TAIL = (None, None, False, False, "")
_UNRELATED_MIDDLE = (None, None, False, False)


class Recorder:
    """Records the calls a worker passes on to the parent's Analyzer, each with the lines counted before it that
    the call itself does not count (the block path's own count, and the lines read in the worker)."""

    def __init__(self) -> None:
        self._kinds = bytearray()
        self._numbers = array.array("q")
        self._texts: list[str] = []
        self._others: list[tuple[Any, ...]] = []
        self._reader = _OpenObjects()

    @property
    def pending(self) -> bool:
        """Return whether the lines fed so far leave a multi-line object open."""
        return self._reader.pending

    def calls(self) -> Calls:
        """Return the calls recorded."""
        return Calls(bytes(self._kinds), self._numbers, "\n".join(self._texts), self._others)

    def _call(self, kind: int, number: int, counted: int) -> None:
        """Record a call of *kind* about line *number*, after *counted* lines."""
        self._kinds.append(kind)
        self._numbers.extend((counted, number))

    def feed(self, number: int, raw: str, candidate: bool, counted: int) -> None:
        """Record a line fed to the Reader."""
        self._call(_FEED_CANDIDATE if candidate else _FEED, number, counted)
        self._texts.append(raw)
        for _ in self._reader.feed(number, raw, candidate):
            pass

    def record(self, record: Record, counted: int) -> None:
        """Record a decoded record (its number apart, so the parent can renumber it)."""
        fields = tuple(record[1:])
        if isinstance(fields[0], str) and "\n" not in fields[0] and fields[1:] == _PLAIN_TAIL:
            self._call(_PLAIN, record[0], counted)
            self._texts.append(fields[0])
        else:
            self._call(_RECORD, record[0], counted)
            self._others.append(fields)

    def skipped(self, count: int, number: int, record: Record | None, counted: int) -> None:
        """Record lines not read, and the last of them with content."""
        if record is None:
            self._call(_SKIPPED, number, counted)
            self._numbers.append(count)
            return
        fields = tuple(record[1:])
        text = fields[0]
        if isinstance(text, str) and "\n" not in text and fields[1:5] == _UNRELATED_MIDDLE and fields[5] == text:
            self._call(_UNRELATED, number, counted)
            self._texts.append(text)
        else:
            self._call(_SKIPPED_OTHER, number, counted)
            self._others.append(fields)
        self._numbers.extend((count, record[0]))

    def front(self, steps: Steps, after: Lines, counted: int) -> None:
        """Record the hook calls of lines read in the worker, and the per-line state they left."""
        self._call(_FRONT, 0, counted)
        self._others.append((steps, after))


class _Worker(Front):
    """Stands for the Analyzer in a worker (fastpath.LineTaker): reads the lines of its chunk itself where the
    parent's state before them cannot matter, and passes the other calls on (Recorder).

    At its chunk's start, and after a line only the parent's Reader can read (formats.Reader.reads_alone), the
    worker passes the calls on; after a gap of two or more unrelated lines whose last one has content, it reads
    the lines here: the per-line state is then what the gap left in the parent too (nothing held, the gap's last
    record the one before), but for the last records with content before the gap, which the parent adds
    (Analyzer._take_steps).  The hook calls are recorded in columns (front.Steps).
    """

    def __init__(self, config: Config | None) -> None:
        super().__init__((config or Config()).tzinfo(), following=False)
        self.recorder = Recorder()
        self._allowed = config is not None
        self._here = False  # whether lines are read here (else passed on)
        self._steps = Steps()
        self._passed = 0  # the lines the parent has counted after the calls passed on so far

    @property
    def pending(self) -> bool:
        """Return whether the lines fed so far leave a multi-line object open."""
        return self._reader.pending if self._here else self.recorder.pending

    def _counted(self) -> int:
        """Return the lines counted since the last call passed on (the parent counts them before the next)."""
        counted, self._passed = self.lines - self._passed, self.lines
        return counted

    def feed(self, number: int, raw: str, candidate: bool = False) -> None:
        """Read a line here that the Reader reads alone; pass any other line on (the Reader's state is the parent's)."""
        if self._here:
            if Reader.reads_alone(raw):
                Front.feed(self, number, raw, candidate)
                return
            self.finish()
        self.recorder.feed(number, raw, candidate, self._counted())
        self.lines += 1
        self._passed = self.lines

    def record(self, record: Record) -> None:
        """Read a record here, or pass it on."""
        if self._here:
            Front.record(self, record)
        else:
            self.recorder.record(record, self._counted())

    def skipped(self, count: int, number: int, record: Record | None) -> None:
        """Account for lines not read here, or pass them on; after a gap of two lines or more with a last record,
        read the lines that follow here."""
        if self._here:
            Front.skipped(self, count, number, record)
            return
        self.recorder.skipped(count, number, record, self._counted())
        self.lines += count
        self._passed = self.lines
        if record is not None and count >= 2 and self._allowed:  # the parent's state is now this one
            self._here, self._held, self._previous, self._boot_id = True, None, record, None
            self._recent.clear()
            self._cut = (record, None) if number == self.lines else None

    def finish(self) -> None:
        """Pass the steps of the lines read here on, with the per-line state they left; pass lines on from now."""
        if self._here:
            self.recorder.front(self._steps, self._lines_state, self._counted())
            self._here, self._steps = False, Steps()

    def _place(self, template: Event, number: int, t: float | None, clock: str | None,
               previous: Record | None) -> None:
        """Record an event to place, with the line and time of the record before it (decoded here, not in the parent)."""
        self._steps.place(template, number, t, clock, previous, self._tz)

    def _other(self, number: int, record: Record) -> None:
        """Record the latest line that is no event."""
        self._steps.other(number)

    def _duplicate(self) -> None:
        """Record a duplicate."""
        self._steps.duplicate()

    def _boot_changes(self, number: int, boot_id: str, previous: Record | None) -> None:
        """Record a boot id that differs from the last one seen here (the parent compares it with its own)."""
        self._steps.boot_id(number, boot_id, previous, self._recent, self._tz)
        self._boot_id = boot_id

    def _count_unrecognised(self, number: int, text: str) -> None:
        """Record an unrecognised line."""
        self._steps.unread(number, text)


def scan_chunk(task: Task) -> Scanned:
    """Read the chunk of *task* with the block path, recording what it hands the Analyzer (in a worker)."""
    worker = _Worker(task.config)
    path = BlockPath(worker)
    tally = Tally()
    number = 0
    assumed: State | None = None
    failure = None
    try:
        input_text._FIRST_BLOCK, input_text._BLOCK = task.grid  # the parent's, also under spawn
        with _opened(task) as descriptor:
            for block in _blocks(descriptor, task, tally):
                if assumed is None:
                    assumed = task.state if task.index == 0 else _guess(block, task.state[2])
                    path.resume(assumed)
                number = path.feed_block(number + 1, block)
    except InputError as exc:
        failure = exc.reason
    except OSError as exc:
        failure = f"cannot be read to the end ({exc.strerror or exc})"
    except Exception as exc:  # a fault of the reader itself: named, never a traceback
        failure = f"a reader process failed ({type(exc).__name__}: {exc})"
    worker.finish()
    final = path.state if assumed is not None else None
    return Scanned(worker.recorder.calls(), number, assumed, final, tally.cut_lines, failure)


def _guess(block: str, blocks: int) -> State:
    """Return the likely state of the block path before *block*: the layout most of its first lines fit (a
    guess: the parent checks it, so a cheap count of misfits does instead of framing.layout)."""
    end = block.find("\n", _GUESS_CHARS)
    sample = framing.without_escapes(block if end < 0 else block[: end + 1])
    misfits: dict[str, int] = {}
    for kind in framing.LAYOUTS:  # in the order of preference, the first with the fewest misfits wins
        misfits[kind] = len(framing.misfits(sample, kind))
        if not misfits[kind]:
            break  # every line fits: no later layout has fewer misfits
    kind = min(misfits, key=misfits.__getitem__)
    return (kind if misfits[kind] * 2 <= sample.count("\n") else None), 0, blocks


#: How much of its first block a worker looks at to guess the layout the block path keeps there (a few dozen
#: lines of any layout: a wrong guess costs a reading in the parent, never a different report).
_GUESS_CHARS = 1 << 14

#: The signals a worker leaves to its parent (SIGINT) or that end it (SIGTERM, SIGHUP).
_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _worker_start() -> None:
    """In a worker: Ctrl-C is the parent's to handle; SIGTERM and SIGHUP end the process as by default.  The
    signals, held since the worker was started (see _held), are let in only then."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


@contextlib.contextmanager
def _held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP while worker processes start: a signal that arrived in the middle of a
    fork would be lost in Python's fork handlers; held, it takes effect when the block is left (in the parent)
    or is handled by the worker's own rules (see _worker_start)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# -- in the parent --------------------------------------------------------------------------------


def _context() -> Any:
    """Fork when it is safe (no other thread in this process), else a fork server or spawn."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _tasks(chosen: Plan, limits: Limits, blocks: int, config: Config | None) -> list[Task]:
    """Return the tasks of the chunks of *chosen*; *blocks* is the count of blocks the Analyzer saw before, *config*
    what the workers read lines with."""
    grid = (input_text._FIRST_BLOCK, input_text._BLOCK)
    tasks = []
    for index, (start, after) in enumerate(chosen.starts):
        end = chosen.starts[index + 1][0] if index + 1 < len(chosen.starts) else None
        reads = 0 if index == 0 else (after - input_text._FIRST_BLOCK) // input_text._BLOCK + 1
        state: State = (None, 0, blocks + reads)
        tasks.append(Task(chosen.name, chosen.identity, index, start, after, end, state, limits, config, grid))
    return tasks


def _same(one: State, other: State) -> bool:
    """Return whether two block path states give the same layouts to every block that may follow."""
    return one[0] == other[0] and min(one[1], 3) == min(other[1], 3) and one[2] % 16 == other[2] % 16


def read_chunks(analyzer: Analyzer, chosen: Plan, limits: Limits, number: int, tally: Tally) -> Iterator[int]:
    """Feed the file of *chosen* to *analyzer* (whose input has started) as a sequential reading would;
    its lines follow line *number*.  Yield the number of the last line after each chunk.

    Raise InputError for a file that cannot be read to the end (after the lines before the fault),
    and when a worker fails: no traceback of a worker reaches the caller.
    """
    import concurrent.futures as futures

    tasks = _tasks(chosen, limits, analyzer.block_state[2], analyzer.front_config)
    context = _context()
    frozen = context.get_start_method() == "fork" and not gc.get_freeze_count()
    if frozen:
        gc.freeze()  # forked workers' collections then leave the inherited objects (and their pages) alone
    executor = futures.ProcessPoolExecutor(max_workers=chosen.workers, mp_context=context, initializer=_worker_start)
    clean = False
    try:
        queue: list[futures.Future[Scanned]] = []
        waiting = iter(tasks)
        for task in tasks:
            while len(queue) < chosen.workers + AHEAD and (ahead := next(waiting, None)) is not None:
                with _held():  # the first submission starts the workers
                    queue.append(executor.submit(scan_chunk, ahead))
            scanned = _result(queue.pop(0), chosen.name)
            if scanned.assumed is not None and (analyzer.pending or not _same(analyzer.block_state,
                                                                               scanned.assumed)):
                for number in _read_here(analyzer, task, number, tally):  # the worker's guess was wrong
                    yield number
                continue
            number = _take(analyzer, scanned, number, tally)
            yield number
            if scanned.failure is not None:  # the lines before the fault were taken
                raise InputError(task.name, scanned.failure)
        clean = True
    finally:
        if clean:
            executor.shutdown(wait=True)
        else:
            _stop(executor)
        if frozen:
            gc.unfreeze()


def _result(future: futures.Future[Scanned], name: str) -> Scanned:
    """Return what a worker sent back, or raise InputError saying why it sent nothing."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool:
        raise InputError(name, "a reader process died (killed? out of memory?); try --jobs 1") from None
    except Exception as exc:
        raise InputError(name, f"a reader process failed ({type(exc).__name__}: {exc}); try --jobs 1") from None


def _take(analyzer: Analyzer, scanned: Scanned, number: int, tally: Tally) -> int:
    """Replay a chunk's calls into *analyzer* after line *number* (the worker guessed the state right); return
    the number of the chunk's last line."""
    if scanned.assumed is None or scanned.final is None:  # no block: nothing changes
        return number
    before = analyzer.block_state[2]
    _replay(analyzer, scanned.calls, number)
    layout, misses, blocks = scanned.final
    analyzer.resume_blocks((layout, misses, before + blocks - scanned.assumed[2]))
    tally.cut_lines += scanned.cut_lines
    return number + scanned.lines


def _replay(analyzer: Analyzer, calls: Calls, base: int) -> None:
    """Make the recorded calls on *analyzer*, the line numbers moved on by *base*."""
    feed, record, skipped = analyzer.feed, analyzer.record, analyzer.skipped
    new = tuple.__new__
    numbers, texts, others = iter(calls.numbers), iter(calls.texts.split("\n")), iter(calls.others)
    for kind in calls.kinds:
        counted, number = next(numbers), base + next(numbers)
        if counted:
            analyzer.lines += counted
        if kind == _PLAIN:
            record(new(Record, (number, next(texts), None, None, False, False, "")))
        elif kind == _UNRELATED:
            text = next(texts)
            count, last = next(numbers), base + next(numbers)
            skipped(count, number, new(Record, (last, text, None, None, False, False, text)))
        elif kind == _FEED or kind == _FEED_CANDIDATE:
            feed(number, next(texts), kind == _FEED_CANDIDATE)
        elif kind == _SKIPPED:
            skipped(next(numbers), number, None)
        elif kind == _RECORD:
            record(new(Record, (number, *next(others))))
        elif kind == _FRONT:
            steps, after = next(others)
            analyzer._take_steps(steps, after, base)
        else:
            count, last = next(numbers), base + next(numbers)
            skipped(count, number, new(Record, (last, *next(others))))


def _read_here(analyzer: Analyzer, task: Task, number: int, tally: Tally) -> Iterator[int]:
    """Read the chunk of *task* in this process, block by block, after line *number*; yield the number of the
    last line after each block."""
    with _opened(task) as descriptor:
        for block in _blocks(descriptor, task, tally):
            number = analyzer.feed_block(number + 1, block)
            yield number


def _stop(executor: futures.ProcessPoolExecutor) -> None:
    """Shut *executor* down now: end its worker processes and cancel the waiting chunks (none outlives vflog).

    The workers are ended first, then the pool's own thread is waited for: it notices and reaps them, so no
    process is waited for by two threads at once (the loser of that race would never see it end).
    """
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    executor.shutdown(wait=True, cancel_futures=True)
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
