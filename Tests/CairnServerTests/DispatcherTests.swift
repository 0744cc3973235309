import CairnDigest
import CairnProtocol
import CairnStore
import Foundation
import Logging
import Testing

@testable import CairnServer

// Peers with uids that name no user, so `stagedBy` is `uid:N` and groups are the primary gid only.
private let owner = Peer(pid: 11, uid: 4_100_001, gid: 4_100_001)
private let otherAdmin = Peer(pid: 12, uid: 4_100_002, gid: 4_100_002)
private let reader = Peer(pid: 13, uid: 4_100_003, gid: 4_100_003)
private let stranger = Peer(pid: 14, uid: 4_100_004, gid: 4_100_004)
private let acmeAdmin = Peer(pid: 15, uid: 4_100_005, gid: 4_100_005)

private let testPolicy = AccessPolicy(grants: [
    .init(subject: .uid(owner.uid), tenants: ["*"], scopes: [.read, .admin]),
    .init(subject: .uid(otherAdmin.uid), tenants: ["*"], scopes: [.read, .admin]),
    .init(subject: .uid(reader.uid), tenants: ["acme"], scopes: [.read]),
    .init(subject: .uid(acmeAdmin.uid), tenants: ["acme"], scopes: [.read, .admin]),
])

private let testLimits: ServerConfiguration.Limits = {
    var limits = ServerConfiguration.Limits()
    limits.maxRequestBytes = 16 << 10
    limits.maxChunkBytes = 1024
    limits.maxArtifactBytes = 8192
    return limits
}()

private let randomId = "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a"
private let randomDigest = String(repeating: "5e", count: 32)
private let emptyDigest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/// A dispatcher over a real store in a temporary directory, removed when the fixture goes.
private final class Fixture: Sendable {
    let directory: String
    let store: ArtifactStore
    let dispatcher: Dispatcher

    init(limits: ServerConfiguration.Limits = testLimits, policy: AccessPolicy = testPolicy) throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-dispatcher-test-\(UUID().uuidString)").path
        var logger = Logger(label: "cairn.test")
        logger.logLevel = .critical
        var configuration = ArtifactStore.Configuration()
        configuration.maxArtifactBytes = limits.maxArtifactBytes
        configuration.initialMapSize = 64 << 20
        store = try ArtifactStore.open(directory: directory, configuration: configuration, logger: logger)
        dispatcher = Dispatcher(store: store, policy: policy, limits: limits, logger: logger)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func call(
        _ method: String, _ params: JSONValue = [:], as peer: Peer = owner, attachment: [UInt8]? = nil
    ) async -> Reply {
        let request = RPCRequest(id: 1, method: method, params: params.objectValue ?? JSONObject())
        return await dispatcher.handle(request, peer: peer, attachment: attachment)
    }

    /// The result of a call that must succeed.
    func result(
        _ method: String, _ params: JSONValue = [:], as peer: Peer = owner, attachment: [UInt8]? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let reply = await call(method, params, as: peer, attachment: attachment)
        switch reply {
        case .result(let value): return value
        case .binary(let value, _): return value
        case .error(let error):
            Issue.record("\(method) failed: \(error) \(error.data)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// The error of a call that must fail.
    func error(
        _ method: String, _ params: JSONValue = [:], as peer: Peer = owner, attachment: [UInt8]? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> RPCError {
        let reply = await call(method, params, as: peer, attachment: attachment)
        guard case .error(let error) = reply else {
            Issue.record("\(method) succeeded but should fail", sourceLocation: sourceLocation)
            throw RPCError(.internalError, "unexpected success")
        }
        return error
    }

    /// Stages `bytes` inline and returns the meta.
    func upload(
        _ bytes: [UInt8], tenant: String = "acme", providerId: String = "excititor:oci-openvex", as peer: Peer = owner
    ) async throws -> JSONValue {
        try await result(
            "artifacts.upload",
            [
                "tenant": .string(tenant), "providerId": .string(providerId), "mimeType": "application/json",
                "data": .string(Base64.encode(bytes)),
            ], as: peer)
    }
}

private func sha256Hex(_ bytes: [UInt8]) -> String { SHA256Hasher.digest(bytes).hex }

private func text(_ string: String) -> [UInt8] { Array(string.utf8) }

/// Whether `value` is an RFC 3339 UTC time with milliseconds.
private func isTime(_ value: JSONValue?) -> Bool {
    guard let text = value?.stringValue else { return false }
    return text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil
}

private func isLowercaseUUID(_ value: JSONValue?) -> Bool {
    guard let text = value?.stringValue else { return false }
    return text.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/) != nil
}

private func keys(_ value: JSONValue?) -> [String] { value?.objectValue?.keys ?? [] }

private let metaKeys = [
    "artifactId", "tenantId", "providerId", "mimeType", "sizeBytes", "sha256", "stagedAt", "stagedBy",
]

/// Expects INVALID_PARAMS naming `field`.
private func expectInvalidParams(
    _ error: RPCError, _ field: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(error.code == .invalidParams, "\(error)", sourceLocation: sourceLocation)
    #expect(error.data["field"] == .string(field), "\(error) \(error.data)", sourceLocation: sourceLocation)
}

@Suite("Dispatcher")
struct DispatcherTests {
    // MARK: System

    @Test func helloDescribesServerLimitsPeerAndGrants() async throws {
        let fixture = try Fixture()
        let hello = try await fixture.result("system.hello")
        #expect(
            keys(hello) == ["server", "version", "protocol", "capabilities", "limits", "peer", "grants"])
        #expect(hello["server"] == "cairn")
        #expect(hello["version"]?.stringValue?.isEmpty == false)
        #expect(hello["protocol"] == 1)
        #expect(hello["capabilities"] == ["binaryAttachments", "xxh128"])
        #expect(hello["limits"] == ["maxRequestBytes": 16384, "maxChunkBytes": 1024, "maxArtifactBytes": 8192])
        #expect(hello["peer"] == ["uid": 4_100_001, "gid": 4_100_001])
        #expect(hello["grants"] == [["tenant": "*", "scopes": ["read", "admin"]]])

        #expect(
            try await fixture.result("system.hello", as: reader)["grants"] == [["tenant": "acme", "scopes": ["read"]]])
        #expect(try await fixture.result("system.hello", as: stranger)["grants"] == [])
    }

    @Test func healthNeedsNoGrantAndShowsItsFiguresToStoreAdminsOnly() async throws {
        let fixture = try Fixture()
        // Without an admin grant on every tenant: the status alone, which
        // says nothing of what other tenants do.
        for peer in [stranger, reader, acmeAdmin] {
            let health = try await fixture.result("system.health", as: peer)
            #expect(keys(health) == ["status", "layoutVersion"])
            #expect(health["layoutVersion"] == 7)
        }
        let health = try await fixture.result("system.health", as: owner)
        #expect(keys(health) == ["status", "layoutVersion", "store", "problems"])
        let status = try #require(health["status"]?.stringValue)
        #expect(["ok", "degraded"].contains(status))
        #expect(health["layoutVersion"]?.objectValue == nil)
        #expect(try await fixture.result("system.health", as: stranger)["status"]?.stringValue == status)
        let store = try #require(health["store"]?.objectValue)
        #expect(
            store.keys == [
                "usedBytes", "sizeLimitBytes", "diskFreeBytes", "headroomBytes", "openUploads", "pendingReclaim",
            ])
        for key in store.keys {
            guard case .number(let number)? = store[key] else {
                Issue.record("store.\(key) is not a number")
                continue
            }
            #expect(number.int64 != nil)
        }
        let problems = try #require(health["problems"]?.arrayValue)
        #expect((status == "ok") == problems.isEmpty)
    }

