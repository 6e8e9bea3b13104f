"""Standard output and error that survive their reader going away.

``drillbook run ... | head -1`` closes the pipe after one line; the next write would raise
BrokenPipeError in the middle of a run, which then ends without its record, its seal or the
next drill of a batch. Output is a courtesy to whoever reads it: when the reader is gone, the
rest is written to /dev/null (also for processes started afterwards, which share the descriptor)
and the run carries on to its record, its seal and its exit code.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TextIO


class SurvivingStream(io.TextIOBase):
    """Wraps a text stream; a write or flush to a reader that went away is dropped, not raised."""

    def __init__(self, stream: TextIO):
        super().__init__()
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                self._stream.write(text)
            except OSError as exc:
                self._drop_if_gone(exc)
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except OSError as exc:
                self._drop_if_gone(exc)

    def _drop_if_gone(self, exc: OSError) -> None:
        if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
            raise exc
        self.reader_gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())  # Python's own flush at exit then succeeds
        finally:
            os.close(devnull)

    def isatty(self) -> bool:
        return not self.reader_gone and self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors


def survive_closed_readers() -> None:
    """Installs the wrapper on sys.stdout and sys.stderr, before anything prints or logs."""
    if not isinstance(sys.stdout, SurvivingStream):
        sys.stdout = SurvivingStream(sys.stdout)
    if not isinstance(sys.stderr, SurvivingStream):
        sys.stderr = SurvivingStream(sys.stderr)
