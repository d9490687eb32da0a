# _context.py: where a session's GObjects live, and how calls reach them.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Main contexts for sessions, and the bridge from GIO callbacks to asyncio.

libicloud-glib is asynchronous on a GLib main context: an ``_async`` call
starts a flow and the result comes back as a callback dispatched by the
thread-default ``GMainContext`` of the thread that made the call. Every
GObject of a session (the ``ICloud.Session``, its ``GCancellable``\\ s, the
libsoup objects under it) is used from that context's thread only.

Two kinds of context are used:

* :class:`ThreadContext`: one helper thread per process, named
  ``icloud-glib``, runs a ``GMainLoop`` on a context of its own. Calls are
  marshalled to it (``g_main_context_invoke_full``) and results are handed
  back with ``loop.call_soon_threadsafe()`` (asyncio) or a
  ``threading.Event`` (blocking calls). Both threads sleep in ``poll()``
  while Apple thinks: nothing polls.
* :class:`LoopContext`: when the running asyncio loop is PyGObject's
  GLib-backed loop (``gi.events``, PyGObject >= 3.50, also what a GTK
  application uses), the loop thread already iterates a GLib main context,
  so calls are made right there and no thread is added.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import traceback
import weakref
from typing import Any, Callable, List, Optional, TypeVar

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')

from gi.repository import GLib, Gio  # noqa: E402

__all__ = ['Context', 'ThreadContext', 'LoopContext', 'Done', 'Job',
           'helper_context', 'context_for_running_loop', 'glib_loop_context',
           'run_async', 'run_blocking']

T = TypeVar('T')

#: Called once, on the context's thread, when a job is over:
#: ``done(value, None)`` or ``done(None, exception)``.
Done = Callable[[Any, Optional[BaseException]], None]

#: Runs on the context's thread: starts the operation with the cancellable
#: and arranges for ``done`` to be called exactly once.
Job = Callable[[Gio.Cancellable, Done], None]


class Context:
    """A GLib main context that a session's GObjects belong to."""

    main_context: GLib.MainContext

    def invoke(self, func: Callable[[], Any]) -> None:
        """Runs ``func()`` on the context's thread, now or soon."""
        raise NotImplementedError

    def deliver(self, loop: asyncio.AbstractEventLoop, func: Callable[[], None]) -> None:
        """Runs ``func()`` on the asyncio loop's thread (called on the context's thread)."""
        raise NotImplementedError

    def is_current_thread(self) -> bool:
        """Whether the calling thread is the one that runs the context."""
        raise NotImplementedError


def _once(func: Callable[[], Any]) -> Callable[..., bool]:
    def call(*_ignored: Any) -> bool:
        func()
        return False  # GLib.SOURCE_REMOVE
    return call


class _Batch:
    """Functions queued for another thread, which one wake-up runs together.

    ``add()`` returns True when the batch was empty: only then must the
    other thread be woken (one ``g_main_context_invoke`` or one
    ``call_soon_threadsafe`` for a burst of calls, not one each).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._functions: List[Callable[[], Any]] = []

    def add(self, func: Callable[[], Any]) -> bool:
        with self._lock:
            self._functions.append(func)
            return len(self._functions) == 1

    def run(self, *_ignored: Any) -> bool:
        with self._lock:
            functions, self._functions = self._functions, []
        for func in functions:
            try:
                func()
            except Exception:  # one failing function must not starve the others
                traceback.print_exc()
        return False  # GLib.SOURCE_REMOVE


class ThreadContext(Context):
    """A private GMainContext iterated by a helper thread of its own."""

    def __init__(self, name: str = 'icloud-glib') -> None:
        self.main_context = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self.main_context, False)
        self._to_context = _Batch()
        self._to_loops: 'weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch]' = \
            weakref.WeakKeyDictionary()
        self._to_loops_lock = threading.Lock()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        # Thread-default: GTask and libsoup send their callbacks here.
        self.main_context.push_thread_default()
        self._started.set()
        self._loop.run()
        self.main_context.pop_thread_default()

    def invoke(self, func: Callable[[], Any]) -> None:
        if self._to_context.add(func):
            self.main_context.invoke_full(GLib.PRIORITY_DEFAULT, self._to_context.run)

    def deliver(self, loop: asyncio.AbstractEventLoop, func: Callable[[], None]) -> None:
        with self._to_loops_lock:
            batch = self._to_loops.get(loop)
            if batch is None:
                batch = self._to_loops[loop] = _Batch()
        if batch.add(func):
            try:
                loop.call_soon_threadsafe(batch.run)
            except RuntimeError:
                pass  # the asyncio loop is closed: nobody waits any more

    def is_current_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def stop(self) -> None:
        """Quits the helper thread's main loop and waits for the thread."""
        if self._thread.is_alive():
            self.invoke(self._loop.quit)
            self._thread.join(5)


