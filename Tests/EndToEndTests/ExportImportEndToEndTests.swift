import CairnClient
import CairnDigest
import CairnProtocol
import Foundation
import Testing

/// `cairn export` and `cairn import` between two real servers: ids, digests
/// and configurations survive, a second import sends nothing, the format is
/// checkable with sha256 alone, and quotas are respected before any write.
@Suite(.timeLimit(.minutes(2)))
struct ExportImportEndToEndTests {
    @Test func aRoundTripIntoASecondServerKeepsIdsDigestsAndConfigurations() async throws {
        let source = try await ServerProcess.start(files: BackupEndToEndTests.configurationFiles)
        let key = Array("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n".utf8)
        let keyId = try #require(
            try Audit.json(
                try await source.cairn(
                    [
                        "put", "-", "--provider", "excititor:oci-openvex", "--mime-type", "application/x-pem-file",
                        "--json",
                        "--tenant", "acme",
                    ], stdin: key
                ).output)["artifactId"]?.stringValue)
        let big = Payload.random(5 << 20)
        for content in [big, big, Array("small".utf8)] {
            #expect(
                try await source.cairn(["put", "-", "--provider", "p", "--tenant", "acme"], stdin: content).status == 0)
        }
        let values = JSONObject([
            (
                "imageSubscriptions",
                .array([
                    .string("ghcr.io/acme/app:1"),
                    .string("ghcr.io/acme/db@sha256:" + String(repeating: "a", count: 64)),
                ])
            ),
            ("cosignMode", "keypair"), ("cosignKey", .string(keyId)),
        ])
        let configured = try await CairnClient.withConnection(socketPath: source.socketPath) { connection in
            _ = try await connection.call(
                "providers.config.set",
                JSONObject([
                    ("tenant", "acme"), ("providerId", "acme:feed"),
                    ("values", .object(JSONObject([("url", "https://feed.example"), ("token", "s3cret")]))),
                ]))
            return try await connection.call(
                "providers.config.set",
                JSONObject([("tenant", "acme"), ("providerId", "excititor:oci-openvex"), ("values", .object(values))])
            ).result
        }
        let sourceManifest = try await source.cairn(["manifest", "--tenant", "acme"])
        let artifactLines = sourceManifest.output.split(separator: "\n").filter { $0.hasPrefix("artifact ") }
        #expect(artifactLines.count == 4)

        let tar = source.scratch("acme.tar")
        let directory = source.scratch("acme-export")
        #expect(try await source.cairn(["export", "--tenant", "acme", "--out", tar]).status == 0)
        let exported = try await source.cairn(["export", "--tenant", "acme", "--out", directory])
        #expect(exported.status == 0, "\(exported)")
        #expect(permissions(tar) == 0o600)
        #expect(permissions(directory) == 0o700)
        // An auditor's check: every content file's name is its sha256.
        let blobs = try FileManager.default.contentsOfDirectory(atPath: directory + "/blobs/sha256")
        #expect(blobs.count == 3)
        for name in blobs {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/blobs/sha256/" + name))
            #expect(SHA256Hasher.digest(Array(bytes)).hex == name)
        }
        #expect(
            try Audit.manifestDigestByScript(directory + "/EXPORT.json", tenant: "acme")
                == Audit.printedDigest(sourceManifest.output))

        // The tar is an ordinary ustar file: tar unpacks the same files as the directory export.
        let unpacked = source.scratch("unpacked")
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        _ = try Audit.run(["tar", "-xf", tar, "-C", unpacked])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: unpacked + "/blobs/sha256").sorted() == blobs.sorted())
        for name in blobs {
            #expect(
                FileManager.default.contents(atPath: unpacked + "/blobs/sha256/" + name)
                    == FileManager.default.contents(atPath: directory + "/blobs/sha256/" + name))
        }
        #expect(
            try Audit.manifestDigestByScript(unpacked + "/EXPORT.json", tenant: "acme")
                == Audit.printedDigest(sourceManifest.output))

        // No secret leaves the server.
        let index = try String(contentsOfFile: directory + "/EXPORT.json", encoding: .utf8)
        #expect(!index.contains("s3cret"))
        #expect(
            try Audit.json(index)["configurations"]?.arrayValue?.contains { $0["secretFields"] == ["token"] } == true)

        let target = try await ServerProcess.start(files: BackupEndToEndTests.configurationFiles)
        let first = try await target.cairn(["import", "--tenant", "acme", tar, "--json"])
        #expect(first.status == 0, "\(first)")
        let firstSummary = try Audit.json(first.output)
        #expect(firstSummary["created"] == 4)
        #expect(firstSummary["uploadedBlobs"] == 3)
        #expect(firstSummary["uploadedBytes"]?.intValue == big.count + key.count + 5)
        let feed = firstSummary["configurations"]?.arrayValue?.first { $0["providerId"] == "acme:feed" }
        #expect(feed?["secretFieldsUnset"] == ["token"])
        #expect(feed?["changed"] == true)

        let targetManifest = try await target.cairn(["manifest", "--tenant", "acme"])
        #expect(targetManifest.output.split(separator: "\n").filter { $0.hasPrefix("artifact ") } == artifactLines)
        let snapshot = try await CairnClient.withConnection(socketPath: target.socketPath) { connection in
            try await connection.call(
                "providers.config.get", JSONObject([("tenant", "acme"), ("providerId", "excititor:oci-openvex")])
            ).result
        }
        // Equal values; the referenced artifact's stagedAt and stagedBy are the import's.
        func fieldValues(_ snapshot: JSONValue) -> [JSONValue] {
            (snapshot["fields"]?.arrayValue ?? []).map { $0.removing(["artifacts"]) }
        }
        #expect(fieldValues(snapshot) == fieldValues(configured))
        #expect(snapshot["fields"]?.arrayValue?.count == configured["fields"]?.arrayValue?.count)
        #expect(snapshot["readiness"]?["ready"] == configured["readiness"]?["ready"])

        // Again, from the directory: nothing sent, nothing changed (not even an event).
        let second = try await target.cairn(["import", "--tenant", "acme", directory, "--json"])
        #expect(second.status == 0, "\(second)")
        let secondSummary = try Audit.json(second.output)
        #expect(secondSummary["uploadedBytes"] == 0)
        #expect(secondSummary["created"] == 0)
        #expect(secondSummary["present"] == 4)
        #expect(secondSummary["configurations"]?.arrayValue?.allSatisfy { $0["changed"] == false } == true)
        #expect(try await target.cairn(["manifest", "--tenant", "acme"]).output == targetManifest.output)
    }

    @Test func anImportOverTheQuotaOrWithDamagedContentWritesNothing() async throws {
        let source = try await ServerProcess.start()
        let content = Payload.random(300_000)
        #expect(
            try await source.cairn(["put", "-", "--provider", "p", "--tenant", "acme"], stdin: content).status == 0)
        #expect(
            try await source.cairn(["put", "-", "--provider", "p", "--tenant", "acme"], stdin: Array("x".utf8)).status
                == 0)
        let directory = source.scratch("export")
        #expect(try await source.cairn(["export", "--tenant", "acme", "--out", directory]).status == 0)

        let target = try await ServerProcess.start()
        _ = try await target.cairn(["quota", "set", "--max-bytes", "1000", "--tenant", "small"])
        let before = try await target.cairn(["manifest", "--tenant", "small"])
        let refused = try await target.cairn(["import", "--tenant", "small", directory])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.errorOutput.contains("QUOTA_EXCEEDED"), "\(refused)")
        #expect(try await target.cairn(["manifest", "--tenant", "small"]).output == before.output)

        try Audit.flipByte(in: directory + "/blobs/sha256/" + Payload.sha256(content), after: Array(content[..<32]))
        let damaged = try await target.cairn(["import", "--tenant", "acme", directory])
        #expect(damaged.status == 1)
        #expect(damaged.errorOutput.contains("blobs/sha256/\(Payload.sha256(content)) has sha256"), "\(damaged)")
        let usage = try await target.cairn(["usage", "--json", "--tenant", "acme"])
        #expect(try Audit.json(usage.output)["artifactCount"] == 0)
    }
}