    // MARK: Inline upload

    /// Small writes run on the connection's event loop (one hop to the
    /// writer and one back); reads that may be long, writes that may first
    /// re-read a whole upload, and big content do not.
    @Test func onlySmallWritesRunOnTheConnection() throws {
        let fixture = try Fixture()
        func runs(_ method: String, _ params: JSONValue = [:], attachment: [UInt8]? = nil) -> Bool {
            fixture.dispatcher.runsOnConnection(
                RPCRequest(id: 1, method: method, params: params.objectValue ?? JSONObject()), attachment: attachment)
        }
        let limit = Dispatcher.maxContentOnConnection
        #expect(runs("artifacts.upload", attachment: [UInt8](repeating: 1, count: limit)))
        #expect(!runs("artifacts.upload", attachment: [UInt8](repeating: 1, count: limit + 1)))
        #expect(runs("artifacts.upload", ["data": .string(String(repeating: "A", count: 4096))]))
        #expect(!runs("artifacts.upload", ["data": .string(String(repeating: "A", count: limit + 4))]))
        let writes = [
            Methods.artifactsDelete.name, Methods.uploadsBegin.name, Methods.uploadsAbort.name,
            Methods.tenantsSetQuota.name, Methods.providersConfigSet.name,
        ]
        for method in writes {
            #expect(runs(method), "\(method)")
        }
        for method in [
            Methods.uploadsAppend.name, Methods.uploadsCommit.name, Methods.artifactsImport.name,
            Methods.artifactsMeta.name, Methods.blobsVerify.name, Methods.backupBegin.name, "no.such",
        ] {
            #expect(!runs(method), "\(method)")
        }
    }

    @Test func uploadAnswersMetaAndDeduplicated() async throws {
        let fixture = try Fixture()
        let bytes = text("{\"vex\":true}")
        let first = try await fixture.upload(bytes)
        #expect(keys(first) == metaKeys + ["deduplicated"])
        #expect(isLowercaseUUID(first["artifactId"]))
        #expect(first["tenantId"] == "acme")
        #expect(first["providerId"] == "excititor:oci-openvex")
        #expect(first["mimeType"] == "application/json")
        #expect(first["sizeBytes"] == .number(JSONNumber(bytes.count)))
        #expect(first["sha256"] == .string(sha256Hex(bytes)))
        #expect(isTime(first["stagedAt"]))
        #expect(first["stagedBy"] == "uid:4100001")
        #expect(first["deduplicated"] == false)

        let second = try await fixture.upload(bytes)
        #expect(second["deduplicated"] == true)
        #expect(second["artifactId"] != first["artifactId"])
        #expect(second["sha256"] == first["sha256"])

        // Deduplication is per tenant.
        #expect(try await fixture.upload(bytes, tenant: "beta")["deduplicated"] == false)
    }

