"""Each method of the client against a real `cairn serve`."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import unittest
import uuid
from typing import Any, Dict, List, Mapping

from support import ServerTestCase

from cairn_client import CairnError, Client, default_socket_path

PROVIDER = "excititor:oci-openvex"


class SystemTests(ServerTestCase):
    def test_hello(self) -> None:
        hello = self.cairn.hello()
        self.assertEqual(hello["server"], "cairn")
        self.assertEqual(hello["protocol"], 1)
        self.assertIn("binaryAttachments", hello["capabilities"])
        self.assertGreater(hello["limits"]["maxChunkBytes"], 0)
        self.assertEqual(hello["peer"]["uid"], os.getuid())

    def test_health(self) -> None:
        health = self.cairn.health()
        self.assertIn(health["status"], ("ok", "degraded"))
        self.assertIsInstance(health["layoutVersion"], int)

    def test_call_sends_any_method(self) -> None:
        self.assertEqual(self.cairn.call("tenants.usage", {"tenant": "raw"})["artifactCount"], 0)

    def test_context_manager_closes_and_close_is_idempotent(self) -> None:
        with self.server.client() as cairn:
            cairn.hello()
        cairn.close()
        with self.assertRaises(CairnError) as caught:
            cairn.hello()
        self.assertEqual(caught.exception.code, "CONNECTION_CLOSED")

    def test_a_new_connection_after_the_server_restarted(self) -> None:
        tenant = self.tenant()
        meta = self.cairn.upload(tenant, PROVIDER, b"kept across a restart")
        self.server.restart()
        self.assertEqual(self.cairn.meta(tenant, meta["artifactId"]), _without(meta, "deduplicated"))
        # A write after the restart goes to a new connection too (the old one was closed by the server).
        self.server.restart()
        self.assertEqual(self.cairn.delete(tenant, meta["artifactId"])["deleted"], True)

    def test_requests_from_many_threads_take_turns(self) -> None:
        tenant = self.tenant()
        ids = [self.cairn.upload(tenant, PROVIDER, f"artifact {n}".encode())["artifactId"] for n in range(8)]
        failures: List[object] = []

        def read_all(index: int) -> None:
            try:
                for round in range(5):
                    id = ids[(index + round) % len(ids)]
                    expected = f"artifact {ids.index(id)}".encode()
                    if self.cairn.read(tenant, id) != expected:
                        failures.append(id)
            except Exception as error:  # reported below
                failures.append(error)

        threads = [threading.Thread(target=read_all, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(failures, [])


class SocketPathTests(unittest.TestCase):
    def test_cairn_socket_wins(self) -> None:
        env = {"CAIRN_SOCKET": "/run/cairn/cairn.sock", "CAIRN_DATA_DIR": "/srv/cairn", "HOME": "/home/u"}
        self.assertEqual(default_socket_path(env), "/run/cairn/cairn.sock")

    def test_then_the_data_directory(self) -> None:
        env = {"CAIRN_SOCKET": "", "CAIRN_DATA_DIR": "/srv/cairn", "HOME": "/home/u"}
        self.assertEqual(default_socket_path(env), "/srv/cairn/cairn.sock")

    def test_then_home(self) -> None:
        self.assertEqual(default_socket_path({"HOME": "/home/u"}), "/home/u/.local/share/cairn/cairn.sock")

    def test_client_reads_the_environment(self) -> None:
        saved = os.environ.get("CAIRN_SOCKET")
        os.environ["CAIRN_SOCKET"] = "/tmp/elsewhere.sock"
        try:
            self.assertEqual(Client().socket_path, "/tmp/elsewhere.sock")
        finally:
            if saved is None:
                del os.environ["CAIRN_SOCKET"]
            else:
                os.environ["CAIRN_SOCKET"] = saved


class UploadTests(ServerTestCase):
    def test_upload_bytes(self) -> None:
        data = b"-----BEGIN PUBLIC KEY-----\n...\n"
        meta = self.cairn.upload(self.tenant(), PROVIDER, data, mime_type="application/x-pem-file")
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(meta["sizeBytes"], len(data))
        self.assertEqual(meta["mimeType"], "application/x-pem-file")
        self.assertEqual(meta["tenantId"], self.tenant())
        self.assertFalse(meta["deduplicated"])
        again = self.cairn.upload(self.tenant(), PROVIDER, bytearray(data))
        self.assertTrue(again["deduplicated"])
        self.assertNotEqual(again["artifactId"], meta["artifactId"])

    def test_upload_empty(self) -> None:
        meta = self.cairn.upload(self.tenant(), PROVIDER, b"")
        self.assertEqual(meta["sizeBytes"], 0)
        self.assertEqual(self.cairn.read(self.tenant(), meta["artifactId"]), b"")

    def test_upload_a_path_in_chunks(self) -> None:
        data = os.urandom(300_000)
        path = os.path.join(self.server.scratch, "upload.bin")
        with open(path, "wb") as file:
            file.write(data)
        meta = self.cairn.upload(self.tenant(), PROVIDER, path, chunk_bytes=65536)
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(self.cairn.read(self.tenant(), meta["artifactId"]), data)

    def test_upload_a_file_object_from_its_position(self) -> None:
        data = os.urandom(10_000)
        file = io.BytesIO(b"skipped" + data)
        file.seek(7)
        meta = self.cairn.upload(self.tenant(), PROVIDER, file, chunk_bytes=4096)
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())

    def test_upload_a_pipe(self) -> None:
        data = os.urandom(200_000)
        read_end, write_end = os.pipe()

        def feed() -> None:
            with os.fdopen(write_end, "wb") as out:
                out.write(data)

        writer = threading.Thread(target=feed)
        writer.start()
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            meta = self.cairn.upload(self.tenant(), PROVIDER, pipe, chunk_bytes=50_000)
        writer.join()
        self.assertEqual(meta["sizeBytes"], len(data))
        self.assertEqual(meta["sha256"], hashlib.sha256(data).hexdigest())

    def test_upload_large_bytes_go_in_chunks(self) -> None:
        data = os.urandom(100_000)
        meta = self.cairn.upload(self.tenant(), PROVIDER, memoryview(data), chunk_bytes=30_000)
        self.assertEqual(self.cairn.read(self.tenant(), meta["artifactId"]), data)

    def test_upload_with_expected_digest_and_artifact_id(self) -> None:
        data = b"pinned"
        artifact_id = str(uuid.uuid4())
        digest = "sha256:" + hashlib.sha256(data).hexdigest().upper()
        meta = self.cairn.upload(self.tenant(), PROVIDER, data, sha256=digest, artifact_id=artifact_id)
        self.assertEqual(meta["artifactId"], artifact_id)
        chunked = self.cairn.upload(self.tenant(), PROVIDER, data, sha256=digest, chunk_bytes=2)
        self.assertEqual(chunked["sha256"], hashlib.sha256(data).hexdigest())

    def test_a_wrong_argument_type(self) -> None:
        with self.assertRaises(TypeError):
            self.cairn.upload(self.tenant(), PROVIDER, 42)  # type: ignore[arg-type]

    def test_upload_session_methods(self) -> None:
        begun = self.cairn.uploads_begin(self.tenant(), PROVIDER, "text/plain", size_bytes=13)
        upload_id = begun["uploadId"]
        self.assertEqual(begun["offset"], 0)
        self.assertEqual(self.cairn.uploads_append(upload_id, 0, b"hello, ")["offset"], 7)
        status = self.cairn.uploads_status(upload_id)
        self.assertEqual((status["offset"], status["sizeBytes"]), (7, 13))
        self.cairn.uploads_append(upload_id, 7, b"cairn\n")
        meta = self.cairn.uploads_commit(upload_id, sha256=hashlib.sha256(b"hello, cairn\n").hexdigest())
        self.assertEqual(meta["sizeBytes"], 13)

        other = self.cairn.uploads_begin(self.tenant(), PROVIDER)["uploadId"]
        self.assertEqual(self.cairn.uploads_abort(other), {"uploadId": other, "aborted": True})


class ArtifactTests(ServerTestCase):
    def test_meta(self) -> None:
        meta = self.cairn.upload(self.tenant(), PROVIDER, b"meta", mime_type="text/plain")
        got = self.cairn.meta(self.tenant(), meta["artifactId"].upper())
        self.assertEqual(got, _without(meta, "deduplicated"))
        self.assertEqual(got["stagedBy"] != "", True)

    def test_read_is_verified(self) -> None:
        data = os.urandom(70_000)
        meta = self.cairn.upload(self.tenant(), PROVIDER, data)
        self.assertEqual(self.cairn.read(self.tenant(), meta["artifactId"]), data)

    def test_read_chunks(self) -> None:
        data = os.urandom(5000)
        meta = self.cairn.upload(self.tenant(), PROVIDER, data)
        self.assertEqual(b"".join(self.cairn.read_chunks(self.tenant(), meta["artifactId"])), data)

    def test_read_range(self) -> None:
        meta = self.cairn.upload(self.tenant(), PROVIDER, b"hello, cairn\n")
        piece = self.cairn.read_range(self.tenant(), meta["artifactId"], offset=7, length=5)
        self.assertEqual(piece["data"], b"cairn")
        self.assertEqual((piece["offset"], piece["length"], piece["eof"]), (7, 5, False))
        self.assertEqual(piece["sha256"], meta["sha256"])
        end = self.cairn.read_range(self.tenant(), meta["artifactId"], offset=100)
        self.assertEqual((end["data"], end["offset"], end["eof"]), (b"", 13, True))

    def test_read_to_a_path_is_private_and_replaces_atomically(self) -> None:
        data = os.urandom(50_000)
        meta = self.cairn.upload(self.tenant(), PROVIDER, data)
        target = os.path.join(self.server.scratch, "read-to.bin")
        with open(target, "wb") as file:
            file.write(b"old")
        result = self.cairn.read_to(self.tenant(), meta["artifactId"], target)
        self.assertEqual(result, {"artifactId": meta["artifactId"], "sizeBytes": len(data), "sha256": meta["sha256"]})
        with open(target, "rb") as file:
            self.assertEqual(file.read(), data)
        self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o600)
        self.assertEqual([n for n in os.listdir(self.server.scratch) if "cairn-tmp" in n], [])

    def test_read_to_a_missing_artifact_leaves_the_path_alone(self) -> None:
        target = os.path.join(self.server.scratch, "untouched.bin")
        with open(target, "wb") as file:
            file.write(b"old")
        with self.assertRaises(CairnError) as caught:
            self.cairn.read_to(self.tenant(), str(uuid.uuid4()), target)
        self.assertEqual(caught.exception.code, "NOT_FOUND")
        with open(target, "rb") as file:
            self.assertEqual(file.read(), b"old")
        self.assertEqual([n for n in os.listdir(self.server.scratch) if "cairn-tmp" in n], [])

    def test_read_to_a_file_object(self) -> None:
        data = os.urandom(9000)
        meta = self.cairn.upload(self.tenant(), PROVIDER, data)
        out = io.BytesIO()
        self.assertEqual(self.cairn.read_to(self.tenant(), meta["artifactId"], out)["sha256"], meta["sha256"])
        self.assertEqual(out.getvalue(), data)

    def test_list_pages_through_everything(self) -> None:
        tenant = self.tenant()
        ids = [self.cairn.upload(tenant, PROVIDER, f"{n}".encode())["artifactId"] for n in range(7)]
        other = self.cairn.upload(tenant, "other:provider", b"other")["artifactId"]
        listed = self.cairn.list(tenant, page_size=3)
        self.assertEqual([meta["artifactId"] for meta in listed], ids + [other])
        self.assertEqual([m["artifactId"] for m in self.cairn.list(tenant, PROVIDER, page_size=2)], ids)
        self.assertEqual(list(self.cairn.list("never-used")), [])

    def test_list_page(self) -> None:
        tenant = self.tenant()
        first = self.cairn.upload(tenant, PROVIDER, b"1")["artifactId"]
        second = self.cairn.upload(tenant, PROVIDER, b"2")["artifactId"]
        page = self.cairn.list_page(tenant, limit=1)
        self.assertEqual([m["artifactId"] for m in page["artifacts"]], [first])
        rest = self.cairn.list_page(tenant, limit=1, cursor=page["nextCursor"])
        self.assertEqual([m["artifactId"] for m in rest["artifacts"]], [second])

    def test_delete(self) -> None:
        tenant = self.tenant()
        first = self.cairn.upload(tenant, PROVIDER, b"same")["artifactId"]
        second = self.cairn.upload(tenant, PROVIDER, b"same")["artifactId"]
        self.assertEqual(self.cairn.delete(tenant, first), {"artifactId": first, "deleted": True, "blobFreed": False})
        self.assertTrue(self.cairn.delete(tenant, second)["blobFreed"])
        self.assertEqual(list(self.cairn.list(tenant)), [])

    def test_import_artifacts(self) -> None:
        tenant = self.tenant()
        meta = self.cairn.upload(tenant, PROVIDER, b"import me")
        entry: Dict[str, Any] = {k: meta[k] for k in ("sha256", "sizeBytes", "providerId", "mimeType")}
        entry["artifactId"] = str(uuid.uuid4())
        plan = self.cairn.import_artifacts(tenant, [entry], dry_run=True)
        self.assertEqual(plan["artifacts"], [{"artifactId": entry["artifactId"], "status": "link"}])
        self.assertEqual(self.cairn.import_artifacts(tenant, [entry])["created"], 1)
        self.assertEqual(self.cairn.meta(tenant, entry["artifactId"])["sha256"], meta["sha256"])


class TenantTests(ServerTestCase):
    def test_blobs(self) -> None:
        tenant = self.tenant()
        meta = self.cairn.upload(tenant, PROVIDER, b"blob")
        blob = self.cairn.blobs_stat(tenant, meta["sha256"])
        self.assertEqual((blob["sizeBytes"], blob["artifactIds"]), (4, [meta["artifactId"]]))
        checked = self.cairn.blobs_verify(tenant)
        self.assertEqual((checked["checkedBlobs"], checked["corrupt"], checked["nextCursor"]), (1, [], None))

    def test_usage_and_quota(self) -> None:
        tenant = self.tenant()
        self.cairn.upload(tenant, PROVIDER, b"12345")
        usage = self.cairn.usage(tenant)
        self.assertEqual((usage["artifactCount"], usage["storedBytes"]), (1, 5))
        self.assertEqual(usage["quota"], {"maxBytes": None, "maxArtifacts": None})
        self.assertEqual(self.cairn.set_quota(tenant, max_bytes=100)["quota"], {"maxBytes": 100, "maxArtifacts": None})
        kept = self.cairn.set_quota(tenant, max_artifacts=3)
        self.assertEqual(kept["quota"], {"maxBytes": 100, "maxArtifacts": 3})
        removed = self.cairn.set_quota(tenant, max_bytes=None)
        self.assertEqual(removed["quota"], {"maxBytes": None, "maxArtifacts": 3})

    def test_tenants_and_manifest(self) -> None:
        tenant = self.tenant()
        meta = self.cairn.upload(tenant, PROVIDER, b"manifest")
        self.assertIn(tenant, self.cairn.tenants())
        manifest = self.cairn.manifest(tenant)
        self.assertEqual([a["artifactId"] for a in manifest["artifacts"]], [meta["artifactId"]])
        self.assertEqual(len(manifest["digest"]), 64)

    def test_events(self) -> None:
        tenant = self.tenant()
        meta = self.cairn.upload(tenant, PROVIDER, b"event")
        self.cairn.delete(tenant, meta["artifactId"])
        self.cairn.set_quota(tenant, max_bytes=10)
        events = list(self.cairn.events(tenant, page_size=1))
        self.assertEqual([e["action"] for e in events], ["artifact.created", "artifact.deleted", "quota.set"])
        self.assertEqual([e["seq"] for e in events], [1, 2, 3])
        page = self.cairn.events_page(tenant, limit=2)
        self.assertEqual(len(page["events"]), 2)
        self.assertIsNotNone(page["nextCursor"])
        verified = self.cairn.events_verify(tenant)
        self.assertTrue(verified["intact"])
        anchored = self.cairn.events_verify(tenant, anchor=verified["head"])
        self.assertEqual(anchored["problems"], [])


class BackupTests(ServerTestCase):
    """A server whose policy gives this user every scope, backup included."""

    policy = {"grants": [{"uid": os.getuid(), "tenants": ["*"], "scopes": ["read", "admin", "backup"]}]}

    def test_backup_snapshot(self) -> None:
        tenant = self.tenant()
        meta = self.cairn.upload(tenant, PROVIDER, b"in the snapshot")
        snapshot = self.cairn.backup_begin()
        manifest = next(m for m in snapshot["tenants"] if m["tenant"] == tenant)
        self.assertEqual([a["artifactId"] for a in manifest["artifacts"]], [meta["artifactId"]])
        data_file = snapshot["files"][0]
        self.assertEqual(data_file["path"], "data.mdb")
        target = os.path.join(self.server.scratch, "data.mdb")
        copied = self.cairn.backup_read_to(snapshot["snapshotId"], data_file, target)
        self.assertEqual(copied["sha256"], data_file["sha256"])
        with open(target, "rb") as file:
            self.assertEqual(hashlib.sha256(file.read()).hexdigest(), data_file["sha256"])
        self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o600)
        first = self.cairn.backup_read(snapshot["snapshotId"], "data.mdb", 0, 16)
        self.assertEqual((first["offset"], first["length"], len(first["data"])), (0, 16, 16))
        self.assertEqual(self.cairn.backup_end(snapshot["snapshotId"])["ended"], True)
        with self.assertRaises(CairnError) as caught:
            self.cairn.backup_read(snapshot["snapshotId"], "data.mdb")
        self.assertEqual(caught.exception.code, "NOT_FOUND")

    def test_separate_snapshot_serves_the_content_apart(self) -> None:
        tenant = self.tenant()
        content = b"read apart from the snapshot " * 100
        meta = self.cairn.upload(tenant, PROVIDER, content)
        snapshot = self.cairn.backup_begin(content="separate")
        self.assertEqual(snapshot["content"], "separate")
        blob = {"tenant": tenant, "sha256": meta["sha256"]}
        first = self.cairn.backup_read_content(snapshot["snapshotId"], **blob, length=10)
        self.assertEqual((first["offset"], first["length"], first["eof"], first["data"]), (0, 10, False, content[:10]))
        rest = self.cairn.backup_read_content(snapshot["snapshotId"], **blob, offset=10)
        self.assertEqual((rest["data"], rest["eof"]), (content[10:], True))
        with self.assertRaises(CairnError) as caught:
            self.cairn.backup_read_content(snapshot["snapshotId"], tenant=tenant, sha256="0" * 64)
        self.assertEqual(caught.exception.code, "NOT_FOUND")
        self.assertEqual(self.cairn.backup_end(snapshot["snapshotId"])["ended"], True)


class ProviderTests(ServerTestCase):
    def test_catalog(self) -> None:
        providers = self.cairn.providers()
        self.assertEqual(providers[0]["providerId"], PROVIDER)
        self.assertIn("cosignKey", [field["key"] for field in providers[0]["fields"]])

    def test_config_and_readiness(self) -> None:
        tenant = self.tenant()
        empty = self.cairn.config_get(tenant, PROVIDER)
        self.assertEqual(empty["revision"], 0)
        self.assertEqual(self.cairn.readiness(tenant, PROVIDER)["code"], "PROVIDER_CONFIG_REQUIRED")
        key = self.cairn.upload(tenant, PROVIDER, b"-----BEGIN PUBLIC KEY-----\n", mime_type="application/x-pem-file")
        snapshot = self.cairn.config_set(
            tenant,
            PROVIDER,
            {
                "imageSubscriptions": ["ghcr.io/acme/api:1.4.2"],
                "cosignMode": "keypair",
                "cosignKey": key["artifactId"],
                "registryPassword": "hunter2",
            },
            expected_revision=0,
        )
        self.assertEqual(snapshot["revision"], 1)
        fields = {field["key"]: field for field in snapshot["fields"]}
        self.assertEqual(fields["registryPassword"]["value"], {"set": True})
        self.assertEqual(fields["cosignKey"]["artifacts"][0]["artifactId"], key["artifactId"])
        self.assertTrue(self.cairn.readiness(tenant, PROVIDER)["ready"])
        cleared = self.cairn.config_set(tenant, PROVIDER, clear=["registryPassword"])
        self.assertEqual(cleared["revision"], 2)
        self.assertEqual(self.cairn.config_get(tenant, PROVIDER)["revision"], 2)


def _without(mapping: Mapping[str, Any], key: str) -> Dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


if __name__ == "__main__":
    unittest.main()
