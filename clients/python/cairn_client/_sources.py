"""What an upload reads from: bytes in memory, a file by path, or a file object.

Private to the package. Every source is read a bounded piece at a time.
"""

from __future__ import annotations

import io
import os
import stat
from typing import IO, Any, Optional

from ._connection import Bytes


class Source:
    """Bytes to upload, read in pieces, with the means to go back to an
    earlier offset when the server has fewer bytes than were sent."""

    #: The total size when known beforehand (bytes, regular files, seekable
    #: file objects), else ``None``.
    size: Optional[int]

    def read(self, count: int) -> Bytes:
        """Up to `count` bytes from the current position; empty at the end."""
        raise NotImplementedError

    def rewind(self) -> bool:
        """Goes back to the start of the content; ``False`` when it cannot."""
        raise NotImplementedError

    def close(self) -> None:
        """Releases what the source opened itself (never a caller's file)."""

    @staticmethod
    def of(data_or_file: Any) -> "Source":
        """The source for what :meth:`~cairn_client.Client.upload` was given."""
        if isinstance(data_or_file, (bytes, bytearray, memoryview)):
            return MemorySource(data_or_file)
        if isinstance(data_or_file, (str, os.PathLike)):
            return FileSource.open(os.fspath(data_or_file))
        if hasattr(data_or_file, "read"):
            return FileSource(data_or_file, owned=False)
        raise TypeError(
            "upload takes bytes, a bytearray or memoryview, a path, or a binary file object, "
            f"not {type(data_or_file).__name__}"
        )


class MemorySource(Source):
    """Bytes already in memory; pieces are views, not copies."""

    size: int

    def __init__(self, data: Bytes) -> None:
        self._view = memoryview(data).cast("B")
        self.size = len(self._view)
        self._position = 0

    def read(self, count: int) -> Bytes:
        piece = self._view[self._position : self._position + count]
        self._position += len(piece)
        return piece

    def rewind(self) -> bool:
        self._position = 0
        return True


class FileSource(Source):
    """A binary file: opened from a path (and closed again), or the caller's
    file object, read from its current position."""

    def __init__(self, file: IO[bytes], owned: bool) -> None:
        self._file = file
        self._owned = owned
        self._start: Optional[int] = None
        self.size = None
        seekable = getattr(file, "seekable", None)
        if seekable is not None and seekable():
            self._start = file.tell()
            try:
                info = os.fstat(file.fileno())
                if stat.S_ISREG(info.st_mode):
                    self.size = max(0, info.st_size - self._start)
            except (AttributeError, OSError, io.UnsupportedOperation):
                end = file.seek(0, io.SEEK_END)
                file.seek(self._start)
                self.size = end - self._start

    @classmethod
    def open(cls, path: str) -> "FileSource":
        file = open(path, "rb")
        try:
            if stat.S_ISDIR(os.fstat(file.fileno()).st_mode):
                raise IsADirectoryError(f"{path} is a directory")
            return cls(file, owned=True)
        except BaseException:
            file.close()
            raise

    def read(self, count: int) -> Bytes:
        data: Optional[Bytes] = self._file.read(count)
        if data is None:  # a non-blocking file with nothing to read yet
            raise BlockingIOError(f"the file to upload has no data ready ({self._file!r})")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("upload needs a file opened in binary mode ('rb')")
        if 0 < len(data) < count:
            # A short read is not the end of a pipe or socket: read until full or at its end.
            buffer = bytearray(data)
            while len(buffer) < count:
                more = self._file.read(count - len(buffer))
                if not more:
                    break
                buffer += more
            data = buffer
        return data

    def rewind(self) -> bool:
        if self._start is None:
            return False
        self._file.seek(self._start)
        return True

    def close(self) -> None:
        if self._owned:
            self._file.close()
