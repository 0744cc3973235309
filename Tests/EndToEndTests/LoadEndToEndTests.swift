import CairnClient
import CairnProtocol
import Foundation
import Synchronization
import Testing

/// Many requests and many connections at once against one real server:
/// everything is answered, in order, and the tenant's figures add up.
/// No timing is asserted; the time limits only bound a hang.
@Suite(.timeLimit(.minutes(2)))
struct LoadEndToEndTests {
    @Test(.timeLimit(.minutes(2)))
    func tenThousandPipelinedRequestsOnOneConnection() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let meta = try await socket.result(
            "artifacts.upload", ["tenant": "pipe", "providerId": "p", "mimeType": "x/y"],
            attachment: Payload.random(100))
        let artifactId = try #require(meta["artifactId"])

        let count = 10_000
        var ids: [JSONValue] = []
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 120)
        for index in 0..<count {
            // Numbers and strings, so that an id echoed with the wrong type shows.
            if index % 2 == 0 {
                ids.append(.int(index))
                bytes += line(rpc(.int(index), "artifacts.meta", ["tenant": "pipe", "artifactId": artifactId]))
            } else {
                ids.append(.string("u\(index)"))
                bytes += line(rpc(.string("u\(index)"), "tenants.usage", ["tenant": "pipe"]))
            }
        }
        let lines = try await socket.exchange(bytes, lines: count, timeout: .seconds(90))
        #expect(lines.count == count)
        var failures = 0
        for (index, text) in lines.enumerated() {
            guard let response = try? JSONParser.parse(text) else {
                failures += 1
                continue
            }
            let ok: Bool
            if index % 2 == 0 {
                ok = response["id"] == ids[index] && response["result"]?["artifactId"] == artifactId
            } else {
                ok = response["id"] == ids[index] && response["result"]?["artifactCount"] == 1
            }
            if !ok {
                failures += 1
                if failures <= 3 { Issue.record("response \(index): \(String(decoding: text, as: UTF8.self))") }
            }
        }
        #expect(failures == 0, "\(failures) of \(count) responses wrong or out of order")
        try await socket.expectAlive()
    }

    @Test(.timeLimit(.minutes(2)))
    func tenThousandRequestsThroughTheClientPipeline() async throws {
        let server = try await ServerProcess.start()
        let socketPath = server.socketPath
        // A guard against a hang, not a speed check: generous for a machine loaded by parallel builds.
        let outcome = try await withDeadline(.seconds(90), "CairnClient.pipeline of 10,000 requests") {
            try await Self.pipelineTenThousand(socketPath)
        }
        #expect(outcome == nil, "\(outcome ?? "")")
    }

    /// `nil` when all 10,000 replies are right, else what went wrong first.
    ///
    /// Half the requests read a 1 KiB artifact as base64, so the answers
    /// (~8 MB) outgrow every socket and channel buffer while the requests
    /// (~1.4 MB) are still being written: a client that writes everything
    /// before reading anything cannot get through.
    static func pipelineTenThousand(_ socketPath: String) async throws -> String? {
        try await CairnClient.withConnection(socketPath: socketPath) { client -> String? in
            let content = Payload.random(1024)
            let meta = try await client.upload(tenant: "pipe", providerId: "p", mimeType: "x/y", bytes: content)
            let encoded = JSONValue.string(Base64.encode(content))
            let requests = (0..<10_000).map { index in
                index % 2 == 0
                    ? CairnClient.Request(
                        "artifacts.read", JSONObject([("tenant", "pipe"), ("artifactId", .string(meta.artifactId))]))
                    : CairnClient.Request("tenants.usage", JSONObject([("tenant", "pipe")]))
            }
            let replies = try await client.pipeline(requests)
            guard replies.count == requests.count else { return "\(replies.count) replies" }
            for (index, reply) in replies.enumerated() {
                guard case .success(let value) = reply else { return "reply \(index): \(reply)" }
                let ok = index % 2 == 0 ? value.result["data"] == encoded : value.result["artifactCount"] == 1
                if !ok { return "reply \(index): \(value.result)" }
            }
            return nil
        }
    }

    /// protocol-v1: a cursor stays valid while others write, and a paginated
    /// listing neither repeats nor skips an artifact that existed for the whole listing.
    @Test(.timeLimit(.minutes(2)))
    func listingWhileOthersWrite() async throws {
        let server = try await ServerProcess.start()
        let socketPath = server.socketPath
        let tenant = "paging"
        let stable = try await CairnClient.withConnection(socketPath: socketPath) { client in
            var ids: [String] = []
            for index in 0..<60 {
                let bytes = Array("stable \(index)".utf8)
                ids.append(
                    try await client.upload(tenant: tenant, providerId: "p", mimeType: "x/y", bytes: bytes).artifactId)
            }
            return ids
        }
        let stop = Atomic<Bool>(false)
        let written = Atomic<Int>(0)
        let writer = Task {
            try await CairnClient.withConnection(socketPath: socketPath) { client in
                var churn: [String] = []
                var index = 0
                while !stop.load(ordering: .relaxed) {
                    index += 1
                    churn.append(
                        try await client.upload(
                            tenant: tenant, providerId: "p", mimeType: "x/y", bytes: Array("churn \(index)".utf8)
                        ).artifactId)
                    if index % 2 == 0 { _ = try await client.delete(tenant: tenant, artifactId: churn.removeFirst()) }
                    written.store(index, ordering: .relaxed)
                }
                return index
            }
        }
        var seen: [String] = []
        try await CairnClient.withConnection(socketPath: socketPath) { client in
            var cursor: JSONValue = .null
            for pageNumber in 1...1000 {
                var params = JSONObject([("tenant", .string(tenant)), ("limit", 3)])
                if cursor != .null { params["cursor"] = cursor }
                let page = try await client.call("artifacts.list", params).result
                seen += page["artifacts"]?.arrayValue?.compactMap { $0["artifactId"]?.stringValue } ?? []
                cursor = page["nextCursor"] ?? .null
                if cursor == .null { break }
                // Every page waits for one more write: the two interleave however busy the machine is.
                while written.load(ordering: .relaxed) < pageNumber { try await Task.sleep(for: .milliseconds(1)) }
            }
        }
        stop.store(true, ordering: .relaxed)
        let writes = try await writer.value
        #expect(writes > 5, "the writer wrote between the pages")
        #expect(seen.count == Set(seen).count, "the listing repeats artifacts")
        let missing = Set(stable).subtracting(seen)
        #expect(missing.isEmpty, "the listing skipped \(missing.count) artifacts that existed throughout")
    }

    /// What a client left behind: its artifacts that still exist.
    struct Survivor: Sendable, Hashable {
        var artifactId: String
        var sizeBytes: Int
        var sha256: String
    }

    @Test(.timeLimit(.minutes(2)))
    func thirtyTwoConcurrentClients() async throws {
        let server = try await ServerProcess.start()
        let tenant = "load"
        let socketPath = server.socketPath
        // Content several clients upload at once, so that deduplication and
        // blob freeing race across connections.
        let common = (0..<3).map { _ in Payload.random(40_000) }

        let survivors = try await withThrowingTaskGroup(of: [Survivor].self) { group in
            for clientIndex in 0..<32 {
                group.addTask {
                    try await CairnClient.withConnection(socketPath: socketPath) { client in
                        var mine: [Survivor] = []
                        for round in 0..<4 {
                            let content: [UInt8]
                            let info: ArtifactInfo
                            if (clientIndex + round) % 4 == 0 {
                                // Multi-chunk: begin, several appends, commit with the digest.
                                content = Payload.random(150_000 + clientIndex * 1000)
                                let digest = Payload.sha256(content)
                                let uploadId = try await client.beginUpload(
                                    tenant: tenant, providerId: "p", mimeType: "x/y", sizeBytes: UInt64(content.count))
                                var offset = 0
                                while offset < content.count {
                                    let end = min(content.count, offset + 32_768)
                                    let next = try await client.append(
                                        uploadId: uploadId, offset: UInt64(offset), bytes: Array(content[offset..<end]))
                                    #expect(next == UInt64(end))
                                    offset = end
                                }
                                info = try await client.commit(uploadId: uploadId, sha256: digest)
                            } else if round == 1 {
                                content = common[clientIndex % common.count]
                                info = try await client.upload(
                                    tenant: tenant, providerId: "c", mimeType: "x/y", bytes: content)
                            } else {
                                content = Payload.random(1 + (clientIndex * 7919 + round * 104_729) % 65_536)
                                info = try await client.upload(
                                    tenant: tenant, providerId: "p", mimeType: "x/y", bytes: content,
                                    sha256: Payload.sha256(content))
                            }
                            #expect(info.sha256 == Payload.sha256(content))
                            #expect(info.sizeBytes == UInt64(content.count))
                            mine.append(
                                Survivor(artifactId: info.artifactId, sizeBytes: content.count, sha256: info.sha256))

                            // Read back one of its own, verified.
                            let pick = mine[(clientIndex + round) % mine.count]
                            let bytes = try await client.readAll(
                                tenant: tenant, artifactId: pick.artifactId, chunk: 16_384)
                            #expect(Payload.sha256(bytes) == pick.sha256)
                            #expect(bytes.count == pick.sizeBytes)
                            // Delete one now and then.
                            if round == 2 || (round == 3 && clientIndex % 3 == 0) {
                                let victim = mine.removeFirst()
                                _ = try await client.delete(tenant: tenant, artifactId: victim.artifactId)
                            }
                        }
                        return mine
                    }
                }
            }
            var all: [Survivor] = []
            for try await mine in group { all += mine }
            return all
        }

        try await CairnClient.withConnection(socketPath: socketPath) { client in
            let listed = try await client.listAll(tenant: tenant, pageSize: 7)
            let listedIds = listed.compactMap { $0["artifactId"]?.stringValue }
            #expect(listedIds.count == Set(listedIds).count, "the listing repeats an artifact")
            #expect(Set(listedIds) == Set(survivors.map(\.artifactId)))

            let usage = try await client.usage(tenant: tenant)
            let logical = listed.reduce(0) { $0 + ($1["sizeBytes"]?.intValue ?? 0) }
            var stored = 0
            var byDigest: [String: Set<String>] = [:]
            for artifact in listed {
                byDigest[artifact["sha256"]!.stringValue!, default: []].insert(artifact["artifactId"]!.stringValue!)
            }
            for (digest, ids) in byDigest {
                let stat = try await client.call(
                    "blobs.stat", JSONObject([("tenant", .string(tenant)), ("sha256", .string(digest))])
                ).result
                stored += stat["sizeBytes"]?.intValue ?? 0
                #expect(Set(stat["artifactIds"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ids, "\(digest)")
            }
            #expect(usage["artifactCount"] == .int(listed.count), "\(usage)")
            #expect(usage["logicalBytes"] == .int(logical), "\(usage)")
            #expect(usage["storedBytes"] == .int(stored), "\(usage)")

            let verify = try await client.call("blobs.verify", JSONObject([("tenant", .string(tenant))])).result
            #expect(verify["checkedBlobs"] == .int(byDigest.count))
            #expect(verify["checkedBytes"] == .int(stored))
            #expect(verify["corrupt"] == [])
            let health = try await client.call("system.health").result
            #expect(health["store"]?["openUploads"] == 0)
        }
    }
}
