import CairnClient
import CairnDigest
import CairnProtocol
import Foundation
import NIOCore
import ObjectStorage
import TestDaemons
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `cairn backup --to s3://…` and everything around it, against a real Ceph RADOS Gateway on
/// loopback: incremental, encrypted backups, restores that equal the source, damage found and
/// refused, clear failures, a gateway killed mid-backup, and a prune racing a backup.
@Suite(.serialized, .cephGateway, .timeLimit(.minutes(5)))
struct RemoteBackupEndToEndTests {
    var gateway: CephGateway { CephGateway.current! }

    /// `cairn ARGS` against `server`, with the gateway's `AWS_*` variables and `env` on top.
    func cairn(_ server: ServerProcess, _ args: [String], env: [String: String] = [:]) async throws
        -> ServerProcess.CommandResult
    {
        try await server.cairn(args, env: gateway.environment.merging(env) { $1 })
    }

    /// Restores the newest backup of `url` into a new data directory and expects the manifest
    /// digest of `server`'s store, as a local `backup --out` of it computes it.
    func expectRestoresToTheStore(_ server: ServerProcess, from url: String) async throws {
        let target = try ServerProcess()
        let restored = try await cairn(
            server, ["restore", "--from", url, "--data-dir", target.dataDirectory, "--json"])
        #expect(restored.status == 0, "\(restored)")
        let reference = server.scratch("reference")
        let copied = try await server.cairn([
            "backup", "--data-dir", server.dataDirectory, "--out", reference, "--json",
        ])
        #expect(try Self.json(restored)["digest"] == Self.json(copied)["digest"])
    }

    /// A key file, 0600, in the server's scratch directory.
    func keyFile(_ server: ServerProcess) throws -> String {
        let path = server.scratch("backup.key")
        try Data("k3y-for-the-fleet-0123456789abcdef0123456789\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        return path
    }

    static func json(_ result: ServerProcess.CommandResult) throws -> JSONValue { try Audit.json(result.output) }

    static func number(_ result: ServerProcess.CommandResult, _ key: String) throws -> UInt64 {
        try #require(
            { () -> UInt64? in
                guard case .number(let number)? = try? json(result)[key], let value = number.int64 else { return nil }
                return UInt64(value)
            }(), "\(key) in \(result)")
    }

    /// The raw objects under `prefix` of `bucket`, as anyone who can list the bucket sees them.
    func rawObjects(_ bucket: String, prefix: String) async throws -> [(key: String, bytes: [UInt8])] {
        try await S3Client.withClient(try S3Configuration(environment: gateway.environment)) { s3 in
            var objects: [(String, [UInt8])] = []
            guard (try? await s3.headBucket(bucket)) != nil else { return [] }
            for try await summary in s3.objects(in: bucket, prefix: prefix) {
                let object = try await s3.getObject(bucket: bucket, key: summary.key)
                objects.append((summary.key, Array(buffer: object.body)))
            }
            return objects
        }
    }

    @Test func anEncryptedBackupIsIncrementalAndRestoresToTheSameManifests() async throws {
        let server = try await ServerProcess.start()
        try await BackupOverSocketEndToEndTests.fill(server)
        let key = ["CAIRN_BACKUP_KEY_FILE": try keyFile(server)]
        let url = "s3://e2e-incremental/fleet/host-a"

        let first = try await cairn(
            server, ["backup", "--data-dir", server.dataDirectory, "--to", url, "--json"], env: key)
        #expect(first.status == 0, "\(first)")
        let contents = try Self.number(first, "contents")
        #expect(try Self.number(first, "newContents") == contents && contents > 0)

        // Nothing changed: no content is sent again, whichever way the store is read.
        let second = try await cairn(server, ["backup", "--to", url, "--json"], env: key)
        #expect(second.status == 0, "\(second)")
        #expect(try Self.number(second, "newContents") == 0)
        #expect(try Self.number(second, "reusedContents") == contents)
        #expect(try Self.json(second)["digest"] == Self.json(first)["digest"])

        // One new artifact: that content alone.
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(tenant: "beta", providerId: "p", mimeType: "x/y", bytes: Payload.random(4096))
        }
        let third = try await cairn(server, ["backup", "--to", url, "--json"], env: key)
        #expect(third.status == 0, "\(third)")
        #expect(try Self.number(third, "newContents") == 1)
        #expect(try Self.json(third)["digest"] != Self.json(second)["digest"])

