"""A 64 MiB artifact: uploaded from a file in chunks, read back verified,
with the client's memory bounded by a chunk or so, not by the artifact."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import unittest

from support import CLIENT_ROOT, ServerTestCase

PROVIDER = "excititor:oci-openvex"
SIZE = 64 << 20

# Run in a child process, so that its peak memory is the client's alone.
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from cairn_client import Client
socket_path, tenant, source, target = sys.argv[2:6]
with Client(socket_path, timeout=120) as cairn:
    started = time.monotonic()
    meta = cairn.upload(tenant, "excititor:oci-openvex", source)
    uploaded = time.monotonic()
    result = cairn.read_to(tenant, meta["artifactId"], target)
    done = time.monotonic()
# The peak of this process image (ru_maxrss would also count the parent's memory at the fork).
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"meta": meta, "read": result, "upload_seconds": uploaded - started,
                  "read_seconds": done - uploaded, "max_rss_kib": peak}))
"""


class LargeArtifactTests(ServerTestCase):
    def test_64_mib_upload_and_verified_read(self) -> None:
        source = os.path.join(self.server.scratch, "large.bin")
        digest = hashlib.sha256()
        with open(source, "wb") as file:
            block = os.urandom(1 << 20)
            for n in range(SIZE >> 20):
                piece = bytes([n]) + block[1:]
                digest.update(piece)
                file.write(piece)
        target = os.path.join(self.server.scratch, "large.copy")
        child = subprocess.run(
            [sys.executable, "-c", CHILD, CLIENT_ROOT, self.server.socket_path, self.tenant(), source, target],
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertEqual(child.returncode, 0, child.stderr)
        report = json.loads(child.stdout)
        self.assertEqual(report["meta"]["sizeBytes"], SIZE)
        self.assertEqual(report["meta"]["sha256"], digest.hexdigest())
        self.assertEqual(report["read"]["sha256"], digest.hexdigest())
        with open(target, "rb") as file:
            copied = hashlib.sha256()
            for piece in iter(lambda: file.read(1 << 20), b""):
                copied.update(piece)
        self.assertEqual(copied.hexdigest(), digest.hexdigest())
        # A chunk of 4 MiB, a few copies of it on the way, and the interpreter: far below the
        # 64 MiB that holding the artifact would take on its own.
        self.assertLess(report["max_rss_kib"], 48 << 10, "the client's memory grows with the artifact")
        print(
            f"\n64 MiB: upload {report['upload_seconds']:.2f} s, read_to {report['read_seconds']:.2f} s, "
            f"client peak RSS {report['max_rss_kib'] >> 10} MiB",
            file=sys.stderr,
        )

        # And read() into memory, verified the same way.
        data = self.cairn.read(self.tenant(), report["meta"]["artifactId"])
        self.assertEqual(len(data), SIZE)
        self.assertEqual(hashlib.sha256(data).hexdigest(), digest.hexdigest())


if __name__ == "__main__":
    unittest.main()
