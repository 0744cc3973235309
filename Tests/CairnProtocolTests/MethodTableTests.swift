import CairnDigest
import CairnManifest
import CairnProtocol
import Foundation
import Testing

/// The method table: every method once, params that round-trip and fail
/// naming the param, results that round-trip.
@Suite struct MethodTableTests {
    let context = ParamsContext(
        maxChunkBytes: 1024, maxPageSize: 1000, isProviderID: { !$0.isEmpty && !$0.contains(" ") },
        knowsProvider: { $0 == "excititor:oci-openvex" })
    let id = UUID(uuidString: "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a")!
    let digest = SHA256Hasher.digest([1, 2, 3])

    func roundTrip<P: MethodParams & Equatable>(_ params: P) throws {
        #expect(try P(decoding: Params(params.encoded), context: context) == params, "\(params)")
    }

    func refusal<P: MethodParams>(_: P.Type, _ object: JSONValue) -> RPCError? {
        do {
            _ = try P(decoding: Params(object.objectValue!), context: context)
            return nil
        } catch {
            return error
        }
    }

    @Test func everyMethodHasOneDistinctName() {
        #expect(Set(Methods.names).count == Methods.names.count)
        for name in [
            "system.hello", "system.health", "artifacts.upload", "uploads.begin", "uploads.append", "uploads.status",
            "uploads.commit", "uploads.abort", "artifacts.list", "artifacts.meta", "artifacts.read",
            "artifacts.delete", "blobs.stat", "blobs.verify", "tenants.usage", "tenants.setQuota",
            "providers.list", "providers.config.get", "providers.config.set", "providers.readiness", "events.list",
        ] {
            #expect(Methods.names.contains(name), "the contract's \(name) is missing")
        }
        for name in ["backup.begin", "backup.read", "backup.end"] {
            #expect(Methods.names.contains(name), "Cairn's addition \(name) is missing")
        }
        #expect(Methods.artifactsUpload.takesAttachment && Methods.uploadsAppend.takesAttachment)
        #expect(Methods.artifactsMeta.access == .tenant(.read) && Methods.artifactsDelete.access == .tenant(.admin))
        #expect(Methods.uploadsCommit.access == .upload && Methods.systemHello.access == .open)
    }

