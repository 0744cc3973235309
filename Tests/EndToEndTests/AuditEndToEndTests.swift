import CairnClient
import CairnDigest
import CairnProtocol
import Foundation
import LMDB
import StoreLayout
import Testing

/// `cairn verify` against a real server and a data file damaged on purpose:
/// corrupt blobs are named with the artifacts and configuration fields they
/// affect, and a removed or edited audit event breaks the chain.
@Suite(.timeLimit(.minutes(2)))
struct AuditEndToEndTests {
    let tenant = ["--tenant", "acme"]

    @Test func aFlippedByteIsFoundByVerifyAndByReads() async throws {
        let server = try await ServerProcess.start()
        let damaged = Payload.random((1 << 20) + 50_000)
        let intact = Payload.random(70_000)
        let first = try Audit.json(
            try await server.cairn(
                ["put", "-", "--provider", "excititor:oci-openvex", "--json"] + tenant, stdin: damaged
            )
            .output)
        let second = try Audit.json(
            try await server.cairn(
                ["put", "-", "--provider", "excititor:oci-openvex", "--json"] + tenant, stdin: damaged
            )
            .output)
        _ = try await server.cairn(["put", "-", "--provider", "p"] + tenant, stdin: intact)
        _ = try await server.cairn(["put", "-", "--provider", "p", "--tenant", "beta"], stdin: intact)
        let ids = try [first, second].map { try #require($0["artifactId"]?.stringValue) }
        try await CairnClient.withConnection(socketPath: server.socketPath) { connection in
            _ = try await connection.call(
                "providers.config.set",
                JSONObject([
                    ("tenant", "acme"), ("providerId", "excititor:oci-openvex"),
                    ("values", .object(JSONObject([("cosignKey", .string(ids[1]))]))),
                ]))
        }
        #expect(try await server.cairn(["verify"] + tenant).status == 0)

        try await server.stop()
        try Audit.flipByte(
            in: server.dataDirectory + "/store/data.mdb", after: Array(damaged[(1 << 20)..<(1 << 20) + 64]),
            delta: 20_000)
        try await server.start()

        let verify = try await server.cairn(["verify"] + tenant)
        #expect(verify.status == 1, "\(verify)")
        #expect(verify.output.contains("CORRUPT sha256:\(Payload.sha256(damaged))"), "\(verify)")
        #expect(verify.output.contains(ids[0]) && verify.output.contains(ids[1]))
        #expect(verify.output.contains("excititor:oci-openvex cosignKey (\(ids[1]))"))
        #expect(verify.output.contains("checked 2 blobs"))
        let json = try Audit.json(try await server.cairn(["verify", "--json"] + tenant).output)
        #expect(json["clean"] == false)
        #expect(
            json["corrupt"]?.arrayValue?.first?["artifactIds"]?.arrayValue?.compactMap(\.stringValue).sorted()
                == ids.sorted())

        // Without a tenant: every tenant the caller may read, each reported.
        let everyone = try await server.cairn(["verify"])
        #expect(everyone.status == 1, "\(everyone)")
        #expect(everyone.output.contains("of tenant acme: 1 corrupt"))
        #expect(everyone.output.contains("of tenant beta: clean"))
        #expect(try await server.cairn(["verify", "--events"]).status == 0)

        // One blob, a subset, and reads agree.
        #expect(try await server.cairn(["verify", "--digest", Payload.sha256(intact)] + tenant).status == 0)
        #expect(
            try await server.cairn(["verify", "--digest", "sha256:" + Payload.sha256(damaged)] + tenant).status == 1)
        #expect(try await server.cairn(["verify", "--subset", "100"] + tenant).status == 1)
        let get = try await server.cairn(["get", ids[0]] + tenant)
        #expect(get.status == 1)
        #expect(get.errorOutput.hasPrefix("cairn: INTEGRITY_ERROR: "), "\(get)")

        // Could not check: unknown content, no server.
        #expect(try await server.cairn(["verify", "--digest", Payload.unknownDigest()] + tenant).status == 2)
        #expect(try await server.cairn(["verify", "--socket", server.scratch("none.sock")] + tenant).status == 2)
    }

    @Test func anEditedOrRemovedEventBreaksTheChain() async throws {
        let server = try await ServerProcess.start()
        _ = try await server.cairn(["put", "-", "--provider", "p"] + tenant, stdin: Array("one".utf8))
        _ = try await server.cairn(["quota", "set", "--max-bytes", "123457"] + tenant)
        _ = try await server.cairn(["put", "-", "--provider", "p"] + tenant, stdin: Array("two".utf8))
        _ = try await server.cairn(["put", "-", "--provider", "p"] + tenant, stdin: Array("three".utf8))
        _ = try await server.cairn(["put", "-", "--provider", "p", "--tenant", "beta"], stdin: Array("four".utf8))
        let clean = try await server.cairn(["verify", "--events"] + tenant)
        #expect(clean.status == 0, "\(clean)")
        let anchor = server.scratch("anchor.json")
        try Data(try await server.cairn(["manifest", "--json"] + tenant).stdout).write(to: URL(fileURLWithPath: anchor))

        // Edit event 2 (the quota) in the data file: event 3 no longer follows it.
        try await server.stop()
        let store = server.dataDirectory + "/store"
        try Audit.flipByte(in: store + "/data.mdb", after: Array(#"{"maxBytes":123457"#.utf8), delta: 17)
        try await server.start()
        let edited = try await server.cairn(["verify", "--events"] + tenant)
        #expect(edited.status == 1, "\(edited)")
        #expect(edited.output.contains("BROKEN event 3: event 3 does not follow event 2"), "\(edited)")
        #expect(try await server.cairn(["verify", "--events", "--tenant", "beta"]).status == 0)

        // Remove event 3 as well: the gap is named.
        try await server.stop()
        try withStore(store) { txn, events in try txn.delete(Keys.event(tenant: "acme", seq: 3), in: events) }
        try await server.start()
        let removed = try await server.cairn(["verify", "--events", "--json"] + tenant)
        #expect(removed.status == 1)
        let problems = try Audit.json(removed.output)["problems"]?.arrayValue?.compactMap { $0["message"]?.stringValue }
        #expect(problems?.contains("events 3…3 are missing: they were removed") == true, "\(removed)")

        // Rewriting the last event whole is caught by the chain head a manifest recorded.
        try await server.stop()
        try withStore(store) { txn, events in
            let key = Keys.event(tenant: "acme", seq: 4)
            var record = try EventRecord(decoding: Array(try #require(try txn.get(key, in: events))))
            record.actor = "mallory"
            try txn.put(record.encoded(), for: key, in: events)
        }
        try await server.start()
        let anchored = try await server.cairn(["verify", "--events", "--anchor", anchor] + tenant)
        #expect(anchored.status == 1)
        #expect(anchored.output.contains("event 4 is not the event the anchor recorded"), "\(anchored)")
    }

    /// Opens a stopped server's store with LMDB directly, as an attacker with the file would.
    private func withStore(_ path: String, _ body: (borrowing Transaction, Database) throws -> Void) throws {
        let environment = try Environment(path: path)
        try environment.withWriteTransaction { txn in
            let events = try #require(try txn.openDatabase(DatabaseName.events.rawValue, create: false))
            try body(txn, events)
        }
    }
}
