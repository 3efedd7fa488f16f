"""Keep native libraries' start-up lines off a command's output.

TensorFlow and LiteRT print from C++ straight to file descriptors 1 and 2, bypassing Python's
`sys.stdout`/`sys.stderr` and logging, so the descriptors themselves are pointed elsewhere
while they run. What is not recognised as start-up noise is written back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import BinaryIO, TextIO


@contextlib.contextmanager
def _pointed_at(stream: TextIO, target: BinaryIO) -> Iterator[None]:
    """Descriptor of `stream` writes to `target` meanwhile."""
    fd = stream.fileno()
    stream.flush()
    saved = os.dup(fd)
    os.dup2(target.fileno(), fd)
    try:
        yield
    finally:
        stream.flush()
        os.dup2(saved, fd)
        os.close(saved)


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern[str]) -> Iterator[None]:
    """Drop lines matching `noise` written to descriptor 2 meanwhile; keep every other line."""
    with tempfile.TemporaryFile() as captured:
        try:
            with _pointed_at(sys.__stderr__ or sys.stderr, captured):
                yield
        finally:
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not noise.match(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


@contextlib.contextmanager
def silenced_stdout() -> Iterator[None]:
    """Discard what is written to descriptor 1 meanwhile."""
    with open(os.devnull, "wb") as devnull, _pointed_at(sys.__stdout__ or sys.stdout, devnull):
        yield