    /// A method's wire name is written in one file of `Sources/`: the table.
    @Test func eachWireNameStandsInOneSourceFile() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try FileManager.default.subpathsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        try #require(files.count > 20)
        var found: [String: [String]] = [:]
        for file in files {
            let text = try String(contentsOfFile: sources.appendingPathComponent(file).path, encoding: .utf8)
            for name in Methods.names where text.contains("\"\(name)\"") { found[name, default: []].append(file) }
        }
        for name in Methods.names {
            #expect(found[name] == ["CairnProtocol/Methods/Methods.swift"], "\(name): \(found[name] ?? [])")
        }
    }

    @Test func paramsRoundTrip() throws {
        try roundTrip(TenantParams(tenant: "acme"))
        try roundTrip(ArtifactParams(tenant: "acme", artifactId: id))
        try roundTrip(
            UploadArtifactParams(tenant: "acme", providerId: "p", mimeType: "x/y", sha256: digest, artifactId: id))
        try roundTrip(UploadArtifactParams(tenant: "acme", providerId: "p", mimeType: "x/y"))
        try roundTrip(BeginUploadParams(tenant: "acme", providerId: "p", mimeType: "x/y", sizeBytes: 5, sha256: digest))
        try roundTrip(AppendParams(uploadId: id, offset: 4096))
        try roundTrip(UploadParams(uploadId: id))
        try roundTrip(
            CommitUploadParams(
                uploadId: id, sha256: digest, xxh128: XXH3Hash128(hex: String(repeating: "ab", count: 16)),
                artifactId: UUID()))
        try roundTrip(ListArtifactsParams(tenant: "acme", providerId: "p", limit: 7, cursor: "c1.0000000000000001"))
        try roundTrip(ReadParams(tenant: "acme", artifactId: id, offset: 3, length: 1024, binary: true))
        try roundTrip(BlobParams(tenant: "acme", sha256: digest))
        try roundTrip(VerifyBlobsParams(tenant: "acme", maxBytes: 9, cursor: "x", sha256: digest))
        try roundTrip(SetQuotaParams(tenant: "acme", maxBytes: .null, maxArtifacts: .value(3)))
        try roundTrip(SetQuotaParams(tenant: "acme"))
        try roundTrip(ListEventsParams(tenant: "acme", limit: 1000, cursor: nil))
        try roundTrip(VerifyEventsParams(tenant: "acme", anchor: .init(seq: 4, sha256: digest)))
        try roundTrip(VerifyEventsParams(tenant: "acme", anchor: .init(seq: 0, sha256: nil)))
        try roundTrip(
            ImportParams(
                tenant: "acme",
                artifacts: [.init(artifactId: id, sha256: digest, sizeBytes: 3, providerId: "p", mimeType: "x/y")],
                dryRun: true))
        try roundTrip(ProviderParams(tenant: "acme", providerId: "excititor:oci-openvex"))
        try roundTrip(
            ConfigureProviderParams(
                tenant: "acme", providerId: "excititor:oci-openvex", values: [("a", "b"), ("c", .null)],
                clear: ["d"], expectedRevision: 2))
    }

    @Test func defaultsAreTheDocumentedOnes() throws {
        let read = try ReadParams(
            decoding: Params(JSONObject([("tenant", "acme"), ("artifactId", .string(id.uuidString))])), context: context
        )
        #expect(read.offset == 0 && read.length == 1024 && read.binary == false)
        let list = try ListArtifactsParams(
            decoding: Params(JSONObject([("tenant", "acme"), ("providerId", .null)])), context: context)
        #expect(list.limit == 100 && list.providerId == nil && list.cursor == nil)
        #expect(
            try ImportParams(decoding: Params(JSONObject([("tenant", "a"), ("artifacts", [])])), context: context)
                .dryRun == false)
    }

    @Test func refusalsNameTheParamInTheDocumentedOrder() {
        func field(_ error: RPCError?) -> JSONValue? { error?.data["field"] }
        // The first faulty param is the one named.
        #expect(field(refusal(ArtifactParams.self, ["tenant": "acme", "artifactId": "nope"])) == "artifactId")
        #expect(
            field(refusal(ArtifactParams.self, ["tenant": "acme", "artifactId": .string(id.uuidString.uppercased())]))
                == nil)
        #expect(
            field(refusal(UploadArtifactParams.self, ["tenant": "acme", "providerId": "bad id", "mimeType": 1]))
                == "providerId")
        #expect(
            field(
                refusal(UploadArtifactParams.self, ["tenant": "acme", "providerId": "p", "mimeType": 1, "sha256": "x"]))
                == "mimeType")
        #expect(field(refusal(AppendParams.self, ["uploadId": .string(id.uuidString), "offset": -1])) == "offset")
        #expect(
            field(refusal(AppendParams.self, ["uploadId": .string(id.uuidString), "offset": .number(JSONNumber(1.5))]))
                == "offset")
        #expect(field(refusal(AppendParams.self, ["uploadId": .string(id.uuidString), "offset": true])) == "offset")
        #expect(
            field(refusal(CommitUploadParams.self, ["uploadId": .string(id.uuidString), "sha256": "abc", "xxh128": 1]))
                == "sha256")
        #expect(field(refusal(ListArtifactsParams.self, ["tenant": "a", "limit": 0])) == "limit")
        #expect(field(refusal(ListArtifactsParams.self, ["tenant": "a", "limit": 1001])) == "limit")
        #expect(field(refusal(BlobParams.self, ["tenant": "a"])) == "sha256")
        #expect(field(refusal(SetQuotaParams.self, ["tenant": "a", "maxBytes": "1"])) == "maxBytes")
        #expect(field(refusal(VerifyEventsParams.self, ["tenant": "a", "anchor": ["seq": "x"]])) == "anchor")
        #expect(field(refusal(ImportParams.self, ["tenant": "a", "artifacts": [1]])) == "artifacts")
        #expect(field(refusal(ImportParams.self, ["tenant": "a", "artifacts": [], "dryRun": "yes"])) == "dryRun")
        // Checks with codes of their own.
        let tooLong = refusal(
            ReadParams.self, ["tenant": "a", "artifactId": .string(id.uuidString), "length": 1025, "binary": "x"])
        #expect(tooLong?.code == .tooLarge && tooLong?.data["limit"] == 1024)
        let unknown = refusal(
            ConfigureProviderParams.self, ["tenant": "a", "providerId": "nope:x", "expectedRevision": "x"])
        #expect(unknown?.code == .unknownProvider && unknown?.data["providerId"] == "nope:x")
        #expect(
            field(
                refusal(
                    ConfigureProviderParams.self,
                    ["tenant": "a", "providerId": "excititor:oci-openvex", "values": ["k": "v"], "clear": [1]]))
                == "clear")
    }

    @Test func resultsRoundTrip() throws {
        let meta = ArtifactMetaResult(
            artifactId: id, tenantId: "acme", providerId: "p", mimeType: "x/y", sizeBytes: 3, sha256: digest,
            stagedAt: "2026-12-07T10:00:00.000Z", stagedBy: "alice", deduplicated: false)
        #expect(try ArtifactMetaResult(decoding: meta.encoded, attachment: nil) == meta)
        let state = UploadStateResult(uploadId: id, offset: 5, sizeBytes: 9, startedAt: "t", updatedAt: "u")
        #expect(try UploadStateResult(decoding: state.encoded, attachment: nil) == state)
        let usage = TenantUsageResult(
            tenant: "a", artifactCount: 1, logicalBytes: 2, storedBytes: 2, maxBytes: nil, maxArtifacts: 4)
        #expect(try TenantUsageResult(decoding: usage.encoded, attachment: nil) == usage)
        let binary = ReadResult(bytes: [1, 2, 3], offset: 0, eof: true, sha256: digest, binary: true)
        #expect(binary.encoded["dataLength"] == 3 && binary.encoded["data"] == nil && binary.attachment == [1, 2, 3])
        #expect(try ReadResult(decoding: binary.encoded, attachment: binary.attachment) == binary)
        let inline = ReadResult(bytes: [1, 2, 3], offset: 0, eof: true, sha256: digest, binary: false)
        #expect(inline.attachment == nil && inline.encoded["data"] == "AQID")
        #expect(try ReadResult(decoding: inline.encoded, attachment: nil) == inline)
        let deleted = ArtifactDeletedResult(artifactId: id, blobFreed: true)
        #expect(try ArtifactDeletedResult(decoding: deleted.encoded, attachment: nil) == deleted)
        #expect(throws: MethodResultError.self) { try ArtifactMetaResult(decoding: ["artifactId": 1], attachment: nil) }
        #expect(throws: MethodResultError.self) { try JSONDocument(decoding: [1], attachment: nil) }
    }
}
