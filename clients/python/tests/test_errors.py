"""Every error a client can meet is a CairnError with the contract's
data.code: one test per code, each against a real server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import unittest
import uuid
from typing import Any, Callable, List

from support import CLIENT_ROOT, Proxy, ServerTestCase

from cairn_client import CairnError, Client

PROVIDER = "excititor:oci-openvex"


class ErrorTests(ServerTestCase):
    def assertCode(self, code: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> CairnError:
        with self.assertRaises(CairnError) as caught:
            result = call(*args, **kwargs)
            if hasattr(result, "__next__"):
                list(result)
        error = caught.exception
        self.assertEqual(error.code, code, repr(error))
        self.assertEqual(error.data.get("code"), code)
        self.assertTrue(error.message)
        return error

    def test_invalid_params(self) -> None:
        error = self.assertCode("INVALID_PARAMS", self.cairn.usage, "Not A Tenant")
        self.assertEqual(error.data["field"], "tenant")
        self.assertEqual(error.rpc_code, -32602)
        error = self.assertCode("INVALID_PARAMS", self.cairn.meta, self.tenant(), "not-a-uuid")
        self.assertEqual(error.data["field"], "artifactId")

    def test_not_found(self) -> None:
        error = self.assertCode("NOT_FOUND", self.cairn.meta, self.tenant(), str(uuid.uuid4()))
        self.assertEqual(error.data["what"], "artifact")
        self.assertEqual(error.rpc_code, -32000)
        error = self.assertCode("NOT_FOUND", self.cairn.uploads_status, str(uuid.uuid4()))
        self.assertEqual(error.data["what"], "upload")
        self.assertCode("NOT_FOUND", self.cairn.read, self.tenant(), str(uuid.uuid4()))

    def test_method_not_found(self) -> None:
        error = self.assertCode("METHOD_NOT_FOUND", self.cairn.call, "x.y")
        self.assertEqual(error.rpc_code, -32601)

    def test_quota_exceeded(self) -> None:
        tenant = self.tenant()
        self.cairn.set_quota(tenant, max_bytes=10)
        error = self.assertCode("QUOTA_EXCEEDED", self.cairn.upload, tenant, PROVIDER, b"0123456789A")
        self.assertEqual(
            {k: error.data[k] for k in ("limit", "used", "requested", "kind")},
            {"limit": 10, "used": 0, "requested": 11, "kind": "bytes"},
        )
        # A file of known size is refused at uploads.begin, before any byte is sent.
        path = os.path.join(self.server.scratch, "eleven.bin")
        with open(path, "wb") as file:
            file.write(b"0123456789A")
        self.assertCode("QUOTA_EXCEEDED", self.cairn.upload, tenant, PROVIDER, path)
        self.cairn.set_quota(tenant, max_bytes=None, max_artifacts=0)
        error = self.assertCode("QUOTA_EXCEEDED", self.cairn.upload, tenant, PROVIDER, b"x")
        self.assertEqual(error.data["kind"], "artifacts")

    def test_too_large(self) -> None:
        meta = self.cairn.upload(self.tenant(), PROVIDER, b"x")
        limit = self.cairn.hello()["limits"]["maxChunkBytes"]
        error = self.assertCode("TOO_LARGE", self.cairn.read_range, self.tenant(), meta["artifactId"], 0, limit + 1)
        self.assertEqual(error.data["limit"], limit)
        biggest = self.cairn.hello()["limits"]["maxArtifactBytes"]
        self.assertCode("TOO_LARGE", self.cairn.uploads_begin, self.tenant(), PROVIDER, size_bytes=biggest + 1)

    def test_digest_mismatch(self) -> None:
        tenant = self.tenant()
        wrong = hashlib.sha256(b"something else").hexdigest()
        error = self.assertCode("DIGEST_MISMATCH", self.cairn.upload, tenant, PROVIDER, b"content", sha256=wrong)
        self.assertEqual(error.data["expected"], wrong)
        self.assertEqual(error.data["actual"], hashlib.sha256(b"content").hexdigest())
        # In chunks: refused at the commit, and the upload the call began is aborted.
        error = self.assertCode(
            "DIGEST_MISMATCH", self.cairn.upload, tenant, PROVIDER, b"content", sha256=wrong, chunk_bytes=3
        )
        self.assertEqual(error.data["actual"], hashlib.sha256(b"content").hexdigest())
        self.assertEqual(self.cairn.health()["store"]["openUploads"], 0)
        self.assertEqual(self.cairn.usage(tenant)["artifactCount"], 0)

    def test_size_mismatch(self) -> None:
        upload_id = self.cairn.uploads_begin(self.tenant(), PROVIDER, size_bytes=4)["uploadId"]
        self.cairn.uploads_append(upload_id, 0, b"ab")
        error = self.assertCode("SIZE_MISMATCH", self.cairn.uploads_commit, upload_id)
        self.assertEqual((error.data["expected"], error.data["actual"]), (4, 2))
        self.cairn.uploads_abort(upload_id)

    def test_offset_mismatch(self) -> None:
        upload_id = self.cairn.uploads_begin(self.tenant(), PROVIDER)["uploadId"]
        error = self.assertCode("OFFSET_MISMATCH", self.cairn.uploads_append, upload_id, 2, b"ab")
        self.assertEqual(error.data["offset"], 0)
        self.cairn.uploads_abort(upload_id)

    def test_conflict(self) -> None:
        tenant = self.tenant()
        self.cairn.config_set(tenant, PROVIDER, {"cosignMode": "keyless"})
        error = self.assertCode(
            "CONFLICT", self.cairn.config_set, tenant, PROVIDER, {"cosignMode": "keypair"}, expected_revision=0
        )
        self.assertEqual(error.data["revision"], 1)
        taken = self.cairn.upload(tenant, PROVIDER, b"first")["artifactId"]
        error = self.assertCode("CONFLICT", self.cairn.upload, tenant, PROVIDER, b"second", artifact_id=taken)
        self.assertEqual(error.data["field"], "artifactId")

    def test_artifact_in_use(self) -> None:
        tenant = self.tenant()
        key = self.cairn.upload(tenant, PROVIDER, b"key")["artifactId"]
        self.cairn.config_set(tenant, PROVIDER, {"cosignKey": key})
        error = self.assertCode("ARTIFACT_IN_USE", self.cairn.delete, tenant, key)
        self.assertEqual(error.data["references"], [{"providerId": PROVIDER, "field": "cosignKey"}])

    def test_provider_config_invalid(self) -> None:
        error = self.assertCode(
            "PROVIDER_CONFIG_INVALID", self.cairn.config_set, self.tenant(), PROVIDER, {"colour": "blue"}
        )
        self.assertEqual(error.data["issues"][0]["field"], "colour")
        self.assertEqual(error.data["subCodes"], ["PROVIDER_CONFIG_INVALID_VALUE"])

    def test_unknown_provider(self) -> None:
        error = self.assertCode("UNKNOWN_PROVIDER", self.cairn.readiness, self.tenant(), "nope:x")
        self.assertEqual(error.data["providerId"], "nope:x")

    def test_request_too_large(self) -> None:
        limit = self.cairn.hello()["limits"]["maxRequestBytes"]
        error = self.assertCode("REQUEST_TOO_LARGE", self.cairn.call, "system.hello", {"pad": "a" * limit})
        self.assertEqual(error.data["limit"], limit)
        self.assertEqual(self.cairn.hello()["server"], "cairn")  # the client goes on, on a new connection

    def test_integrity_error(self) -> None:
        tenant = self.tenant()
        pattern = b"integrity-" + uuid.uuid4().hex.encode()
        meta = self.cairn.upload(tenant, PROVIDER, pattern * 100)
        store = os.path.join(self.server.data_directory, "store", "data.mdb")
        with open(store, "r+b") as file:
            image = file.read()
            position = image.find(pattern)
            self.assertGreaterEqual(position, 0)
            while position >= 0:
                file.seek(position)
                file.write(bytes([image[position] ^ 0x01]))
                position = image.find(pattern, position + 1)
        error = self.assertCode("INTEGRITY_ERROR", self.cairn.read, tenant, meta["artifactId"])
        self.assertEqual(error.data["sha256"], meta["sha256"])

    def test_digest_mismatch_found_by_the_client(self) -> None:
        tenant = self.tenant()
        meta = self.cairn.upload(tenant, PROVIDER, b"A" * 1000)
        flipped: List[bool] = []

        def alter(data: bytes) -> bytes:
            if not flipped and b"AAAAAAAA" in data:
                flipped.append(True)
                return data.replace(b"AAAAAAAA", b"AAAABAAA", 1)
            return data

        proxy = Proxy(self.server.socket_path, self.server.scratch, alter=alter)
        self.addCleanup(proxy.close)
        with Client(proxy.socket_path, timeout=30) as cairn:
            error = self.assertCode("DIGEST_MISMATCH", cairn.read, tenant, meta["artifactId"])
        self.assertEqual(error.data["side"], "client")
        self.assertEqual(error.data["expected"], meta["sha256"])
        self.assertIsNone(error.rpc_code)

    def test_timeout(self) -> None:
        proxy = Proxy(self.server.socket_path, self.server.scratch, alter=lambda data: b"")  # swallows every answer
        self.addCleanup(proxy.close)
        with Client(proxy.socket_path, timeout=0.2) as cairn:
            error = self.assertCode("TIMEOUT", cairn.usage, self.tenant())
        self.assertEqual(error.data["socket"], proxy.socket_path)

    def test_protocol_error(self) -> None:
        proxy = Proxy(
            self.server.socket_path, self.server.scratch, alter=lambda data: b'{"jsonrpc":"2.0","id":99,"result":{}}\n'
        )
        self.addCleanup(proxy.close)
        with Client(proxy.socket_path, timeout=30) as cairn:
            error = self.assertCode("PROTOCOL_ERROR", cairn.usage, self.tenant())
        self.assertIn("id 99", error.message)

    def test_connection_failed(self) -> None:
        path = os.path.join(self.server.scratch, "nobody.sock")
        with Client(path) as cairn:
            error = self.assertCode("CONNECTION_FAILED", cairn.hello)
        self.assertEqual(error.data["socket"], path)
        self.assertIn("no socket there", error.message)


class ForbiddenTests(ServerTestCase):
    """A server whose policy gives this user only `read` on tenant acme."""

    policy = {"grants": [{"uid": os.getuid(), "tenants": ["acme"], "scopes": ["read"]}]}

    def test_forbidden_without_the_scope(self) -> None:
        with self.assertRaises(CairnError) as caught:
            self.cairn.upload("acme", PROVIDER, b"no admin grant")
        self.assertEqual(caught.exception.code, "FORBIDDEN")
        self.assertEqual(caught.exception.data, {"code": "FORBIDDEN", "tenant": "acme", "scope": "admin"})
        self.assertEqual(self.cairn.usage("acme")["artifactCount"], 0)

    def test_forbidden_without_a_grant(self) -> None:
        with self.assertRaises(CairnError) as caught:
            list(self.cairn.list("globex"))
        self.assertEqual(caught.exception.data, {"code": "FORBIDDEN", "tenant": "globex", "scope": "read"})


class OtherPeerTests(ServerTestCase):
    """A peer running as another uid (65534) on a server without a policy:
    it has no grant, and never sees another peer's upload."""

    PYTHON = "/usr/bin/python3"  # not one under /root, which uid 65534 cannot read
    package_root: str

    @classmethod
    def setUpClass(cls) -> None:
        if os.getuid() != 0 or not os.access(cls.PYTHON, os.X_OK):
            raise unittest.SkipTest("needs root and /usr/bin/python3 to run a client as uid 65534")
        super().setUpClass()
        os.chmod(cls.server.root, 0o755)
        os.chmod(cls.server.socket_path, 0o666)
        # A copy of the package that uid 65534 can read, wherever the checkout is.
        cls.package_root = os.path.join(cls.server.root, "package")
        shutil.copytree(os.path.join(CLIENT_ROOT, "cairn_client"), os.path.join(cls.package_root, "cairn_client"))
        for directory, _, names in os.walk(cls.package_root):
            os.chmod(directory, 0o755)
            for name in names:
                os.chmod(os.path.join(directory, name), 0o644)

    def test_another_uid_gets_forbidden_and_not_found(self) -> None:
        upload_id = self.cairn.uploads_begin("acme", PROVIDER)["uploadId"]
        script = """
import json, sys
sys.path.insert(0, sys.argv[1])
from cairn_client import CairnError, Client
codes = []
with Client(sys.argv[2], timeout=30) as cairn:
    for call in (lambda: cairn.usage("acme"), lambda: cairn.uploads_status(sys.argv[3])):
        try:
            call()
            codes.append(None)
        except CairnError as error:
            codes.append(error.data)
print(json.dumps(codes))
"""
        run = subprocess.run(
            [self.PYTHON, "-c", script, self.package_root, self.server.socket_path, upload_id],
            user=65534,
            group=65534,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        forbidden, not_found = json.loads(run.stdout)
        self.assertEqual(forbidden, {"code": "FORBIDDEN", "tenant": "acme", "scope": "read"})
        self.assertEqual(not_found, {"code": "NOT_FOUND", "what": "upload"})
        self.assertEqual(self.cairn.uploads_abort(upload_id)["aborted"], True)


class StoreFullTests(ServerTestCase):
    """A server whose store may not grow past a few MiB."""

    server_arguments = ("--store-size-limit", str(8 << 20))

    def test_store_full(self) -> None:
        with self.assertRaises(CairnError) as caught:
            for n in range(8):
                self.cairn.upload(self.tenant(), PROVIDER, os.urandom(2 << 20))
        self.assertEqual(caught.exception.code, "STORE_FULL")
        self.assertEqual(self.cairn.health()["store"]["openUploads"], 0)


if __name__ == "__main__":
    unittest.main()