class LoopContext(Context):
    """The GLib main context that the running asyncio loop itself iterates."""

    def __init__(self, main_context: GLib.MainContext) -> None:
        self.main_context = main_context
        self._thread = threading.current_thread()

    def invoke(self, func: Callable[[], Any]) -> None:
        if self.is_current_thread():
            func()
        else:
            self.main_context.invoke_full(GLib.PRIORITY_DEFAULT, _once(func))

    def deliver(self, loop: asyncio.AbstractEventLoop, func: Callable[[], None]) -> None:
        func()  # the GIO callback already runs on the loop's thread

    def is_current_thread(self) -> bool:
        return threading.current_thread() is self._thread


_helper: Optional[ThreadContext] = None
_helper_lock = threading.Lock()


def helper_context() -> ThreadContext:
    """The process's helper thread (started at first use, stopped at exit)."""
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = ThreadContext()
            atexit.register(_helper.stop)
        return _helper


def glib_loop_context(loop: asyncio.AbstractEventLoop) -> Optional[GLib.MainContext]:
    """The GMainContext ``loop`` runs, if it is PyGObject's GLib-backed loop.

    PyGObject >= 3.50 has ``gi.events.GLibEventLoop`` (its policy,
    ``gi.events.GLibEventLoopPolicy``, is also how a GTK application runs
    asyncio). Older PyGObject has no ``gi.events``: every loop is a plain
    asyncio loop and this returns None.
    """
    try:
        from gi import events
    except ImportError:
        return None
    glib_loop_class = getattr(events, 'GLibEventLoop', None)
    if glib_loop_class is None or not isinstance(loop, glib_loop_class):
        return None
    context = getattr(loop, '_context', None)
    return context if context is not None else GLib.MainContext.default()


def context_for_running_loop() -> Context:
    """The context new sessions of the running asyncio loop should live on."""
    main_context = glib_loop_context(asyncio.get_running_loop())
    if main_context is not None:
        return LoopContext(main_context)
    return helper_context()


async def run_async(context: Context, job: Job) -> Any:
    """Runs ``job`` on ``context`` and waits for it without blocking the loop.

    Cancelling the awaiting task cancels the job's GCancellable (on the
    context's thread) and waits until the operation has ended before
    ``asyncio.CancelledError`` propagates: once the cancelled task is done,
    the operation sends nothing more.
    """
    loop = asyncio.get_running_loop()
    result: asyncio.Future[Any] = loop.create_future()
    ended: asyncio.Future[None] = loop.create_future()
    cancellable = Gio.Cancellable()

    def done(value: Any, error: Optional[BaseException]) -> None:
        def settle() -> None:
            if not ended.done():
                ended.set_result(None)
            if result.done():
                return
            if error is not None:
                result.set_exception(error)
            else:
                result.set_result(value)
        context.deliver(loop, settle)

    context.invoke(lambda: _start(job, cancellable, done))
    try:
        return await result
    except asyncio.CancelledError:
        context.invoke(cancellable.cancel)
        while not ended.done():
            try:
                await asyncio.shield(ended)
            except asyncio.CancelledError:
                continue
        raise


def run_blocking(context: Context, job: Job) -> Any:
    """Runs ``job`` on ``context`` and blocks the calling thread until it ends.

    The calling thread sleeps on a ``threading.Event``. An exception while
    waiting (``KeyboardInterrupt``) cancels the operation first.
    """
    if context.is_current_thread():
        raise RuntimeError('a blocking call cannot be made on the thread of its main context')
    finished = threading.Event()
    box: list[Any] = [None, None]
    cancellable = Gio.Cancellable()

    def done(value: Any, error: Optional[BaseException]) -> None:
        box[0], box[1] = value, error
        finished.set()

    context.invoke(lambda: _start(job, cancellable, done))
    try:
        finished.wait()
    except BaseException:
        context.invoke(cancellable.cancel)
        finished.wait()
        raise
    if box[1] is not None:
        raise box[1]
    return box[0]


def _start(job: Job, cancellable: Gio.Cancellable, done: Done) -> None:
    called = False

    def once(value: Any, error: Optional[BaseException]) -> None:
        nonlocal called
        if not called:
            called = True
            done(value, error)

    try:
        job(cancellable, once)
    except BaseException as error:  # a job that fails before it starts
        once(None, error)