        let listed = try await cairn(server, ["backup", "--list", url, "--json"], env: key)
        #expect(listed.status == 0, "\(listed)")
        let ids = try #require(try Self.json(listed).arrayValue).compactMap { $0["id"]?.stringValue }
        #expect(ids == [first, second, third].compactMap { try? Self.json($0)["backup"]?.stringValue })

        // A named backup restores to its own manifests; the newest to the live store's.
        let older = try ServerProcess()
        let restoredOlder = try await cairn(
            server, ["restore", "--from", "\(url)#\(ids[1])", "--data-dir", older.dataDirectory, "--json"], env: key)
        #expect(restoredOlder.status == 0, "\(restoredOlder)")
        #expect(try Self.json(restoredOlder)["digest"] == Self.json(second)["digest"])
        let newest = try ServerProcess()
        let restored = try await cairn(
            server, ["restore", "--from", url, "--data-dir", newest.dataDirectory, "--json"], env: key)
        #expect(restored.status == 0, "\(restored)")
        #expect(try Self.json(restored)["digest"] == Self.json(third)["digest"])
        try await newest.start()
        for tenant in ["acme", "beta"] {
            let live = try await server.cairn(["manifest", "--tenant", tenant])
            let again = try await newest.cairn(["manifest", "--tenant", tenant])
            #expect(live.status == 0 && live.output == again.output, "\(tenant)")
        }
        // The configuration came along, and the restored store serves the same bytes.
        let readiness = try await newest.cairn(["providers", "show", "excititor:oci-openvex", "--tenant", "acme"])
        #expect(readiness.status == 0 && readiness.output.contains("cosignMode"), "\(readiness)")

