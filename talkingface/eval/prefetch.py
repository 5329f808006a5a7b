"""Decode ahead: a thread pulls the next batches from a stream while the metrics score the current one.

ffmpeg writes into a 64 KiB pipe, so without a reader it stalls as soon as scoring starts: prefetching lets decoding
and scoring overlap (numpy, torch and pipe reads release the GIL).
"""

from __future__ import annotations

import queue
import threading
from typing import Generic, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


class Prefetch(Generic[T]):
    def __init__(self, source: Iterator[T], *, depth: int = 2) -> None:
        self._source = source
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._source:
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    break
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self._put(exc)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        item = self._queue.get()
        if item is _DONE:
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop reading; the source is closed in its own thread (ffmpeg killed if it was not finished)."""
        self._stop.set()
        self._thread.join()
