import CairnClient
import CairnDigest
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every method of the contract, over a real socket to a real `cairn serve`,
/// checked field by field against protocol-v1.
@Suite(.timeLimit(.minutes(2)))
struct ProtocolEndToEndTests {
    static let metaKeys: Set<String> = [
        "artifactId", "tenantId", "providerId", "mimeType", "sizeBytes", "sha256", "stagedAt", "stagedBy",
    ]

    /// The name the server records for this process's uid.
    static var ownName: String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "uid:\(getuid())" }
        return String(cString: name)
    }

    /// Checks an artifact meta object (with `deduplicated` when `committed`).
    static func checkMeta(
        _ meta: JSONValue, tenant: String, providerId: String, mimeType: String, content: [UInt8],
        committed: Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let keys = Set(meta.objectValue?.keys ?? [])
        #expect(keys == metaKeys.union(committed ? ["deduplicated"] : []), "\(meta)", sourceLocation: sourceLocation)
        #expect(isCanonicalUUID(meta["artifactId"]), "\(meta)", sourceLocation: sourceLocation)
        #expect(meta["tenantId"] == .string(tenant), sourceLocation: sourceLocation)
        #expect(meta["providerId"] == .string(providerId), sourceLocation: sourceLocation)
        #expect(meta["mimeType"] == .string(mimeType), sourceLocation: sourceLocation)
        #expect(meta["sizeBytes"] == .int(content.count), sourceLocation: sourceLocation)
        #expect(meta["sha256"] == .string(Payload.sha256(content)), sourceLocation: sourceLocation)
        #expect(isContractDigest(meta["sha256"]), sourceLocation: sourceLocation)
        #expect(isContractTime(meta["stagedAt"]), "\(meta)", sourceLocation: sourceLocation)
        #expect(meta["stagedBy"] == .string(ownName), sourceLocation: sourceLocation)
    }

    @Test(.timeLimit(.minutes(2)))
    func helloAndHealth() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)

        let hello = try await socket.result("system.hello")
        #expect(hello["server"] == "cairn")
        #expect(hello["version"]?.stringValue?.isEmpty == false)
        #expect(hello["protocol"] == 1)
        #expect(hello["capabilities"]?.arrayValue?.contains("binaryAttachments") == true, "\(hello)")
        #expect(hello["capabilities"]?.arrayValue?.contains("xxh128") == true, "\(hello)")
        #expect(hello["limits"]?["maxRequestBytes"] == .int(16 << 20))
        #expect(hello["limits"]?["maxChunkBytes"] == .int(4 << 20))
        #expect(hello["limits"]?["maxArtifactBytes"] == .int(4 << 30))
        #expect(hello["peer"]?["uid"] == .int(Int(getuid())))
        #expect(hello["peer"]?["gid"] == .int(Int(getgid())))
        // Without a policy file, the server's own uid (and root) has both scopes everywhere.
        #expect(hello["grants"] == [["tenant": "*", "scopes": ["read", "admin", "backup"]]], "\(hello)")

        // params may be omitted for methods that take none.
        try await socket.send(#"{"jsonrpc":"2.0","id":7,"method":"system.health"}"# + "\n")
        let health = expectResult(try await socket.readJSON(), id: 7)
        let status = try #require(health["status"]?.stringValue)
        #expect(status == "ok" || status == "degraded")
        #expect(health["layoutVersion"]?.intValue.map { $0 >= 1 } == true, "\(health)")
        for key in ["usedBytes", "sizeLimitBytes", "diskFreeBytes"] {
            #expect(health["store"]?[key]?.intValue.map { $0 >= 0 } == true, "store.\(key) in \(health)")
        }
        let problems = try #require(health["problems"]?.arrayValue)
        #expect(problems.allSatisfy { $0.stringValue != nil })
        #expect((status == "ok") == problems.isEmpty, "\(health)")
    }

    @Test(.timeLimit(.minutes(2)))
    func uploadListReadDelete() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let tenant: JSONValue = "acme"

        // Inline base64, with a sha256: prefixed, uppercase expected digest.
        let small = Payload.random(3000)
        let first = try await socket.result(
            "artifacts.upload",
            [
                "tenant": tenant, "providerId": "excititor:oci-openvex", "mimeType": "application/json",
                "data": .string(Base64.encode(small)),
                "sha256": .string("sha256:" + Payload.sha256(small).uppercased()),
            ])
        Self.checkMeta(
            first, tenant: "acme", providerId: "excititor:oci-openvex", mimeType: "application/json", content: small,
            committed: true)
        #expect(first["deduplicated"] == false)

        // The same bytes as an attachment: deduplicated within the tenant.
        let second = try await socket.result(
            "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "text/plain"], attachment: small)
        Self.checkMeta(second, tenant: "acme", providerId: "p", mimeType: "text/plain", content: small, committed: true)
        #expect(second["deduplicated"] == true)
        #expect(second["artifactId"] != first["artifactId"])

        // Inline uploads are bounded by maxRequestBytes, not maxChunkBytes; so are attached ones.
        let large = Payload.random((6 << 20) + 5)
        let inlineLarge = try await socket.result(
            "artifacts.upload",
            ["tenant": tenant, "providerId": "p", "mimeType": "x/y", "data": .string(Base64.encode(large))])
        Self.checkMeta(inlineLarge, tenant: "acme", providerId: "p", mimeType: "x/y", content: large, committed: true)
        let largeId = try #require(inlineLarge["artifactId"])
        let attachedLarge = try await socket.result(
            "artifacts.upload", ["tenant": tenant, "providerId": "q", "mimeType": "x/y"], attachment: large)
        #expect(attachedLarge["deduplicated"] == true)

        // Zero-byte artifacts are allowed.
        let empty = try await socket.result(
            "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "x/empty", "data": ""])
        Self.checkMeta(empty, tenant: "acme", providerId: "p", mimeType: "x/empty", content: [], committed: true)

        // meta, by canonical and uppercase id.
        let firstId = try #require(first["artifactId"]?.stringValue)
        let meta = try await socket.result("artifacts.meta", ["tenant": tenant, "artifactId": .string(firstId)])
        #expect(meta == first.removing(["deduplicated"]))
        let upper = try await socket.result(
            "artifacts.meta", ["tenant": tenant, "artifactId": .string(firstId.uppercased())])
        #expect(upper == meta)

        // list: all, by provider, and page by page without repeats or gaps.
        let all = try await socket.result("artifacts.list", ["tenant": tenant])
        #expect(all["nextCursor"] == .null)
        let listed = try #require(all["artifacts"]?.arrayValue)
        #expect(listed.count == 5)
        #expect(listed.allSatisfy { Set($0.objectValue?.keys ?? []) == Self.metaKeys }, "\(listed)")
        #expect(
            Set(listed.compactMap { $0["artifactId"]?.stringValue })
                == Set([first, second, inlineLarge, attachedLarge, empty].compactMap { $0["artifactId"]?.stringValue }))
        let byProvider = try await socket.result("artifacts.list", ["tenant": tenant, "providerId": "p"])
        #expect(
            Set(byProvider["artifacts"]?.arrayValue?.compactMap { $0["artifactId"]?.stringValue } ?? [])
                == Set([second, inlineLarge, empty].compactMap { $0["artifactId"]?.stringValue }))
        var paged: [JSONValue] = []
        var cursor: JSONValue = .null
        for _ in 0..<10 {
            var params: JSONValue = ["tenant": tenant, "limit": 2]
            if cursor != .null { params = ["tenant": tenant, "limit": 2, "cursor": cursor] }
            let page = try await socket.result("artifacts.list", params)
            let artifacts = try #require(page["artifacts"]?.arrayValue)
            #expect(artifacts.count <= 2)
            paged += artifacts.compactMap { $0["artifactId"] }
            cursor = page["nextCursor"] ?? .null
            if cursor == .null { break }
            #expect(cursor.stringValue != nil, "nextCursor is a string or null: \(page)")
        }
        #expect(paged == listed.compactMap { $0["artifactId"] }, "pages repeat or skip")

        // read, base64: whole, a range, past the end, at the end.
        let whole = try await socket.result("artifacts.read", ["tenant": tenant, "artifactId": .string(firstId)])
        #expect(whole["data"] == .string(Base64.encode(small)))
        #expect(whole["offset"] == 0)
        #expect(whole["length"] == .int(small.count))
        #expect(whole["eof"] == true)
        #expect(whole["sha256"] == .string(Payload.sha256(small)))
        let range = try await socket.result(
            "artifacts.read", ["tenant": tenant, "artifactId": .string(firstId), "offset": 100, "length": 50])
        #expect(range["data"] == .string(Base64.encode(Array(small[100..<150]))))
        #expect(range["offset"] == 100)
        #expect(range["length"] == 50)
        #expect(range["eof"] == false)
        #expect(range["sha256"] == .string(Payload.sha256(small)), "sha256 is the whole artifact's")
        let clamped = try await socket.result(
            "artifacts.read", ["tenant": tenant, "artifactId": .string(firstId), "offset": 2990, "length": 100])
        #expect(clamped["data"] == .string(Base64.encode(Array(small[2990...]))))
        #expect(clamped["length"] == 10)
        #expect(clamped["eof"] == true)
        let atEnd = try await socket.result(
            "artifacts.read", ["tenant": tenant, "artifactId": .string(firstId), "offset": .int(small.count)])
        #expect(atEnd["data"] == "")
        #expect(atEnd["length"] == 0)
        #expect(atEnd["eof"] == true)
        let pastEnd = try await socket.result(
            "artifacts.read", ["tenant": tenant, "artifactId": .string(firstId), "offset": .int(small.count + 100)])
        #expect(pastEnd["data"] == "")
        #expect(pastEnd["length"] == 0)
        #expect(pastEnd["eof"] == true)
        let emptyRead = try await socket.result(
            "artifacts.read", ["tenant": tenant, "artifactId": empty["artifactId"]!])
        #expect(emptyRead["data"] == "")
        #expect(emptyRead["eof"] == true)

        // read, binary: the length defaults to min(maxChunkBytes, rest).
        try await socket.send(
            line(rpc(1, "artifacts.read", ["tenant": tenant, "artifactId": largeId, "offset": 1000, "binary": true])))
        let firstChunk = expectResult(try await socket.readJSON(), id: 1)
        #expect(firstChunk["data"] == nil)
        #expect(firstChunk["dataLength"] == .int(4 << 20))
        #expect(firstChunk["length"] == .int(4 << 20))
        #expect(firstChunk["eof"] == false)
        #expect(try await socket.readBytes(4 << 20) == Array(large[1000..<(1000 + (4 << 20))]))
        let rest = large.count - 1000 - (4 << 20)
        try await socket.send(
            line(
                rpc(
                    2, "artifacts.read",
                    ["tenant": tenant, "artifactId": largeId, "offset": .int(1000 + (4 << 20)), "binary": true])))
        let lastChunk = expectResult(try await socket.readJSON(), id: 2)
        #expect(lastChunk["dataLength"] == .int(rest))
        #expect(lastChunk["eof"] == true)
        #expect(lastChunk["sha256"] == .string(Payload.sha256(large)))
        #expect(try await socket.readBytes(rest) == Array(large[(1000 + (4 << 20))...]))
        // A binary read of nothing is a line with dataLength 0 and no bytes after it.
        try await socket.send(
            line(
                rpc(
                    3, "artifacts.read",
                    ["tenant": tenant, "artifactId": .string(firstId), "offset": .int(small.count), "binary": true])))
        let nothing = expectResult(try await socket.readJSON(), id: 3)
        #expect(nothing["dataLength"] == 0)
        #expect(nothing["eof"] == true)
        try await socket.expectAlive()

        // A length over maxChunkBytes is refused.
        let tooLong = try await socket.request(
            4, "artifacts.read", ["tenant": tenant, "artifactId": largeId, "length": .int((4 << 20) + 1)])
        #expect(expectError(tooLong, "TOO_LARGE", id: 4)["limit"] == .int(4 << 20))

        // delete: the blob is freed with its last artifact only.
        let deleteFirst = try await socket.result(
            "artifacts.delete", ["tenant": tenant, "artifactId": .string(firstId)])
        #expect(deleteFirst == ["artifactId": .string(firstId), "deleted": true, "blobFreed": false])
        let deleteSecond = try await socket.result(
            "artifacts.delete", ["tenant": tenant, "artifactId": second["artifactId"]!])
        #expect(deleteSecond["blobFreed"] == true)
        #expect(deleteSecond["deleted"] == true)
        let gone = try await socket.request(5, "artifacts.meta", ["tenant": tenant, "artifactId": .string(firstId)])
        #expect(expectError(gone, "NOT_FOUND", id: 5)["what"] != nil)
        let again = try await socket.request(6, "artifacts.delete", ["tenant": tenant, "artifactId": .string(firstId)])
        expectError(again, "NOT_FOUND", id: 6)
        let unreadable = try await socket.request(
            7, "artifacts.read", ["tenant": tenant, "artifactId": .string(firstId)])
        expectError(unreadable, "NOT_FOUND", id: 7)
        let statFreed = try await socket.request(
            8, "blobs.stat", ["tenant": tenant, "sha256": .string(Payload.sha256(small))])
        expectError(statFreed, "NOT_FOUND", id: 8)

        let usage = try await socket.result("tenants.usage", ["tenant": tenant])
        #expect(usage["artifactCount"] == 3)
        #expect(usage["logicalBytes"] == .int(2 * large.count))
        #expect(usage["storedBytes"] == .int(large.count))
    }

    @Test(.timeLimit(.minutes(2)))
    func resumableUploads() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let tenant: JSONValue = "acme"
        let content = Payload.random(300_000)
        let digest = Payload.sha256(content)

        let begun = try await socket.result(
            "uploads.begin",
            [
                "tenant": tenant, "providerId": "p", "mimeType": "application/octet-stream",
                "sizeBytes": .int(content.count), "sha256": .string(digest),
            ])
        #expect(Set(begun.objectValue?.keys ?? []) == ["uploadId", "offset"])
        #expect(begun["offset"] == 0)
        #expect(isCanonicalUUID(begun["uploadId"]), "\(begun)")
        let uploadId = try #require(begun["uploadId"])

        // base64 append, then an attachment.
        let afterFirst = try await socket.result(
            "uploads.append",
            ["uploadId": uploadId, "offset": 0, "data": .string(Base64.encode(Array(content[..<100_000])))])
        #expect(afterFirst == ["uploadId": uploadId, "offset": 100_000])
        let afterSecond = try await socket.result(
            "uploads.append", ["uploadId": uploadId, "offset": 100_000], attachment: Array(content[100_000..<250_000]))
        #expect(afterSecond == ["uploadId": uploadId, "offset": 250_000])

        // Nothing of an open upload is visible.
        let listed = try await socket.result("artifacts.list", ["tenant": tenant])
        #expect(listed["artifacts"] == [])
        let usage = try await socket.result("tenants.usage", ["tenant": tenant])
        #expect(usage["artifactCount"] == 0)
        #expect(usage["storedBytes"] == 0)

        let status = try await socket.result(
            "uploads.status", ["uploadId": .string(uploadId.stringValue!.uppercased())])
        #expect(status["uploadId"] == uploadId)
        #expect(status["offset"] == 250_000)
        #expect(status["sizeBytes"] == .int(content.count))
        #expect(isContractTime(status["startedAt"]) && isContractTime(status["updatedAt"]), "\(status)")

        // Not at the current offset: OFFSET_MISMATCH naming the current one; nothing changes.
        for wrong in [0, 249_999, 250_001] {
            let mismatch = try await socket.request(
                .int(wrong), "uploads.append", ["uploadId": uploadId, "offset": .int(wrong)], attachment: [1, 2, 3])
            #expect(expectError(mismatch, "OFFSET_MISMATCH", id: .int(wrong))["offset"] == 250_000)
        }
        // Past the declared size: SIZE_MISMATCH.
        let past = try await socket.request(
            "past", "uploads.append", ["uploadId": uploadId, "offset": 250_000], attachment: Payload.random(50_001))
        let pastData = expectError(past, "SIZE_MISMATCH", id: "past")
        #expect(pastData["expected"] == .int(content.count), "\(past)")
        // Committed early: SIZE_MISMATCH with the declared and actual sizes.
        let early = try await socket.request("early", "uploads.commit", ["uploadId": uploadId])
        let earlyData = expectError(early, "SIZE_MISMATCH", id: "early")
        #expect(earlyData["expected"] == .int(content.count))
        #expect(earlyData["actual"] == 250_000)
        // A chunk over maxChunkBytes: TOO_LARGE.
        let oversized = try await socket.request(
            "big", "uploads.append",
            ["uploadId": uploadId, "offset": 250_000, "data": .string(Base64.encode(Payload.random((4 << 20) + 1)))])
        #expect(expectError(oversized, "TOO_LARGE", id: "big")["limit"] == .int(4 << 20))

        let last = try await socket.result(
            "uploads.append", ["uploadId": uploadId, "offset": 250_000], attachment: Array(content[250_000...]))
        #expect(last["offset"] == .int(content.count))
        let committed = try await socket.result("uploads.commit", ["uploadId": uploadId, "sha256": .string(digest)])
        Self.checkMeta(
            committed, tenant: "acme", providerId: "p", mimeType: "application/octet-stream", content: content,
            committed: true)
        #expect(committed["deduplicated"] == false)
        let afterCommit = try await socket.request("after", "uploads.status", ["uploadId": uploadId])
        expectError(afterCommit, "NOT_FOUND", id: "after")
        let client = try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            try await client.readAll(tenant: "acme", artifactId: committed["artifactId"]!.stringValue!, chunk: 65536)
        }
        #expect(client == content)

        // A wrong digest at commit: DIGEST_MISMATCH, the upload stays open; then the right one commits it.
        let other = try await socket.result("uploads.begin", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"])
        let otherId = try #require(other["uploadId"])
        let otherContent = Payload.random(1000)
        _ = try await socket.result("uploads.append", ["uploadId": otherId, "offset": 0], attachment: otherContent)
        let wrongDigest = Payload.unknownDigest()
        let mismatch = try await socket.request(
            "d", "uploads.commit", ["uploadId": otherId, "sha256": .string(wrongDigest)])
        let mismatchData = expectError(mismatch, "DIGEST_MISMATCH", id: "d")
        #expect(mismatchData["expected"] == .string(wrongDigest))
        #expect(mismatchData["actual"] == .string(Payload.sha256(otherContent)))
        #expect(mismatchData["algorithm"] == "sha256")
        // The same for an XXH3-128 transfer check (the `xxh128` capability); a malformed one is INVALID_PARAMS.
        let wrongChecksum = XXH3Hash128.hash(otherContent + [0]).hex
        let checksumMismatch = try await socket.request(
            "x", "uploads.commit", ["uploadId": otherId, "xxh128": .string(wrongChecksum)])
        let checksumData = expectError(checksumMismatch, "DIGEST_MISMATCH", id: "x")
        #expect(checksumData["expected"] == .string(wrongChecksum))
        #expect(checksumData["actual"] == .string(XXH3Hash128.hash(otherContent).hex))
        #expect(checksumData["algorithm"] == "xxh128")
        for malformed: JSONValue in [.string("xxh128:" + wrongChecksum), .string(String(wrongChecksum.dropLast())), 7] {
            let response = try await socket.request(
                "m", "uploads.commit", ["uploadId": otherId, "xxh128": malformed])
            expectError(response, "INVALID_PARAMS", id: "m", field: "xxh128")
        }
        let otherCommitted = try await socket.result(
            "uploads.commit",
            [
                "uploadId": otherId, "sha256": .string("SHA256:" + Payload.sha256(otherContent).uppercased()),
                "xxh128": .string(XXH3Hash128.hash(otherContent).hex.uppercased()),
            ])
        #expect(otherCommitted["sizeBytes"] == 1000)

        // A digest declared at begin is checked at commit.
        let declared = try await socket.result(
            "uploads.begin", ["tenant": tenant, "providerId": "p", "mimeType": "x/y", "sha256": .string(wrongDigest)])
        _ = try await socket.result(
            "uploads.append", ["uploadId": declared["uploadId"]!, "offset": 0], attachment: [1])
        let declaredMismatch = try await socket.request("dd", "uploads.commit", ["uploadId": declared["uploadId"]!])
        expectError(declaredMismatch, "DIGEST_MISMATCH", id: "dd")

        // Abort: then every upload method says NOT_FOUND.
        let aborted = try await socket.result("uploads.abort", ["uploadId": declared["uploadId"]!])
        #expect(aborted == ["uploadId": declared["uploadId"]!, "aborted": true])
        for (index, method) in ["uploads.status", "uploads.commit", "uploads.abort"].enumerated() {
            let response = try await socket.request(.int(index), method, ["uploadId": declared["uploadId"]!])
            expectError(response, "NOT_FOUND", id: .int(index))
        }
        let appendAborted = try await socket.request(
            "aa", "uploads.append", ["uploadId": declared["uploadId"]!, "offset": 1], attachment: [2])
        expectError(appendAborted, "NOT_FOUND", id: "aa")

        // A zero-byte upload commits.
        let zero = try await socket.result(
            "uploads.begin", ["tenant": tenant, "providerId": "p", "mimeType": "x/y", "sizeBytes": 0])
        let zeroCommitted = try await socket.result("uploads.commit", ["uploadId": zero["uploadId"]!])
        #expect(zeroCommitted["sizeBytes"] == 0)
        #expect(zeroCommitted["sha256"] == .string(Payload.sha256([])))

        // A declared size over maxArtifactBytes fails at begin.
        let huge = try await socket.request(
            "huge", "uploads.begin",
            ["tenant": tenant, "providerId": "p", "mimeType": "x/y", "sizeBytes": .int((4 << 30) + 1)])
        #expect(expectError(huge, "TOO_LARGE", id: "huge")["limit"] == .int(4 << 30))
    }

    @Test(.timeLimit(.minutes(2)))
    func blobsStatAndVerifyPaging() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let tenant: JSONValue = "acme"
        let contents = (0..<5).map { Payload.random(10_000 + $0 * 1000) }
        var ids: [JSONValue] = []
        for content in contents + [contents[0]] {
            let meta = try await socket.result(
                "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"], attachment: content)
            ids.append(meta["artifactId"]!)
        }

        let stat = try await socket.result(
            "blobs.stat", ["tenant": tenant, "sha256": .string("sha256:" + Payload.sha256(contents[0]).uppercased())])
        #expect(Set(stat.objectValue?.keys ?? []) == ["sha256", "sizeBytes", "artifactIds", "storedAt", "references"])
        #expect(stat["sha256"] == .string(Payload.sha256(contents[0])))
        #expect(stat["sizeBytes"] == .int(contents[0].count))
        #expect(
            Set(stat["artifactIds"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                == Set([ids[0], ids[5]].compactMap(\.stringValue)))
        #expect(isContractTime(stat["storedAt"]))
        let missing = try await socket.request(
            1, "blobs.stat", ["tenant": tenant, "sha256": .string(Payload.unknownDigest())])
        #expect(expectError(missing, "NOT_FOUND", id: 1)["what"] != nil)
        let malformed = try await socket.request(2, "blobs.stat", ["tenant": tenant, "sha256": "abc123"])
        expectError(malformed, "INVALID_PARAMS", id: 2, field: "sha256")

        // A budget of one byte: every call checks at least one blob, and paging visits each once.
        var checkedBlobs = 0
        var checkedBytes = 0
        var calls = 0
        var cursor: JSONValue = .null
        repeat {
            calls += 1
            var params = JSONObject([("tenant", tenant), ("maxBytes", 1)])
            if cursor != .null { params["cursor"] = cursor }
            let page = try await socket.result("blobs.verify", .object(params))
            let blobs = try #require(page["checkedBlobs"]?.intValue)
            #expect(blobs >= 1, "a call made no progress: \(page)")
            checkedBlobs += blobs
            checkedBytes += page["checkedBytes"]?.intValue ?? -1
            #expect(page["corrupt"] == [])
            cursor = page["nextCursor"] ?? .null
        } while cursor != .null && calls < 20
        #expect(checkedBlobs == contents.count)
        #expect(checkedBytes == contents.reduce(0) { $0 + $1.count })
        #expect(calls == contents.count, "one blob per call with a one-byte budget")

        // A large budget checks everything in one call.
        let once = try await socket.result("blobs.verify", ["tenant": tenant])
        #expect(once["checkedBlobs"] == .int(contents.count))
        #expect(once["nextCursor"] == .null)
        // Another tenant has nothing to verify.
        let elsewhere = try await socket.result("blobs.verify", ["tenant": "other", "maxBytes": 1])
        #expect(elsewhere["checkedBlobs"] == 0)
        #expect(elsewhere["nextCursor"] == .null)
    }

    @Test(.timeLimit(.minutes(2)))
    func quotasAndUsage() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let tenant: JSONValue = "quota"

        let fresh = try await socket.result("tenants.usage", ["tenant": "never-used"])
        #expect(
            fresh == [
                "tenant": "never-used", "artifactCount": 0, "logicalBytes": 0, "storedBytes": 0,
                "quota": ["maxBytes": nil, "maxArtifacts": nil],
            ])

        let set = try await socket.result("tenants.setQuota", ["tenant": tenant, "maxBytes": 1000, "maxArtifacts": 4])
        #expect(set["tenant"] == tenant)
        #expect(set["quota"] == ["maxBytes": 1000, "maxArtifacts": 4])
        #expect(set["artifactCount"] == 0)
        let omitted = try await socket.result("tenants.setQuota", ["tenant": tenant, "maxBytes": 600])
        #expect(omitted["quota"] == ["maxBytes": 600, "maxArtifacts": 4], "an omitted key stays")

        // Reaching the byte quota exactly is allowed; one byte over is not.
        let first = Payload.random(400)
        _ = try await socket.result(
            "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"], attachment: first)
        let over = try await socket.request(
            "over", "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"],
            attachment: Payload.random(201))
        let overData = expectError(over, "QUOTA_EXCEEDED", id: "over")
        #expect(overData["kind"] == "bytes")
        #expect(overData["limit"] == 600)
        #expect(overData["used"] == 400)
        #expect(overData["requested"] == 201)
        let exact = try await socket.result(
            "artifacts.upload",
            [
                "tenant": tenant, "providerId": "p", "mimeType": "x/y",
                "data": .string(Base64.encode(Payload.random(200))),
            ])
        #expect(exact["sizeBytes"] == 200)
        // Content the tenant already holds stores nothing more.
        let deduplicated = try await socket.result(
            "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"], attachment: first)
        #expect(deduplicated["deduplicated"] == true)

        // A declared size over the quota fails at begin, before any byte.
        let declared = try await socket.request(
            "declared", "uploads.begin", ["tenant": tenant, "providerId": "p", "mimeType": "x/y", "sizeBytes": 1])
        let declaredData = expectError(declared, "QUOTA_EXCEEDED", id: "declared")
        #expect(declaredData["kind"] == "bytes")
        #expect(declaredData["requested"] == 1)
        #expect(declaredData["used"] == 600)

        // Without a declared size, the quota is enforced at commit.
        let _ = try await socket.result("tenants.setQuota", ["tenant": tenant, "maxBytes": 700])
        let open = try await socket.result("uploads.begin", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"])
        _ = try await socket.result(
            "uploads.append", ["uploadId": open["uploadId"]!, "offset": 0], attachment: Payload.random(101))
        // Open uploads reserve nothing: an inline upload that fits still goes in.
        let fits = try await socket.result(
            "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"],
            attachment: Payload.random(100))
        #expect(fits["deduplicated"] == false)
        let _ = try await socket.result("tenants.setQuota", ["tenant": tenant, "maxArtifacts": nil])
        let atCommit = try await socket.request("commit", "uploads.commit", ["uploadId": open["uploadId"]!])
        let atCommitData = expectError(atCommit, "QUOTA_EXCEEDED", id: "commit")
        #expect(atCommitData["kind"] == "bytes")
        #expect(atCommitData["used"] == 700)
        #expect(atCommitData["requested"] == 101)
        _ = try await socket.result("uploads.abort", ["uploadId": open["uploadId"]!])

        // The artifact-count quota.
        let counted = try await socket.result(
            "tenants.setQuota", ["tenant": tenant, "maxBytes": nil, "maxArtifacts": 4])
        #expect(counted["quota"] == ["maxBytes": nil, "maxArtifacts": 4], "null removes a quota")
        #expect(counted["artifactCount"] == 4)
        let fifth = try await socket.request(
            "fifth", "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"], attachment: first)
        let fifthData = expectError(fifth, "QUOTA_EXCEEDED", id: "fifth")
        #expect(fifthData["kind"] == "artifacts")
        #expect(fifthData["limit"] == 4)
        #expect(fifthData["used"] == 4)
        #expect(fifthData["requested"] == 1)

        let cleared = try await socket.result("tenants.setQuota", ["tenant": tenant, "maxArtifacts": nil])
        #expect(cleared["quota"] == ["maxBytes": nil, "maxArtifacts": nil])
        let usage = try await socket.result("tenants.usage", ["tenant": tenant])
        #expect(usage == cleared)
        #expect(usage["logicalBytes"] == 1100)
        #expect(usage["storedBytes"] == 700)
    }

    @Test(.timeLimit(.minutes(2)))
    func eventsList() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let tenant: JSONValue = "audit"

        let created = try await socket.result(
            "artifacts.upload", ["tenant": tenant, "providerId": "p", "mimeType": "x/y"], attachment: Payload.random(10)
        )
        _ = try await socket.result("tenants.setQuota", ["tenant": tenant, "maxBytes": 100_000])
        _ = try await socket.result("artifacts.delete", ["tenant": tenant, "artifactId": created["artifactId"]!])
        // Another tenant's doings are not shown.
        _ = try await socket.result(
            "artifacts.upload", ["tenant": "elsewhere", "providerId": "p", "mimeType": "x/y"], attachment: [1])

        let page = try await socket.result("events.list", ["tenant": tenant])
        let events = try #require(page["events"]?.arrayValue)
        #expect(page["nextCursor"] == .null)
        #expect(
            events.compactMap { $0["action"]?.stringValue } == ["artifact.created", "quota.set", "artifact.deleted"])
        let seqs = events.compactMap { $0["seq"]?.intValue }
        #expect(seqs.count == 3 && seqs == seqs.sorted() && Set(seqs).count == 3, "seq ascends: \(events)")
        for event in events {
            #expect(event["actor"] == created["stagedBy"], "actor is the stagedBy string: \(event)")
            #expect(isContractTime(event["at"]), "\(event)")
        }
        #expect(events[0]["artifactId"] == created["artifactId"])
        #expect(events[0]["sha256"] == created["sha256"])
        #expect(events[0]["providerId"] == "p")
        #expect(events[2]["artifactId"] == created["artifactId"])

        // Paging one at a time gives the same events.
        var paged: [JSONValue] = []
        var cursor: JSONValue = .null
        for _ in 0..<10 {
            var params = JSONObject([("tenant", tenant), ("limit", 1)])
            if cursor != .null { params["cursor"] = cursor }
            let onePage = try await socket.result("events.list", .object(params))
            paged += onePage["events"]?.arrayValue ?? []
            cursor = onePage["nextCursor"] ?? .null
            if cursor == .null { break }
        }
        #expect(paged == events)

        let unused = try await socket.result("events.list", ["tenant": "unused"])
        #expect(unused["events"] == [])
    }
}