        let verified = try await cairn(server, ["verify", "--remote", url, "--json"], env: key)
        #expect(verified.status == 0, "\(verified)")
    }

    /// Over the socket the server snapshots the store without its content and serves each content
    /// apart (`backup.readContent`): a blob big enough to be streamed in parts, a small one and
    /// an open upload all come back whole, and the server keeps no snapshot afterwards.
    @Test func aBackupOverTheSocketReadsTheContentFromTheServer() async throws {
        let server = try await ServerProcess.start()
        let big = server.scratch("big")
        try Data(Payload.random(9 << 20)).write(to: URL(fileURLWithPath: big))
        let put = try await server.cairn(["put", "--tenant", "acme", "--provider", "p", big])
        #expect(put.status == 0, "\(put)")
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(tenant: "beta", providerId: "p", mimeType: "x/y", bytes: Payload.random(3000))
            let upload = try await client.beginUpload(tenant: "beta", providerId: "p", mimeType: "x/y")
            _ = try await client.append(uploadId: upload, offset: 0, bytes: Payload.random(100_000))
        }
        let url = "s3://e2e-socket/a"
        let taken = try await cairn(server, ["backup", "--to", url, "--json"])
        #expect(taken.status == 0, "\(taken)")
        #expect(try Self.number(taken, "newContents") == 3)
        let snapshots =
            (try? FileManager.default.contentsOfDirectory(atPath: server.dataDirectory + "/snapshots")) ?? []
        #expect(snapshots.isEmpty, "\(snapshots)")

        try await expectRestoresToTheStore(server, from: url)
        #expect(try await cairn(server, ["verify", "--remote", url]).status == 0)
    }

    /// A backup that dies while it streams a big pack leaves its multipart upload behind; the next
    /// prune, which runs only when no backup does, aborts it, and leaves everything else.
    @Test func aPruneAbortsTheUploadsOfBackupsThatDied() async throws {
        let server = try await ServerProcess.start()
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(tenant: "acme", providerId: "p", mimeType: "x/y", bytes: Payload.random(5000))
        }
        let url = "s3://e2e-orphans/a"
        #expect(try await cairn(server, ["backup", "--to", url]).status == 0)
        try await S3Client.withClient(try S3Configuration(environment: gateway.environment)) { s3 in
            let key = "a/data/" + String(repeating: "7", count: 32)
            let id = try await s3.createMultipartUpload(bucket: "e2e-orphans", key: key)
            _ = try await s3.uploadPart(
                ByteBuffer(bytes: Payload.random(1 << 20)), partNumber: 1, uploadID: id, bucket: "e2e-orphans", key: key
            )
            let elsewhere = try await s3.createMultipartUpload(bucket: "e2e-orphans", key: "not-cairn/x")

            let pruned = try await cairn(server, ["backup", "--prune", url, "--keep-last", "1", "--json"])
            #expect(pruned.status == 0, "\(pruned)")
            #expect(try Self.number(pruned, "abortedUploads") == 1)
            #expect(try await s3.multipartUploads(bucket: "e2e-orphans", prefix: "a/").isEmpty)
            #expect(try await s3.multipartUploads(bucket: "e2e-orphans").map(\.uploadID) == [elsewhere])
            try await s3.abortMultipartUpload(uploadID: elsewhere, bucket: "e2e-orphans", key: "not-cairn/x")
        }
        #expect(try await cairn(server, ["verify", "--remote", url]).status == 0)
    }

    @Test func secretsAndContentNeverReachTheBucketInClear() async throws {
        let server = try await ServerProcess.start()
        let marker = Array("a-private-key-that-must-not-leak-".utf8) + Payload.random(4000)
        let digest = SHA256Hex.of(marker)
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(tenant: "acme", providerId: "p", mimeType: "x/y", bytes: marker)
        }
        let configured = try await server.cairn([
            "providers", "configure", "excititor:oci-openvex", "--tenant", "acme", "--image", "ghcr.io/acme/api:1",
            "--set", "registryPassword=hunter2-pa55word",
        ])
        #expect(configured.status == 0, "\(configured)")

        // No key: refused, because of the secret, and nothing is written.
        let refused = try await cairn(server, ["backup", "--to", "s3://e2e-secrets/clear"])
        #expect(refused.status == 2 && refused.errorOutput.contains("registryPassword"), "\(refused)")
        #expect(try await rawObjects("e2e-secrets", prefix: "clear/").isEmpty)
        let listed = try await cairn(server, ["backup", "--list", "s3://e2e-secrets/clear"])
        #expect(listed.status == 2, "\(listed)")

        let key = ["CAIRN_BACKUP_KEY_FILE": try keyFile(server)]
        let sealed = try await cairn(server, ["backup", "--to", "s3://e2e-secrets/sealed", "--json"], env: key)
        #expect(sealed.status == 0, "\(sealed)")
        let objects = try await rawObjects("e2e-secrets", prefix: "sealed/")
        #expect(objects.count >= 5)
        let needles: [[UInt8]] = [
            Array(marker.prefix(33)), Array("hunter2-pa55word".utf8), Array(digest.utf8), SHA256Hex.raw(marker),
        ]
        for object in objects {
            #expect(!object.key.contains(digest), "\(object.key)")
            for needle in needles {
                #expect(!Self.contains(object.bytes, needle), "\(object.key) holds \(needle.count) telling bytes")
            }
        }
        // In clear when asked: then the bytes are there, as said.
        let clear = try await cairn(
            server, ["backup", "--to", "s3://e2e-secrets/asked", "--allow-plaintext-secrets", "--json"])
        #expect(clear.status == 0, "\(clear)")
        let plain = try await rawObjects("e2e-secrets", prefix: "asked/")
        #expect(plain.contains { Self.contains($0.bytes, Array(marker.prefix(33))) })
    }

    @Test func damageInTheBucketIsNamedAndNeverRestored() async throws {
        let server = try await ServerProcess.start()
        let marker = Array("damaged-content-here-".utf8) + Payload.random(5000)
        let id = try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(tenant: "acme", providerId: "p", mimeType: "x/y", bytes: Payload.random(3000))
            return try await client.upload(tenant: "acme", providerId: "p", mimeType: "x/y", bytes: marker).artifactId
        }
        let url = "s3://e2e-damage/plain"
        let taken = try await cairn(server, ["backup", "--to", url])
        #expect(taken.status == 0, "\(taken)")
        #expect(try await cairn(server, ["verify", "--remote", url]).status == 0)

        // Flip one byte of the artifact's content in its pack (the repository is in clear).
        let objects = try await rawObjects("e2e-damage", prefix: "plain/data/")
        let pack = try #require(objects.first { Self.contains($0.bytes, Array(marker.prefix(21))) })
        var bytes = pack.bytes
        let at = try #require(Self.index(of: Array(marker.prefix(21)), in: bytes))
        bytes[at + 30] ^= 0xff
        try await S3Client.withClient(try S3Configuration(environment: gateway.environment)) { s3 in
            try await s3.putObject(ByteBuffer(bytes: bytes), bucket: "e2e-damage", key: pack.key)
        }

        let verified = try await cairn(server, ["verify", "--remote", url])
        #expect(verified.status == 1, "\(verified)")
        #expect(verified.errorOutput.contains(id), "\(verified)")
        let target = try ServerProcess()
        let restored = try await cairn(server, ["restore", "--from", url, "--data-dir", target.dataDirectory])
        #expect(restored.status == 1, "\(restored)")
        #expect(restored.errorOutput.contains(id), "\(restored)")
        #expect(!FileManager.default.fileExists(atPath: target.dataDirectory + "/store"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: target.dataDirectory)) ?? [] == [])
    }

    @Test func aWrongKeyAMissingBucketAndAnUnreachableEndpointFailClearly() async throws {
        let server = try await ServerProcess.start()
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(tenant: "acme", providerId: "p", mimeType: "x/y", bytes: Payload.random(100))
        }
        let key = ["CAIRN_BACKUP_KEY_FILE": try keyFile(server)]
        #expect(try await cairn(server, ["backup", "--to", "s3://e2e-errors/a"], env: key).status == 0)

        let wrong = server.scratch("wrong.key")
        try Data("a different key, also long enough to be one".utf8).write(to: URL(fileURLWithPath: wrong))
        let target = try ServerProcess()
        let cases: [(String, [String], [String: String])] = [
            (
                "wrong key", ["restore", "--from", "s3://e2e-errors/a", "--data-dir", target.dataDirectory],
                ["CAIRN_BACKUP_KEY_FILE": wrong]
            ),
            ("no key", ["restore", "--from", "s3://e2e-errors/a", "--data-dir", target.dataDirectory], [:]),
            (
                "missing bucket",
                ["restore", "--from", "s3://e2e-no-such-bucket/a", "--data-dir", target.dataDirectory], key
            ),
            (
                "unreachable", ["restore", "--from", "s3://e2e-errors/a", "--data-dir", target.dataDirectory],
                key.merging(["AWS_ENDPOINT_URL": "http://127.0.0.1:1"]) { $1 }
            ),
            (
                "unreachable backup", ["backup", "--to", "s3://e2e-errors/a"],
                key.merging(["AWS_ENDPOINT_URL": "http://127.0.0.1:1"]) { $1 }
            ),
        ]
        let expected = ["does not open", "is encrypted", "no bucket", "cannot reach", "cannot reach"]
        for ((name, args, env), message) in zip(cases, expected) {
            let result = try await cairn(server, args, env: env)
            #expect(result.status == 2, "\(name): \(result)")
            #expect(result.errorOutput.contains(message), "\(name): \(result)")
            #expect(!result.errorOutput.contains(gateway.environment["AWS_SECRET_ACCESS_KEY"]!), "\(name)")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: target.dataDirectory)) ?? [] == [], "\(name)")
        }
        let listed = try await cairn(server, ["backup", "--list", "s3://e2e-errors/a", "--json"], env: key)
        #expect(try Self.json(listed).arrayValue?.count == 1, "\(listed)")
    }

    @Test func aBackupCutByAKilledGatewayLeavesNoBackupAndTheRerunSendsWhatIsMissing() async throws {
        let server = try await ServerProcess.start()
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            for _ in 0..<24 {
                _ = try await client.upload(
                    tenant: "acme", providerId: "p", mimeType: "x/y", bytes: Payload.random(9 << 20))
            }
        }
        let url = "s3://e2e-killed/a"
        let environment = gateway.environment
        let metrics = server.scratch("cairn-backup.prom")
        let running = try server.launch(
            ["backup", "--to", url, "--json", "--metrics-file", metrics], env: environment)
        // Kill the gateway once the first content is stored (its index written).
        try await S3Client.withClient(try S3Configuration(environment: environment)) { s3 in
            _ = try? await s3.ensureBucket("e2e-killed")
            while true {
                let indexes = try await s3.listObjects(bucket: "e2e-killed", prefix: "a/index/")
                if !indexes.objects.isEmpty { break }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        try await gateway.killGateway()
        let cut = try await running.wait(timeout: .seconds(120))
        #expect(cut.status != 0, "\(cut)")
        try await gateway.startGateway()
        let listed = try await cairn(server, ["backup", "--list", url, "--json"])
        #expect(listed.status == 0, "\(listed)")
        #expect(try Self.json(listed).arrayValue?.isEmpty == true, "\(listed)")

        let failed = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(failed.contains("cairn_backup_failures_total{repository=\"\(url)\"} 1\n"), "\(failed)")
        #expect(!failed.contains("cairn_backup_last_success_timestamp_seconds"), "\(failed)")

        let rerun = try await cairn(server, ["backup", "--to", url, "--json", "--metrics-file", metrics])
        #expect(rerun.status == 0, "\(rerun)")
        let succeeded = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(succeeded.contains("cairn_backup_runs_total{repository=\"\(url)\"} 2\n"), "\(succeeded)")
        #expect(succeeded.contains("cairn_backup_last_run_success{repository=\"\(url)\"} 1\n"), "\(succeeded)")
        #expect(succeeded.contains("cairn_backup_last_success_timestamp_seconds{"), "\(succeeded)")
        #expect(try Self.number(rerun, "reusedContents") >= 1)
        #expect(try Self.number(rerun, "newContents") < 24)
        let target = try ServerProcess()
        let restored = try await cairn(
            server, ["restore", "--from", url, "--data-dir", target.dataDirectory, "--json"])
        #expect(restored.status == 0, "\(restored)")
        #expect(try Self.json(restored)["digest"] == Self.json(rerun)["digest"])
    }

    @Test func aPruneRacingABackupLeavesTheKeptAndTheNewBackupsRestorable() async throws {
        let server = try await ServerProcess.start()
        let url = "s3://e2e-prune/a"
        for round in 0..<3 {
            try await CairnClient.withConnection(socketPath: server.socketPath) { client in
                _ = try await client.upload(
                    tenant: "acme", providerId: "p", mimeType: "x/y", bytes: Payload.random(2000 + round))
            }
            #expect(try await cairn(server, ["backup", "--to", url]).status == 0)
        }
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(
                tenant: "beta", providerId: "p", mimeType: "x/y", bytes: Payload.random(3 << 20))
        }
        // Both at once, from two processes.
        let environment = gateway.environment
        let backup = try server.launch(["backup", "--to", url, "--json"], env: environment)
        let prune = try server.launch(["backup", "--prune", url, "--keep-last", "1", "--json"], env: environment)
        let backedUp = try await backup.wait(timeout: .seconds(120))
        let pruned = try await prune.wait(timeout: .seconds(120))
        for result in [backedUp, pruned] where result.status != 0 {
            #expect(result.status == 2 && result.errorOutput.contains("locked"), "\(result)")
        }
        #expect(backedUp.status == 0 || pruned.status == 0)
        // A prune that ran after the backup keeps it; either way every listed backup restores whole.
        let listed = try await cairn(server, ["backup", "--list", url, "--json"])
        let ids = try #require(try Self.json(listed).arrayValue).compactMap { $0["id"]?.stringValue }
        #expect(!ids.isEmpty)
        if backedUp.status == 0, let id = try Self.json(backedUp)["backup"]?.stringValue {
            #expect(ids.contains(id) || pruned.status == 0)
        }
        for id in ids {
            let verified = try await cairn(server, ["verify", "--remote", "\(url)#\(id)"])
            #expect(verified.status == 0, "\(id): \(verified)")
        }
        let target = try ServerProcess()
        let restored = try await cairn(server, ["restore", "--from", url, "--data-dir", target.dataDirectory])
        #expect(restored.status == 0, "\(restored)")
        // A second prune, alone, keeps exactly the newest and leaves it whole.
        let again = try await cairn(server, ["backup", "--prune", url, "--keep-last", "1", "--json"])
        #expect(again.status == 0, "\(again)")
        #expect(try Self.json(again)["keptBackups"]?.arrayValue?.count == 1)
        #expect(try await cairn(server, ["verify", "--remote", url]).status == 0)
    }

    @Test func aNewHostSeedsATenantFromTheBucketKeepingIds() async throws {
        let server = try await ServerProcess.start()
        try await BackupOverSocketEndToEndTests.fill(server)
        let key = ["CAIRN_BACKUP_KEY_FILE": try keyFile(server)]
        let url = "s3://e2e-seed/fleet"
        #expect(try await cairn(server, ["backup", "--to", url], env: key).status == 0)

        let fresh = try await ServerProcess.start()
        let seed = ["import", "--tenant", "web", "--from", url, "--source-tenant", "acme"]
        // Planned against the quota before a byte is sent.
        #expect(try await fresh.cairn(["quota", "set", "--max-bytes", "10", "--tenant", "web"]).status == 0)
        let refused = try await cairn(fresh, seed, env: key)
        #expect(refused.status == 1 && refused.errorOutput.contains("QUOTA_EXCEEDED"), "\(refused)")
        let usage = try await fresh.cairn(["usage", "--tenant", "web", "--json"])
        #expect(try Audit.json(usage.output)["artifactCount"] == 0, "\(usage)")

        #expect(try await fresh.cairn(["quota", "set", "--max-bytes", "1G", "--tenant", "web"]).status == 0)
        let imported = try await cairn(fresh, seed + ["--json"], env: key)
        #expect(imported.status == 0, "\(imported)")
        #expect(try Self.number(imported, "created") > 0)
        // The same artifacts, ids, digests, sizes and types, under the new tenant's name.
        func artifactLines(_ result: ServerProcess.CommandResult) -> [Substring] {
            result.output.split(separator: "\n").filter { $0.hasPrefix("artifact ") }
        }
        let source = try await server.cairn(["manifest", "--tenant", "acme"])
        let seeded = try await fresh.cairn(["manifest", "--tenant", "web"])
        #expect(!artifactLines(source).isEmpty && artifactLines(source) == artifactLines(seeded), "\(seeded)")
        // The configuration's non-secret values came along.
        let show = try await fresh.cairn(["providers", "show", "excititor:oci-openvex", "--tenant", "web"])
        #expect(show.output.contains("keypair"), "\(show)")

        // Again: everything is present, nothing is sent.
        let again = try await cairn(fresh, seed + ["--json"], env: key)
        #expect(again.status == 0, "\(again)")
        #expect(try Self.number(again, "uploadedBlobs") == 0 && Self.number(again, "created") == 0)
        // A tenant the backup does not hold.
        let missing = try await cairn(
            fresh, ["import", "--tenant", "web", "--from", url, "--source-tenant", "nobody"], env: key)
        #expect(missing.status == 2 && missing.errorOutput.contains("holds no tenant nobody"), "\(missing)")
    }

    @Test(AuthEndToEndTests.needsRoot)
    func aUidWithOnlyTheBackupGrantBacksUpToTheBucket() async throws {
        let policy =
            #"{"grants":[{"uid":0,"tenants":["*"],"scopes":["read","admin"]},"#
            + #"{"uid":\#(AuthEndToEndTests.otherUID),"tenants":["*"],"scopes":["backup"]}]}"#
        let server = try await AuthEndToEndTests.startReachable(policy: policy)
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            _ = try await client.upload(tenant: "acme", providerId: "p", mimeType: "x/y", bytes: Payload.random(7000))
        }
        let url = "s3://e2e-backup-uid/a"
        let taken = try await AuthEndToEndTests.cli(
            server, ["backup", "--to", url, "--json"], env: gateway.environment)
        #expect(taken.status == 0, "\(taken)")
        try await expectRestoresToTheStore(server, from: url)
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool { index(of: needle, in: haystack) != nil }

    static func index(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let first = needle[0]
        var at = 0
        while at <= haystack.count - needle.count {
            if haystack[at] == first, Array(haystack[at..<at + needle.count]) == needle { return at }
            at += 1
        }
        return nil
    }
}

/// SHA-256 for the tests, through the digest module the store uses.
enum SHA256Hex {
    static func of(_ bytes: [UInt8]) -> String { SHA256Hasher.digest(bytes).hex }
    static func raw(_ bytes: [UInt8]) -> [UInt8] { SHA256Hasher.digest(bytes).bytes }
}
