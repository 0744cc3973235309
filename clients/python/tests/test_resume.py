"""Uploads that are interrupted and continue where the server has them."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from typing import Callable, Optional

from support import Proxy, ServerTestCase

from cairn_client import CairnError, Client

PROVIDER = "excititor:oci-openvex"
CHUNK = 256 << 10


class CountingFile(io.RawIOBase):
    """A file over bytes that counts what is read from it, and calls `hook`
    before the read that starts at `at`."""

    def __init__(
        self, data: bytes, seekable: bool = True, at: int = -1, hook: Optional[Callable[[], None]] = None
    ) -> None:
        self._data = data
        self._position = 0
        self._seekable = seekable
        self.read_bytes = 0
        self.at = at
        self.hook = hook

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        self._position = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._data)}[whence] + offset
        return self._position

    def read(self, count: int = -1) -> bytes:
        if self.hook is not None and self._position == self.at:
            hook, self.hook = self.hook, None
            hook()
        end = len(self._data) if count < 0 else self._position + count
        piece = self._data[self._position : end]
        self._position += len(piece)
        self.read_bytes += len(piece)
        return piece


class ResumeTests(ServerTestCase):
    def test_a_dropped_connection_is_resumed_where_the_server_is(self) -> None:
        data = os.urandom(4 << 20)
        # Cut every connection once 1.5 MiB went through: in the middle of an append.
        proxy = Proxy(self.server.socket_path, self.server.scratch, cut_after=(3 << 20) // 2)
        self.addCleanup(proxy.close)
        source = CountingFile(data)
        with Client(proxy.socket_path, timeout=30) as cairn:
            meta = cairn.upload(self.tenant(), PROVIDER, source, chunk_bytes=CHUNK)
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(self.cairn.read(self.tenant(), meta["artifactId"]), data)
        self.assertEqual(proxy.cuts, 1)
        self.assertGreaterEqual(proxy.connections, 2)
        # Continued, not begun again: the source was read once, and at most the
        # chunk in flight went to the server twice.
        self.assertEqual(source.read_bytes, len(data))
        self.assertLess(proxy.upstream_bytes, len(data) + CHUNK + 64 * 1024)
        self.assertEqual(self.cairn.health()["store"]["openUploads"], 0)

    def test_a_stream_that_cannot_seek_is_resumed_too(self) -> None:
        data = os.urandom(2 << 20)
        proxy = Proxy(self.server.socket_path, self.server.scratch, cut_after=1 << 20)
        self.addCleanup(proxy.close)
        with Client(proxy.socket_path, timeout=30) as cairn:
            meta = cairn.upload(self.tenant(), PROVIDER, CountingFile(data, seekable=False), chunk_bytes=CHUNK)
        self.assertEqual(meta["sizeBytes"], len(data))
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(proxy.cuts, 1)

    def test_an_upload_survives_a_server_restart_in_the_middle(self) -> None:
        data = os.urandom(3 << 20)
        source = CountingFile(data, at=CHUNK * 5, hook=self.server.restart)
        meta = self.cairn.upload(self.tenant(), PROVIDER, source, chunk_bytes=CHUNK)
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())
        self.assertIsNone(source.hook, "the server was restarted during the upload")
        self.assertEqual(source.read_bytes, len(data))
        self.assertEqual(self.cairn.read(self.tenant(), meta["artifactId"]), data)

    def test_an_upload_given_up_is_continued_by_a_later_call(self) -> None:
        data = os.urandom(3 << 20)
        path = os.path.join(self.server.scratch, "resume.bin")
        with open(path, "wb") as file:
            file.write(data)
        # The proxy cuts the connection and then goes away: the client cannot resume.
        proxy = Proxy(self.server.socket_path, self.server.scratch)
        cut = threading.Event()

        def cut_and_vanish() -> None:
            proxy.close()
            cut.set()

        source = CountingFile(data, at=CHUNK * 6, hook=cut_and_vanish)
        with Client(proxy.socket_path, timeout=30, reconnect_attempts=2, reconnect_delay=0.01) as cairn:
            with self.assertRaises(CairnError) as caught:
                cairn.upload(self.tenant(), PROVIDER, source, chunk_bytes=CHUNK)
        error = caught.exception
        self.assertEqual(error.code, "CONNECTION_CLOSED")
        self.assertTrue(cut.is_set())
        upload_id = error.data["uploadId"]
        held = self.cairn.uploads_status(upload_id)["offset"]
        self.assertEqual(error.data["offset"], held)
        self.assertGreater(held, 0)
        self.assertLess(held, len(data))

        # Another client (another process would do the same) continues it from the path.
        second = Proxy(self.server.socket_path, self.server.scratch)
        self.addCleanup(second.close)
        with Client(second.socket_path, timeout=30) as cairn:
            meta = cairn.upload(self.tenant(), PROVIDER, path, upload_id=upload_id, chunk_bytes=CHUNK)
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())
        self.assertLess(second.upstream_bytes, len(data) - held + 64 * 1024)
        self.assertEqual(self.cairn.read(self.tenant(), meta["artifactId"]), data)

    def test_continuing_an_upload_begun_by_hand(self) -> None:
        data = os.urandom(1 << 20)
        upload_id = self.cairn.uploads_begin(self.tenant(), PROVIDER, size_bytes=len(data))["uploadId"]
        self.cairn.uploads_append(upload_id, 0, data[:300_000])
        meta = self.cairn.upload(self.tenant(), PROVIDER, data, upload_id=upload_id, chunk_bytes=CHUNK)
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())

    def test_continuing_with_other_content_is_refused(self) -> None:
        data = os.urandom(1 << 20)
        upload_id = self.cairn.uploads_begin(self.tenant(), PROVIDER, size_bytes=len(data))["uploadId"]
        self.cairn.uploads_append(upload_id, 0, data[:300_000])
        other = os.urandom(len(data))
        with self.assertRaises(CairnError) as caught:
            self.cairn.upload(self.tenant(), PROVIDER, other, upload_id=upload_id, chunk_bytes=CHUNK)
        self.assertEqual(caught.exception.code, "DIGEST_MISMATCH")
        # The caller's upload is left open for the caller to abort.
        self.assertEqual(self.cairn.uploads_abort(upload_id)["aborted"], True)


if __name__ == "__main__":
    import unittest

    unittest.main()