    @Test func uploadChecksTheExpectedDigestInEitherSpelling() async throws {
        let fixture = try Fixture()
        let bytes = text("payload")
        let params: (String) -> JSONValue = { digest in
            [
                "tenant": "acme", "providerId": "p", "mimeType": "text/plain", "data": .string(Base64.encode(bytes)),
                "sha256": .string(digest),
            ]
        }
        _ = try await fixture.result("artifacts.upload", params(sha256Hex(bytes)))
        _ = try await fixture.result("artifacts.upload", params("sha256:" + sha256Hex(bytes).uppercased()))
        _ = try await fixture.result("artifacts.upload", params("SHA256:" + sha256Hex(bytes)))
        let mismatch = try await fixture.error("artifacts.upload", params(randomDigest))
        #expect(mismatch.code == .digestMismatch)
        #expect(
            mismatch.data
                == JSONObject([
                    ("expected", .string(randomDigest)), ("actual", .string(sha256Hex(bytes))), ("algorithm", "sha256"),
                ]))
    }

    @Test func zeroByteArtifact() async throws {
        let fixture = try Fixture()
        let meta = try await fixture.upload([])
        #expect(meta["sizeBytes"] == 0)
        #expect(meta["sha256"] == .string(emptyDigest))
        let read = try await fixture.result("artifacts.read", ["tenant": "acme", "artifactId": meta["artifactId"]!])
        #expect(read == ["data": "", "offset": 0, "length": 0, "eof": true, "sha256": .string(emptyDigest)])
    }

    @Test func uploadWithAnAttachment() async throws {
        let fixture = try Fixture()
        let bytes = (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let params: JSONValue = [
            "tenant": "acme", "providerId": "p", "mimeType": "application/octet-stream", "dataLength": 3000,
        ]
        let meta = try await fixture.result("artifacts.upload", params, attachment: bytes)
        #expect(meta["sizeBytes"] == 3000)
        #expect(meta["sha256"] == .string(sha256Hex(bytes)))

        var both = params.objectValue!
        both["data"] = .string(Base64.encode(bytes))
        expectInvalidParams(try await fixture.error("artifacts.upload", .object(both), attachment: bytes), "data")
    }

    @Test func inlineUploadIsBoundByTheRequestLimitNotTheChunkLimit() async throws {
        let fixture = try Fixture()
        let bytes = [UInt8](repeating: 9, count: 5000)
        #expect(try await fixture.upload(bytes)["sizeBytes"] == 5000)

        let overArtifact = try await fixture.error(
            "artifacts.upload",
            [
                "tenant": "acme", "providerId": "p", "mimeType": "x/y",
                "data": .string(Base64.encode([UInt8](repeating: 1, count: 8193))),
            ])
        #expect(overArtifact.code == .tooLarge)
        #expect(overArtifact.data == JSONObject([("limit", 8192)]))

        let overRequest = try await fixture.error(
            "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "dataLength": 16385],
            attachment: [UInt8](repeating: 1, count: 16385))
        #expect(overRequest.code == .tooLarge)
        #expect(overRequest.data == JSONObject([("limit", 16384)]))
    }

    // MARK: Resumable uploads

    @Test func uploadSessionHappyPath() async throws {
        let fixture = try Fixture()
        let bytes = (0..<1500).map { UInt8(truncatingIfNeeded: $0) }
        let begun = try await fixture.result(
            "uploads.begin",
            [
                "tenant": "acme", "providerId": "p", "mimeType": "application/octet-stream", "sizeBytes": 1500,
                "sha256": .string(sha256Hex(bytes)),
            ])
        #expect(keys(begun) == ["uploadId", "offset"])
        #expect(begun["offset"] == 0)
        let uploadId = try #require(begun["uploadId"])
        #expect(isLowercaseUUID(uploadId))

        let first = try await fixture.result(
            "uploads.append",
            ["uploadId": uploadId, "offset": 0, "data": .string(Base64.encode(Array(bytes[..<1000])))])
        #expect(first == ["uploadId": uploadId, "offset": 1000])

        let status = try await fixture.result("uploads.status", ["uploadId": uploadId])
        #expect(keys(status) == ["uploadId", "offset", "sizeBytes", "startedAt", "updatedAt"])
        #expect(status["uploadId"] == uploadId)
        #expect(status["offset"] == 1000)
        #expect(status["sizeBytes"] == 1500)
        #expect(isTime(status["startedAt"]) && isTime(status["updatedAt"]))

        let second = try await fixture.result(
            "uploads.append", ["uploadId": uploadId, "offset": 1000, "dataLength": 500],
            attachment: Array(bytes[1000...]))
        #expect(second == ["uploadId": uploadId, "offset": 1500])

        let committed = try await fixture.result("uploads.commit", ["uploadId": uploadId])
        #expect(keys(committed) == metaKeys + ["deduplicated"])
        #expect(committed["sizeBytes"] == 1500)
        #expect(committed["sha256"] == .string(sha256Hex(bytes)))
        #expect(committed["deduplicated"] == false)

        let gone = try await fixture.error("uploads.status", ["uploadId": uploadId])
        #expect(gone.code == .notFound)
        #expect(gone.data == JSONObject([("what", "upload")]))
    }

    @Test func uploadStatusWithoutDeclaredSizeHasNoSizeBytes() async throws {
        let fixture = try Fixture()
        let begun = try await fixture.result("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        let status = try await fixture.result("uploads.status", ["uploadId": begun["uploadId"]!])
        #expect(keys(status) == ["uploadId", "offset", "startedAt", "updatedAt"])
    }

    @Test func uppercaseUploadIdNamesTheSameUpload() async throws {
        let fixture = try Fixture()
        let begun = try await fixture.result("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        let upper = try #require(begun["uploadId"]?.stringValue?.uppercased())
        let status = try await fixture.result("uploads.status", ["uploadId": .string(upper)])
        #expect(status["uploadId"] == begun["uploadId"])
    }

    @Test func abortedUploadIsNotFound() async throws {
        let fixture = try Fixture()
        let begun = try await fixture.result("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        let uploadId = try #require(begun["uploadId"])
        #expect(
            try await fixture.result("uploads.abort", ["uploadId": uploadId]) == [
                "uploadId": uploadId, "aborted": true,
            ])
        for method in ["uploads.status", "uploads.commit", "uploads.abort"] {
            let error = try await fixture.error(method, ["uploadId": uploadId])
            #expect(error.code == .notFound, "\(method)")
        }
        let append = try await fixture.error("uploads.append", ["uploadId": uploadId, "offset": 0, "data": "QQ=="])
        #expect(append.code == .notFound)
    }

    @Test func failedCommitKeepsTheUploadOpen() async throws {
        let fixture = try Fixture()
        let begun = try await fixture.result(
            "uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "sizeBytes": 6])
        let uploadId = try #require(begun["uploadId"])
        _ = try await fixture.result("uploads.append", ["uploadId": uploadId, "offset": 0, "data": "YWJj"])

        let short = try await fixture.error("uploads.commit", ["uploadId": uploadId])
        #expect(short.code == .sizeMismatch)
        #expect(short.data == JSONObject([("expected", 6), ("actual", 3)]))
        #expect(try await fixture.result("uploads.status", ["uploadId": uploadId])["offset"] == 3)

        _ = try await fixture.result("uploads.append", ["uploadId": uploadId, "offset": 3, "data": "ZGVm"])
        let wrongDigest = try await fixture.error(
            "uploads.commit", ["uploadId": uploadId, "sha256": .string(randomDigest)])
        #expect(wrongDigest.code == .digestMismatch)
        #expect(
            wrongDigest.data
                == JSONObject([
                    ("expected", .string(randomDigest)), ("actual", .string(sha256Hex(text("abcdef")))),
                    ("algorithm", "sha256"),
                ]))

        let committed = try await fixture.result("uploads.commit", ["uploadId": uploadId])
        #expect(committed["sha256"] == .string(sha256Hex(text("abcdef"))))
    }

    @Test func appendAtTheWrongOffsetNamesTheCurrentOne() async throws {
        let fixture = try Fixture()
        let begun = try await fixture.result("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        let uploadId = try #require(begun["uploadId"])
        _ = try await fixture.result("uploads.append", ["uploadId": uploadId, "offset": 0, "data": "YWJj"])
        for offset: JSONValue in [0, 2, 4, 1000] {
            let error = try await fixture.error(
                "uploads.append", ["uploadId": uploadId, "offset": offset, "data": "YWJj"])
            #expect(error.code == .offsetMismatch)
            #expect(error.data == JSONObject([("offset", 3)]))
        }
    }

    @Test func declaredSizeOverTheArtifactLimitFailsAtBegin() async throws {
        let fixture = try Fixture()
        let error = try await fixture.error(
            "uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "sizeBytes": 8193])
        #expect(error.code == .tooLarge)
        #expect(error.data == JSONObject([("limit", 8192)]))
        _ = try await fixture.result(
            "uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "sizeBytes": 8192])
    }

    @Test func appendOverTheChunkLimitIsTooLarge() async throws {
        let fixture = try Fixture()
        let begun = try await fixture.result("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        let uploadId = try #require(begun["uploadId"])
        let chunk = [UInt8](repeating: 3, count: 1025)
        let inline = try await fixture.error(
            "uploads.append", ["uploadId": uploadId, "offset": 0, "data": .string(Base64.encode(chunk))])
        #expect(inline.code == .tooLarge)
        #expect(inline.data == JSONObject([("limit", 1024)]))
        let attached = try await fixture.error(
            "uploads.append", ["uploadId": uploadId, "offset": 0, "dataLength": 1025], attachment: chunk)
        #expect(attached.code == .tooLarge)
        #expect(attached.data == JSONObject([("limit", 1024)]))
        #expect(try await fixture.result("uploads.status", ["uploadId": uploadId])["offset"] == 0)
        let exact = try await fixture.result(
            "uploads.append", ["uploadId": uploadId, "offset": 0, "dataLength": 1024],
            attachment: Array(chunk.dropLast()))
        #expect(exact["offset"] == 1024)
    }

    @Test func uploadsOfAnotherPeerAreNotFound() async throws {
        let fixture = try Fixture()
        let begun = try await fixture.result("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        let uploadId = try #require(begun["uploadId"])
        let calls: [(String, JSONValue, JSONValue)] = [
            ("uploads.status", ["uploadId": uploadId], ["uploadId": .string(randomId)]),
            (
                "uploads.append", ["uploadId": uploadId, "offset": 0, "data": "QQ=="],
                ["uploadId": .string(randomId), "offset": 0, "data": "QQ=="]
            ),
            ("uploads.commit", ["uploadId": uploadId], ["uploadId": .string(randomId)]),
            ("uploads.abort", ["uploadId": uploadId], ["uploadId": .string(randomId)]),
        ]
        for peer in [otherAdmin, reader, stranger] {
            for (method, theirs, random) in calls {
                let error = try await fixture.error(method, theirs, as: peer)
                #expect(error.code == .notFound, "\(method) as \(peer.uid)")
                #expect(error.data == JSONObject([("what", "upload")]))
                #expect(error == (try await fixture.error(method, random, as: peer)), "\(method) as \(peer.uid)")
            }
        }
        // Still the owner's, untouched.
        #expect(try await fixture.result("uploads.status", ["uploadId": uploadId])["offset"] == 0)
    }

    // MARK: Reading

    @Test func listPagesThroughTheTenantsArtifacts() async throws {
        let fixture = try Fixture()
        var ids: [JSONValue] = []
        for index in 0..<3 {
            ids.append(try await fixture.upload([UInt8(index)], providerId: index == 1 ? "other" : "p")["artifactId"]!)
        }
        _ = try await fixture.upload([9], tenant: "beta")

        let all = try await fixture.result("artifacts.list", ["tenant": "acme"])
        #expect(keys(all) == ["artifacts", "nextCursor"])
        #expect(all["nextCursor"] == .null)
        let artifacts = try #require(all["artifacts"]?.arrayValue)
        #expect(artifacts.map { $0["artifactId"] } == ids)
        #expect(artifacts.allSatisfy { keys($0) == metaKeys })

        let first = try await fixture.result("artifacts.list", ["tenant": "acme", "limit": 2])
        #expect(first["artifacts"]?.arrayValue?.map { $0["artifactId"] } == Array(ids[..<2]))
        let cursor = try #require(first["nextCursor"]?.stringValue)
        let rest = try await fixture.result(
            "artifacts.list", ["tenant": "acme", "limit": 2, "cursor": .string(cursor)])
        #expect(rest["artifacts"]?.arrayValue?.map { $0["artifactId"] } == [ids[2]])
        #expect(rest["nextCursor"] == .null)

        let filtered = try await fixture.result("artifacts.list", ["tenant": "acme", "providerId": "other"])
        #expect(filtered["artifacts"]?.arrayValue?.map { $0["artifactId"] } == [ids[1]])
        let explicitNull = try await fixture.result("artifacts.list", ["tenant": "acme", "providerId": nil])
        #expect(explicitNull["artifacts"]?.arrayValue?.count == 3)

        let empty = try await fixture.result("artifacts.list", ["tenant": "never-used"])
        #expect(empty == ["artifacts": [], "nextCursor": nil])
    }

    @Test func metaAcceptsAnUppercaseId() async throws {
        let fixture = try Fixture()
        let staged = try await fixture.upload(text("x"))
        let id = try #require(staged["artifactId"]?.stringValue)
        var expected = try #require(staged.objectValue)
        expected["deduplicated"] = nil
        #expect(
            try await fixture.result("artifacts.meta", ["tenant": "acme", "artifactId": .string(id)])
                == .object(expected))
        #expect(
            try await fixture.result("artifacts.meta", ["tenant": "acme", "artifactId": .string(id.uppercased())])
                == .object(expected))
    }

    @Test func readReturnsRangesWithTheWholeDigest() async throws {
        let fixture = try Fixture()
        let bytes = text("0123456789")
        let id = try #require(try await fixture.upload(bytes)["artifactId"])
        let digest = JSONValue.string(sha256Hex(bytes))

        let whole = try await fixture.result("artifacts.read", ["tenant": "acme", "artifactId": id])
        #expect(keys(whole) == ["data", "offset", "length", "eof", "sha256"])
        #expect(
            whole == ["data": .string(Base64.encode(bytes)), "offset": 0, "length": 10, "eof": true, "sha256": digest])

        let middle = try await fixture.result(
            "artifacts.read", ["tenant": "acme", "artifactId": id, "offset": 2, "length": 3])
        #expect(
            middle == [
                "data": .string(Base64.encode(text("234"))), "offset": 2, "length": 3, "eof": false, "sha256": digest,
            ])

        let clamped = try await fixture.result(
            "artifacts.read", ["tenant": "acme", "artifactId": id, "offset": 8, "length": 100])
        #expect(
            clamped == [
                "data": .string(Base64.encode(text("89"))), "offset": 8, "length": 2, "eof": true, "sha256": digest,
            ])

        let atEnd = try await fixture.result("artifacts.read", ["tenant": "acme", "artifactId": id, "offset": 10])
        #expect(atEnd == ["data": "", "offset": 10, "length": 0, "eof": true, "sha256": digest])

        let pastEnd = try await fixture.result("artifacts.read", ["tenant": "acme", "artifactId": id, "offset": 50])
        #expect(pastEnd["data"] == "")
        #expect(pastEnd["eof"] == true)
        #expect(pastEnd["offset"] == 10)
    }

    @Test func readLengthDefaultsToTheChunkLimit() async throws {
        let fixture = try Fixture()
        let bytes = (0..<2500).map { UInt8(truncatingIfNeeded: $0) }
        let id = try #require(try await fixture.upload(bytes)["artifactId"])
        let first = try await fixture.result("artifacts.read", ["tenant": "acme", "artifactId": id])
        #expect(first["length"] == 1024)
        #expect(first["eof"] == false)
        let exact = try await fixture.result("artifacts.read", ["tenant": "acme", "artifactId": id, "length": 1024])
        #expect(exact["length"] == 1024)

        let tooLong = try await fixture.error("artifacts.read", ["tenant": "acme", "artifactId": id, "length": 1025])
        #expect(tooLong.code == .tooLarge)
        #expect(tooLong.data == JSONObject([("limit", 1024)]))
    }

    @Test func binaryReadReturnsTheBytesBesideTheResult() async throws {
        let fixture = try Fixture()
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 * 13) }
        let id = try #require(try await fixture.upload(bytes)["artifactId"])
        let reply = await fixture.call(
            "artifacts.read", ["tenant": "acme", "artifactId": id, "offset": 100, "binary": true])
        guard case .binary(let result, let attached) = reply else {
            Issue.record("expected a binary reply, got \(reply)")
            return
        }
        #expect(attached == Array(bytes[100...]))
        #expect(result["data"] == nil)
        #expect(result["dataLength"] == 200)
        #expect(result["offset"] == 100)
        #expect(result["length"] == 200)
        #expect(result["eof"] == true)
        #expect(result["sha256"] == .string(sha256Hex(bytes)))

        let plain = await fixture.call("artifacts.read", ["tenant": "acme", "artifactId": id, "binary": false])
        guard case .result(let json) = plain else {
            Issue.record("binary:false should answer inline")
            return
        }
        #expect(json["data"] != nil)
        #expect(json["dataLength"] == nil)
    }

    @Test func deleteFreesTheBlobWithItsLastArtifact() async throws {
        let fixture = try Fixture()
        let first = try #require(try await fixture.upload(text("same"))["artifactId"])
        let second = try #require(try await fixture.upload(text("same"))["artifactId"])
        #expect(
            try await fixture.result("artifacts.delete", ["tenant": "acme", "artifactId": first])
                == ["artifactId": first, "deleted": true, "blobFreed": false])
        #expect(
            try await fixture.result("artifacts.delete", ["tenant": "acme", "artifactId": second])
                == ["artifactId": second, "deleted": true, "blobFreed": true])
        let gone = try await fixture.error("artifacts.meta", ["tenant": "acme", "artifactId": first])
        #expect(gone.code == .notFound)
        #expect(gone.data == JSONObject([("what", "artifact")]))
        #expect(try await fixture.error("artifacts.delete", ["tenant": "acme", "artifactId": first]).code == .notFound)
    }

    @Test func blobStatListsTheTenantsArtifacts() async throws {
        let fixture = try Fixture()
        let bytes = text("blob")
        let first = try #require(try await fixture.upload(bytes)["artifactId"])
        let second = try #require(try await fixture.upload(bytes)["artifactId"])
        _ = try await fixture.upload(bytes, tenant: "beta")
        let stat = try await fixture.result(
            "blobs.stat", ["tenant": "acme", "sha256": .string("sha256:" + sha256Hex(bytes))])
        #expect(keys(stat) == ["sha256", "sizeBytes", "artifactIds", "storedAt", "references"])
        #expect(stat["sha256"] == .string(sha256Hex(bytes)))
        #expect(stat["sizeBytes"] == 4)
        #expect(
            Set(stat["artifactIds"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                == Set([first, second].compactMap(\.stringValue)))
        #expect(isTime(stat["storedAt"]))
    }

    @Test func verifyChecksTheTenantsBlobs() async throws {
        let fixture = try Fixture()
        _ = try await fixture.upload(text("one"))
        _ = try await fixture.upload(text("three"))
        _ = try await fixture.upload(text("elsewhere"), tenant: "beta")
        let all = try await fixture.result("blobs.verify", ["tenant": "acme"])
        #expect(all == ["checkedBlobs": 2, "checkedBytes": 8, "corrupt": [], "nextCursor": nil])

        let first = try await fixture.result("blobs.verify", ["tenant": "acme", "maxBytes": 1])
        #expect(first["checkedBlobs"] == 1)
        let cursor = try #require(first["nextCursor"]?.stringValue)
        let second = try await fixture.result(
            "blobs.verify", ["tenant": "acme", "maxBytes": 1, "cursor": .string(cursor)])
        #expect(second["checkedBlobs"] == 1)
        #expect(second["nextCursor"] == .null)
    }

    @Test func aVerifyBudgetOverTheServersCeilingIsCutToIt() async throws {
        var limits = testLimits
        limits.maxVerifyBytesPerCall = 10
        let fixture = try Fixture(limits: limits)
        for content in ["four", "fives", "sixsix", "7seven7"] { _ = try await fixture.upload(text(content)) }
        var checked = 0
        var pages = 0
        var cursor: JSONValue = nil
        repeat {
            let page = try await fixture.result(
                "blobs.verify", ["tenant": "acme", "maxBytes": 1_099_511_627_776, "cursor": cursor])
            guard case .number(let bytes)? = page["checkedBytes"], let blobs = page["checkedBlobs"] else {
                Issue.record("not a verification page: \(page)")
                return
            }
            // At most the ceiling, or the one blob every call checks.
            #expect((bytes.int64 ?? .max) <= 10 || blobs == 1, "\(page)")
            if case .number(let count) = blobs { checked += Int(count.int64 ?? 0) }
            cursor = page["nextCursor"] ?? nil
            pages += 1
        } while cursor != nil && pages < 10
        #expect(checked == 4)
        #expect(pages >= 3, "a budget of 1 TiB was not cut to the ceiling")
    }

    // MARK: Tenants and events

    @Test func usageOfAnUnusedTenantIsZero() async throws {
        let fixture = try Fixture()
        #expect(
            try await fixture.result("tenants.usage", ["tenant": "nobody-yet"])
                == [
                    "tenant": "nobody-yet", "artifactCount": 0, "logicalBytes": 0, "storedBytes": 0,
                    "quota": ["maxBytes": nil, "maxArtifacts": nil],
                ])
    }

    @Test func usageCountsLogicalAndStoredBytes() async throws {
        let fixture = try Fixture()
        _ = try await fixture.upload(text("12345"))
        _ = try await fixture.upload(text("12345"))
        _ = try await fixture.upload(text("abc"))
        let usage = try await fixture.result("tenants.usage", ["tenant": "acme"])
        #expect(usage["artifactCount"] == 3)
        #expect(usage["logicalBytes"] == 13)
        #expect(usage["storedBytes"] == 8)
    }

    @Test func setQuotaChangesOnlyTheKeysGiven() async throws {
        let fixture = try Fixture()
        let set = try await fixture.result("tenants.setQuota", ["tenant": "acme", "maxBytes": 10])
        #expect(keys(set) == ["tenant", "artifactCount", "logicalBytes", "storedBytes", "quota"])
        #expect(set["quota"] == ["maxBytes": 10, "maxArtifacts": nil])
        let both = try await fixture.result("tenants.setQuota", ["tenant": "acme", "maxArtifacts": 2])
        #expect(both["quota"] == ["maxBytes": 10, "maxArtifacts": 2])
        let removed = try await fixture.result("tenants.setQuota", ["tenant": "acme", "maxBytes": nil])
        #expect(removed["quota"] == ["maxBytes": nil, "maxArtifacts": 2])
        #expect(
            try await fixture.result("tenants.usage", ["tenant": "acme"])["quota"] == [
                "maxBytes": nil, "maxArtifacts": 2,
            ])
    }

    @Test func writesOverTheQuotaAreRefused() async throws {
        let fixture = try Fixture()
        _ = try await fixture.result("tenants.setQuota", ["tenant": "acme", "maxBytes": 10])
        _ = try await fixture.upload(text("123456"))
        _ = try await fixture.upload(text("abcd"))  // Reaching the limit exactly is allowed.
        let bytes = try await fixture.error(
            "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": "QQ=="])
        #expect(bytes.code == .quotaExceeded)
        #expect(bytes.data == JSONObject([("limit", 10), ("used", 10), ("requested", 1), ("kind", "bytes")]))

        _ = try await fixture.result("tenants.setQuota", ["tenant": "acme", "maxBytes": nil, "maxArtifacts": 2])
        let count = try await fixture.error(
            "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": "QQ=="])
        #expect(count.code == .quotaExceeded)
        #expect(count.data == JSONObject([("limit", 2), ("used", 2), ("requested", 1), ("kind", "artifacts")]))

        let begin = try await fixture.error("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        #expect(begin.code == .quotaExceeded)
    }

    @Test func eventsRecordWhatHappened() async throws {
        let fixture = try Fixture()
        let staged = try await fixture.upload(text("e"))
        _ = try await fixture.result("tenants.setQuota", ["tenant": "acme", "maxArtifacts": 5])
        _ = try await fixture.result("artifacts.delete", ["tenant": "acme", "artifactId": staged["artifactId"]!])
        _ = try await fixture.upload(text("other tenant"), tenant: "beta")

        let page = try await fixture.result("events.list", ["tenant": "acme"])
        #expect(keys(page) == ["events", "nextCursor"])
        #expect(page["nextCursor"] == .null)
        let events = try #require(page["events"]?.arrayValue)
        #expect(
            events.compactMap { $0["action"]?.stringValue } == ["artifact.created", "quota.set", "artifact.deleted"])
        #expect(events.allSatisfy { $0["actor"] == staged["stagedBy"] && isTime($0["at"]) })
        let seqs = events.compactMap { event -> Int64? in
            if case .number(let number)? = event["seq"] { return number.int64 }
            return nil
        }
        #expect(seqs.count == 3 && seqs == seqs.sorted() && Set(seqs).count == 3)
        #expect(events[0]["artifactId"] == staged["artifactId"])
        #expect(events[0]["sha256"] == staged["sha256"])
        #expect(events[0]["providerId"] == staged["providerId"])

        let first = try await fixture.result("events.list", ["tenant": "acme", "limit": 1])
        #expect(first["events"]?.arrayValue?.count == 1)
        let cursor = try #require(first["nextCursor"]?.stringValue)
        let rest = try await fixture.result("events.list", ["tenant": "acme", "cursor": .string(cursor)])
        #expect(
            rest["events"]?.arrayValue?.compactMap { $0["action"]?.stringValue } == ["quota.set", "artifact.deleted"])
    }

    // MARK: Access

    /// A tenant method and the scope it needs.
    static let tenantMethods: [(String, Scope)] = [
        ("artifacts.upload", .admin), ("uploads.begin", .admin), ("artifacts.list", .read), ("artifacts.meta", .read),
        ("artifacts.read", .read), ("artifacts.delete", .admin), ("blobs.stat", .read), ("blobs.verify", .admin),
        ("tenants.usage", .read), ("tenants.setQuota", .admin), ("events.list", .read),
    ]

    @Test func peerWithoutAGrantIsForbiddenWithTenantAndScope() async throws {
        let fixture = try Fixture()
        _ = try await fixture.upload(text("exists"))
        for tenant in ["acme", "does-not-exist"] {
            for (method, scope) in Self.tenantMethods {
                let error = try await fixture.error(method, ["tenant": .string(tenant)], as: stranger)
                #expect(error.code == .forbidden, "\(method) on \(tenant)")
                #expect(error.code.number == -32000)
                #expect(
                    error.data == JSONObject([("tenant", .string(tenant)), ("scope", .string(scope.rawValue))]),
                    "\(method) on \(tenant)")
            }
        }
    }

    @Test func forbiddenIsTheSameWhetherTheTenantExistsOrNot() async throws {
        let fixture = try Fixture()
        _ = try await fixture.upload(text("exists"), tenant: "used")
        for (method, _) in Self.tenantMethods {
            let used = try await fixture.error(method, ["tenant": "used"], as: stranger)
            let unused = try await fixture.error(method, ["tenant": "unused"], as: stranger)
            #expect(used.code == unused.code)
            #expect(used.data["scope"] == unused.data["scope"])
            #expect(
                used.message.replacingOccurrences(of: "used", with: "X")
                    == unused.message.replacingOccurrences(of: "unused", with: "X"))
        }
    }

    @Test func readGrantIsForbiddenToWriteAndToOtherTenants() async throws {
        let fixture = try Fixture()
        let staged = try await fixture.upload(text("r"))
        for (method, scope) in Self.tenantMethods {
            let other = try await fixture.error(method, ["tenant": "beta"], as: reader)
            #expect(other.code == .forbidden)
            #expect(other.data == JSONObject([("tenant", "beta"), ("scope", .string(scope.rawValue))]))
            guard scope == .admin else { continue }
            let write = try await fixture.error(method, ["tenant": "acme"], as: reader)
            #expect(write.code == .forbidden, "\(method)")
            #expect(write.data == JSONObject([("tenant", "acme"), ("scope", "admin")]), "\(method)")
        }
        // What a read grant does allow.
        let id = try #require(staged["artifactId"])
        _ = try await fixture.result("artifacts.list", ["tenant": "acme"], as: reader)
        _ = try await fixture.result("artifacts.meta", ["tenant": "acme", "artifactId": id], as: reader)
        _ = try await fixture.result("artifacts.read", ["tenant": "acme", "artifactId": id], as: reader)
        _ = try await fixture.result("blobs.stat", ["tenant": "acme", "sha256": staged["sha256"]!], as: reader)
        _ = try await fixture.result("tenants.usage", ["tenant": "acme"], as: reader)
        _ = try await fixture.result("events.list", ["tenant": "acme"], as: reader)
        _ = try await fixture.result("system.hello", as: reader)
    }

    @Test func defaultPolicyGrantsTheServerUser() async throws {
        let fixture = try Fixture(policy: .defaultPolicy(serverUID: owner.uid))
        _ = try await fixture.upload(text("d"))
        let error = try await fixture.error("tenants.usage", ["tenant": "acme"], as: otherAdmin)
        #expect(error.code == .forbidden)
        #expect(error.data == JSONObject([("tenant", "acme"), ("scope", "read")]))
    }

    // MARK: Tenant isolation

    @Test func anotherTenantsArtifactIsAnsweredLikeOneThatDoesNotExist() async throws {
        let fixture = try Fixture()
        let staged = try await fixture.upload(text("secret"))
        let id = try #require(staged["artifactId"]?.stringValue)
        _ = try await fixture.upload(text("mine"), tenant: "beta")
        for method in ["artifacts.meta", "artifacts.read", "artifacts.delete"] {
            let theirs = try await fixture.error(method, ["tenant": "beta", "artifactId": .string(id)])
            let upper = try await fixture.error(method, ["tenant": "beta", "artifactId": .string(id.uppercased())])
            let random = try await fixture.error(method, ["tenant": "beta", "artifactId": .string(randomId)])
            #expect(theirs.code == .notFound, "\(method)")
            #expect(theirs == random, "\(method)")
            #expect(upper == random, "\(method)")
            #expect(theirs.json == random.json)
        }
        let theirBlob = try await fixture.error("blobs.stat", ["tenant": "beta", "sha256": staged["sha256"]!])
        let randomBlob = try await fixture.error("blobs.stat", ["tenant": "beta", "sha256": .string(randomDigest)])
        #expect(theirBlob.code == .notFound)
        #expect(theirBlob == randomBlob)
        // Still there for its own tenant.
        _ = try await fixture.result("artifacts.meta", ["tenant": "acme", "artifactId": .string(id)])
    }

    // MARK: Params

    static let invalidParams: [(String, JSONValue, String)] = [
        ("artifacts.list", [:], "tenant"),
        ("artifacts.list", ["tenant": nil], "tenant"),
        ("artifacts.list", ["tenant": 5], "tenant"),
        ("artifacts.list", ["tenant": "Acme"], "tenant"),
        ("artifacts.list", ["tenant": "-acme"], "tenant"),
        ("artifacts.list", ["tenant": "ac me"], "tenant"),
        ("artifacts.list", ["tenant": ""], "tenant"),
        ("artifacts.list", ["tenant": .string(String(repeating: "a", count: 64))], "tenant"),
        ("artifacts.list", ["tenant": "acme:x"], "tenant"),
        ("artifacts.list", ["tenant": "acme", "providerId": "Bad"], "providerId"),
        ("artifacts.list", ["tenant": "acme", "providerId": 1], "providerId"),
        ("artifacts.list", ["tenant": "acme", "limit": 0], "limit"),
        ("artifacts.list", ["tenant": "acme", "limit": 1001], "limit"),
        ("artifacts.list", ["tenant": "acme", "limit": true], "limit"),
        ("artifacts.list", ["tenant": "acme", "limit": .number(JSONNumber(10.5))], "limit"),
        ("artifacts.list", ["tenant": "acme", "cursor": 5], "cursor"),
        ("artifacts.list", ["tenant": "acme", "cursor": "garbage"], "cursor"),
        ("artifacts.upload", ["tenant": "acme", "mimeType": "x/y", "data": ""], "providerId"),
        (
            "artifacts.upload", ["tenant": "acme", "providerId": "Upper:Case", "mimeType": "x/y", "data": ""],
            "providerId"
        ),
        ("artifacts.upload", ["tenant": "acme", "providerId": ":p", "mimeType": "x/y", "data": ""], "providerId"),
        ("artifacts.upload", ["tenant": "acme", "providerId": "p", "data": ""], "mimeType"),
        ("artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": 3, "data": ""], "mimeType"),
        ("artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"], "data"),
        ("artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": "QQ"], "data"),
        ("artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": "QR=="], "data"),
        ("artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": [1]], "data"),
        (
            "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": "", "sha256": "abc"],
            "sha256"
        ),
        (
            "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": "", "sha256": 1],
            "sha256"
        ),
        ("artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "dataLength": 3], "dataLength"),
        ("artifacts.meta", ["tenant": "acme"], "artifactId"),
        ("artifacts.meta", ["tenant": "acme", "artifactId": "not-a-uuid"], "artifactId"),
        ("artifacts.meta", ["tenant": "acme", "artifactId": 7], "artifactId"),
        ("artifacts.meta", ["tenant": "acme", "artifactId": "0b7c3c2e4a8f4d559d370d2f3c6b1e9a"], "artifactId"),
        ("artifacts.meta", ["tenant": "acme", "artifactId": "{0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a}"], "artifactId"),
        ("artifacts.meta", ["tenant": "acme", "artifactId": "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9"], "artifactId"),
        ("artifacts.read", ["tenant": "acme", "artifactId": .string(randomId), "offset": -1], "offset"),
        (
            "artifacts.read", ["tenant": "acme", "artifactId": .string(randomId), "offset": .number(JSONNumber(1.5))],
            "offset"
        ),
        ("artifacts.read", ["tenant": "acme", "artifactId": .string(randomId), "offset": "0"], "offset"),
        ("artifacts.read", ["tenant": "acme", "artifactId": .string(randomId), "length": true], "length"),
        ("artifacts.read", ["tenant": "acme", "artifactId": .string(randomId), "length": -5], "length"),
        ("artifacts.read", ["tenant": "acme", "artifactId": .string(randomId), "binary": "yes"], "binary"),
        ("artifacts.read", ["tenant": "acme", "artifactId": .string(randomId), "binary": 1], "binary"),
        ("artifacts.delete", ["tenant": "acme", "artifactId": "zzz"], "artifactId"),
        ("blobs.stat", ["tenant": "acme"], "sha256"),
        ("blobs.stat", ["tenant": "acme", "sha256": "xyz"], "sha256"),
        ("blobs.stat", ["tenant": "acme", "sha256": .string(String(repeating: "a", count: 63))], "sha256"),
        ("blobs.stat", ["tenant": "acme", "sha256": .string(String(repeating: "g", count: 64))], "sha256"),
        ("blobs.stat", ["tenant": "acme", "sha256": .string("md5:" + String(repeating: "a", count: 64))], "sha256"),
        ("blobs.verify", ["tenant": "acme", "maxBytes": "1"], "maxBytes"),
        ("blobs.verify", ["tenant": "acme", "maxBytes": -1], "maxBytes"),
        ("blobs.verify", ["tenant": "acme", "cursor": "nope"], "cursor"),
        ("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "sizeBytes": -1], "sizeBytes"),
        ("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "sizeBytes": true], "sizeBytes"),
        (
            "uploads.begin",
            [
                "tenant": "acme", "providerId": "p", "mimeType": "x/y",
                "sizeBytes": 9_223_372_036_854_775_807 as JSONValue, "sha256": "x",
            ], "sha256"
        ),
        ("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": ""], "mimeType"),
        ("uploads.append", ["uploadId": "x", "offset": 0, "data": ""], "uploadId"),
        ("uploads.append", ["offset": 0, "data": ""], "uploadId"),
        ("uploads.append", ["uploadId": .string(randomId), "data": ""], "offset"),
        ("uploads.append", ["uploadId": .string(randomId), "offset": -1, "data": ""], "offset"),
        ("uploads.append", ["uploadId": .string(randomId), "offset": .number(JSONNumber(0.0)), "data": ""], "offset"),
        ("uploads.status", ["uploadId": 1], "uploadId"),
        ("uploads.commit", ["uploadId": .string(randomId), "sha256": "short"], "sha256"),
        ("uploads.abort", ["uploadId": [.string(randomId)]], "uploadId"),
        ("tenants.setQuota", ["tenant": "acme", "maxBytes": true], "maxBytes"),
        ("tenants.setQuota", ["tenant": "acme", "maxBytes": .number(JSONNumber(1.5))], "maxBytes"),
        ("tenants.setQuota", ["tenant": "acme", "maxArtifacts": -1], "maxArtifacts"),
        ("tenants.setQuota", ["tenant": "acme", "maxArtifacts": "3"], "maxArtifacts"),
        ("events.list", ["tenant": "acme", "limit": 0], "limit"),
        ("events.list", ["tenant": "acme", "cursor": 5], "cursor"),
        ("events.list", ["tenant": "acme", "cursor": "c1.zz"], "cursor"),
    ]

    @Test func invalidParamsNameTheParam() async throws {
        let fixture = try Fixture()
        for (method, params, field) in Self.invalidParams {
            let error = try await fixture.error(method, params)
            #expect(error.code == .invalidParams, "\(method) \(params): \(error)")
            #expect(error.code.number == -32602)
            #expect(error.data["field"] == .string(field), "\(method) \(params): \(error) \(error.data)")
        }
    }

    @Test func integersOver2To63AreInvalidParams() async throws {
        let fixture = try Fixture()
        guard
            case .object(let params) = try JSONParser.parse(
                Array(#"{"tenant":"acme","providerId":"p","mimeType":"x/y","sizeBytes":9223372036854775808}"#.utf8))
        else { return }
        expectInvalidParams(try await fixture.error("uploads.begin", .object(params)), "sizeBytes")
    }

    @Test func unknownParamsAreIgnored() async throws {
        let fixture = try Fixture()
        let usage = try await fixture.result("tenants.usage", ["tenant": "acme", "verbose": true, "x": [1, 2]])
        #expect(usage["tenant"] == "acme")
    }

    // MARK: Methods and attachments

    @Test(arguments: ["nope", "system.Hello", "", "artifacts", "rpc.discover"])
    func unknownMethodIsMethodNotFound(_ method: String) async throws {
        let fixture = try Fixture()
        let error = try await fixture.error(method, ["tenant": "acme"])
        #expect(error.code == .methodNotFound)
        #expect(error.code.number == -32601)
        let withAttachment = try await fixture.error(method, ["dataLength": 2], attachment: [1, 2])
        #expect(withAttachment.code == .methodNotFound)
    }

    @Test(arguments: [
        "system.hello", "system.health", "artifacts.meta", "artifacts.read", "uploads.begin", "uploads.commit",
        "tenants.usage",
    ])
    func attachmentOnAMethodThatTakesNoneIsInvalidParams(_ method: String) async throws {
        let fixture = try Fixture()
        for attachment in [[UInt8](), [1, 2, 3]] {
            let error = try await fixture.error(
                method, ["tenant": "acme", "dataLength": .number(JSONNumber(attachment.count))], attachment: attachment)
            expectInvalidParams(error, "dataLength")
        }
    }

    @Test func zeroLengthAttachmentAppendsNothing() async throws {
        let fixture = try Fixture()
        let begun = try await fixture.result("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        let uploadId = try #require(begun["uploadId"])
        let appended = try await fixture.result(
            "uploads.append", ["uploadId": uploadId, "offset": 0, "dataLength": 0], attachment: [])
        #expect(appended["offset"] == 0)
    }
}

/// The auditing additions: manifests, the event chain, imports keeping ids, blobs.verify by digest.
@Suite struct AuditDispatcherTests {
    @Test func manifestsAndTheChainNeedReadAndCheckTheirParams() async throws {
        let fixture = try Fixture()
        let meta = try await fixture.upload(text("hello"))
        let manifest = try await fixture.result("tenants.manifest", ["tenant": "acme"], as: reader)
        #expect(manifest["artifacts"]?.arrayValue?.first?["artifactId"] == meta["artifactId"])
        #expect(manifest["events"]?["seq"] == 1)
        #expect(manifest["digest"]?.stringValue?.count == 64)
        let chain = try await fixture.result("events.verify", ["tenant": "acme"], as: reader)
        #expect(chain["intact"] == true)
        #expect(chain["head"]?["sha256"] == manifest["events"]?["head"])
        let anchored = try await fixture.result(
            "events.verify", ["tenant": "acme", "anchor": ["seq": 1, "sha256": .string(randomDigest)]], as: reader)
        #expect(anchored["intact"] == false)

        #expect(try await fixture.error("tenants.manifest", ["tenant": "globex"], as: reader).code == .forbidden)
        #expect(try await fixture.error("events.verify", ["tenant": "acme"], as: stranger).code == .forbidden)
        for anchor: JSONValue in ["x", ["seq": -1], ["seq": 1, "sha256": "nope"]] {
            let error = try await fixture.error("events.verify", ["tenant": "acme", "anchor": anchor])
            #expect(error.code == .invalidParams)
            #expect(error.data["field"] == "anchor")
        }
    }

    @Test func tenantsListShowsOnlyTenantsTheCallerMayRead() async throws {
        let fixture = try Fixture()
        _ = try await fixture.upload(text("a"), tenant: "acme")
        _ = try await fixture.upload(text("g"), tenant: "globex")
        #expect(try await fixture.result("tenants.list")["tenants"] == ["acme", "globex"])
        #expect(try await fixture.result("tenants.list", as: reader)["tenants"] == ["acme"])
        #expect(try await fixture.result("tenants.list", as: stranger)["tenants"] == [])
    }

    @Test func importsKeepIdsNeedAdminAndRefuseMalformedEntries() async throws {
        let fixture = try Fixture()
        let meta = try await fixture.upload(text("held"))
        let newId = "5b1f6f0e-2f43-4c43-9d2a-0d8c1e1f7a10"
        let entry: JSONValue = [
            "artifactId": .string(newId), "sha256": meta["sha256"] ?? .null, "sizeBytes": 4,
            "providerId": "excititor:oci-openvex", "mimeType": "application/json",
        ]
        let plan = try await fixture.result(
            "artifacts.import", ["tenant": "acme", "artifacts": [entry], "dryRun": true])
        #expect(plan["artifacts"]?.arrayValue?.first?["status"] == "link")
        #expect(plan["fits"] == true)
        let done = try await fixture.result("artifacts.import", ["tenant": "acme", "artifacts": [entry]])
        #expect(done["artifacts"]?.arrayValue?.first?["status"] == "created")
        #expect(
            try await fixture.result("artifacts.meta", ["tenant": "acme", "artifactId": .string(newId)])["sha256"]
                == meta["sha256"])

        #expect(
            try await fixture.error("artifacts.import", ["tenant": "acme", "artifacts": []], as: reader).code
                == .forbidden)
        for artifacts: JSONValue in ["x", ["x"], [["artifactId": "nope"]]] {
            let error = try await fixture.error("artifacts.import", ["tenant": "acme", "artifacts": artifacts])
            #expect(error.data["field"] == "artifacts")
        }
        // An id in use, given at upload: CONFLICT naming the field.
        let taken = try await fixture.error(
            "artifacts.upload",
            [
                "tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": .string(Base64.encode(text("x"))),
                "artifactId": .string(newId),
            ])
        #expect(taken.code == .conflict)
        #expect(taken.data["field"] == "artifactId")
    }

    @Test func aBatchImportCreatesWithAttachedContentAndChecksItsParams() async throws {
        let fixture = try Fixture()
        let content = text("brought")
        let digest = JSONValue.string(SHA256Hasher.digest(content).hex)
        let newId = "0c6f1d9e-8a44-4b1c-9f0e-3e2d1c0b9a88"
        let entry: JSONValue = [
            "artifactId": .string(newId), "sha256": digest, "sizeBytes": 7, "providerId": "p",
            "mimeType": "text/plain",
        ]
        let params: JSONValue = [
            "tenant": "acme", "artifacts": [entry], "contents": [["sha256": digest, "sizeBytes": 7]], "dataLength": 7,
        ]
        let done = try await fixture.result("artifacts.importBatch", params, attachment: content)
        #expect(done["artifacts"] == [["artifactId": .string(newId), "status": "created"]])
        #expect(done["created"] == 1)
        #expect(
            try await fixture.result("artifacts.meta", ["tenant": "acme", "artifactId": .string(newId)])["sha256"]
                == digest)
        // Again, with the content given as base64: present, nothing created.
        var inline = params.objectValue!
        inline["dataLength"] = nil
        inline["data"] = .string(Base64.encode(content))
        let again = try await fixture.result("artifacts.importBatch", .object(inline))
        #expect(again["artifacts"]?.arrayValue?.first?["status"] == "present")
        #expect(again["created"] == 0)

        #expect(
            try await fixture.error("artifacts.importBatch", params, as: reader, attachment: content).code == .forbidden
        )
        for contents: JSONValue in ["x", ["x"], [["sha256": "nope", "sizeBytes": 1]], [["sha256": digest]]] {
            var bad = params.objectValue!
            bad["contents"] = contents
            expectInvalidParams(
                try await fixture.error("artifacts.importBatch", .object(bad), attachment: content), "contents")
        }
        var short = params.objectValue!
        short["dataLength"] = 6
        expectInvalidParams(
            try await fixture.error("artifacts.importBatch", .object(short), attachment: Array(content.dropLast())),
            "contents")
        var lying = content
        lying[0] ^= 1
        let mismatch = try await fixture.error("artifacts.importBatch", params, attachment: lying)
        #expect(mismatch.code == .digestMismatch)
    }

    @Test func verifyingOneBlobNamesItsReferences() async throws {
        let fixture = try Fixture()
        let meta = try await fixture.upload(text("key"))
        let page = try await fixture.result("blobs.verify", ["tenant": "acme", "sha256": meta["sha256"] ?? .null])
        #expect(page["checkedBlobs"] == 1)
        #expect(page["corrupt"] == [])
        // blobs.stat names the configuration fields that reference the content's artifacts.
        _ = try await fixture.result(
            "providers.config.set",
            [
                "tenant": "acme", "providerId": "excititor:oci-openvex",
                "values": ["cosignKey": meta["artifactId"] ?? .null],
            ])
        let stat = try await fixture.result("blobs.stat", ["tenant": "acme", "sha256": meta["sha256"] ?? .null])
        #expect(
            stat["references"] == [
                [
                    "artifactId": meta["artifactId"] ?? .null, "providerId": "excititor:oci-openvex",
                    "field": "cosignKey",
                ]
            ])
        let missing = try await fixture.error("blobs.verify", ["tenant": "acme", "sha256": .string(randomDigest)])
        #expect(missing.code == .notFound)
        #expect(try await fixture.error("blobs.verify", ["tenant": "acme", "sha256": "zz"]).data["field"] == "sha256")
    }
}
