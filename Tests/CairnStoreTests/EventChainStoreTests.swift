import CairnDigest
import Foundation
import LMDB
import StoreLayout
import Testing

@testable import CairnStore

/// The audit chain in a real store: kept by every write, checked against
/// removed, edited and rewritten events, and built by migration 4 for logs
/// written before it.
@Suite struct EventChainStoreTests {
    let acme = tenant("acme")
    let beta = tenant("beta")

    func writeSomeEvents(_ store: ArtifactStore) async throws {
        let staged = try await stage(store, acme, Array("one".utf8))
        _ = try await store.setQuota(tenant: acme, maxBytes: .set(1000), maxArtifacts: .unchanged, actor: alice)
        _ = try await stage(store, beta, Array("two".utf8))
        _ = try await store.delete(tenant: acme, artifactId: staged.meta.artifactId, actor: alice)
        _ = try await stage(store, acme, Array("three".utf8))
    }

    @Test func everyWriteExtendsTheChain() async throws {
        let fixture = try StoreFixture()
        try await writeSomeEvents(fixture.store)
        let report = try fixture.store.verifyEventChain(tenant: acme)
        #expect(report.problems.isEmpty)
        #expect(report.checkedEvents == 4)
        #expect(report.head.seq == 4)
        // The head anchors itself.
        #expect(try fixture.store.verifyEventChain(tenant: acme, anchor: report.head).problems.isEmpty)
        #expect(
            try fixture.store.verifyEventChain(tenant: tenant("nobody")).head == EventChainHead(seq: 0, sha256: nil))
    }

    @Test func removedEditedAndRewrittenEventsAreReported() async throws {
        let directory = StoreDirectory()
        let anchor = try await directory.withStore { store in
            try await writeSomeEvents(store)
            return try store.verifyEventChain(tenant: acme).head
        }
        func tamper(_ body: (borrowing Transaction, Database) throws -> Void) throws {
            try directory.withRawWriteTransaction { txn in
                try body(txn, try #require(try txn.openDatabase(DatabaseName.events.rawValue, create: false)))
            }
        }
        func rewrite(_ seq: UInt64, _ change: (inout EventRecord) -> Void) throws {
            try tamper { txn, events in
                let key = Keys.event(tenant: "acme", seq: seq)
                var record = try EventRecord(decoding: Array(try #require(try txn.get(key, in: events))))
                change(&record)
                try txn.put(record.encoded(), for: key, in: events)
            }
        }
        // Edit event 2's detail: event 3 no longer follows it.
        try rewrite(2) { $0.detail = #"{"maxBytes":null,"maxArtifacts":null}"# }
        try await directory.withStore { store throws in
            let report = try store.verifyEventChain(tenant: acme)
            #expect(report.problems.map(\.seq) == [3])
            #expect(report.problems.first?.message.hasPrefix("event 3 does not follow event 2") == true)
            #expect(try store.verifyEventChain(tenant: beta).problems.isEmpty)
        }
        // Remove event 3: the gap is named.
        try tamper { txn, events in try txn.delete(Keys.event(tenant: "acme", seq: 3), in: events) }
        try await directory.withStore { store throws in
            let report = try store.verifyEventChain(tenant: acme)
            #expect(report.problems.map(\.message) == ["events 3…3 are missing: they were removed"])
        }
        // Rewrite the last event, chain hash and all: only an anchor recorded earlier tells.
        try rewrite(4) { $0.actor = "mallory" }
        try await directory.withStore { store in
            #expect(try store.verifyEventChain(tenant: acme).problems.count == 1)
            let report = try store.verifyEventChain(tenant: acme, anchor: anchor)
            #expect(report.problems.last?.message.hasPrefix("event 4 is not the event the anchor recorded") == true)
            // Writes go on after tampering, and the break stays visible.
            _ = try await stage(store, acme, Array("four".utf8))
            #expect(try store.verifyEventChain(tenant: acme).problems.count == 1)
        }
        // The last events removed: the tenant's count says so.
        try directory.withRawWriteTransaction { txn in
            let events = try #require(try txn.openDatabase(DatabaseName.events.rawValue, create: false))
            try txn.delete(Keys.event(tenant: "beta", seq: 1), in: events)
        }
        try await directory.withStore { store throws in
            let report = try store.verifyEventChain(tenant: beta)
            #expect(
                report.problems.map(\.message) == [
                    "the log ends at event 0 but the tenant counted 1: the last events were removed"
                ])
        }
    }

    @Test func migrationFourChainsALogWrittenBeforeIt() async throws {
        let directory = StoreDirectory()
        let expected = try await directory.withStore { store in
            try await writeSomeEvents(store)
            return try store.storeManifest()
        }
        // Make it a layout 3 store: events of format 1, without chain hashes.
        try directory.withRawWriteTransaction { txn in
            let events = try #require(try txn.openDatabase(DatabaseName.events.rawValue, create: false))
            var rewritten: [([UInt8], EventRecord)] = []
            try txn.withCursor(on: events) { cursor in
                var entry = try cursor.first()
                while let current = entry {
                    var record = try EventRecord(decoding: Array(current.value))
                    record.previous = nil
                    rewritten.append((Array(current.key), record))
                    entry = try cursor.next()
                }
            }
            for (key, record) in rewritten { try txn.put(record.encoded(), for: key, in: events) }
            let meta = try #require(try txn.openDatabase(DatabaseName.meta.rawValue, create: false))
            try txn.put([0, 0, 0, 3], for: MetaKey.layoutVersion, in: meta)
        }
        #expect(try directory.rawValue(for: Keys.event(tenant: "acme", seq: 1), in: .events)?.first == 1)
        try await directory.withStore { store throws in
            #expect(store.layoutVersion == Layout.currentVersion)
            #expect(try store.storeManifest() == expected)
            for tenant in [acme, beta] { #expect(try store.verifyEventChain(tenant: tenant).problems.isEmpty) }
        }
        #expect(try directory.rawValue(for: Keys.event(tenant: "acme", seq: 1), in: .events)?.first == 2)
    }

    @Test func migrationFourRewritesALongLogExactlyOnceAcrossPageSplits() async throws {
        let directory = StoreDirectory()
        try await directory.withStore { _ in }
        let tenants = ["a", "b.b", "c-c"]
        let count: UInt64 = 1500
        // Format 1 events written directly, as a layout 3 store holds them; each rewrite grows by 36 bytes.
        try directory.withRawWriteTransaction { txn in
            let events = try #require(try txn.openDatabase(DatabaseName.events.rawValue, create: false))
            let records = try #require(try txn.openDatabase(DatabaseName.tenants.rawValue, create: false))
            for tenant in tenants {
                for seq in 1...count {
                    let event = EventRecord(
                        at: Int64(seq), actor: "alice", action: "quota.set", detail: #"{"maxBytes":\#(seq)}"#)
                    try txn.put(event.encoded(), for: Keys.event(tenant: tenant, seq: seq), in: events)
                }
                var record = TenantRecord()
                record.nextEventSeq = count + 1
                try txn.put(record.encoded(), for: Keys.tenant(tenant), in: records)
            }
            let meta = try #require(try txn.openDatabase(DatabaseName.meta.rawValue, create: false))
            try txn.put([0, 0, 0, 3], for: MetaKey.layoutVersion, in: meta)
        }
        try await directory.withStore { store throws in
            for tenant in tenants {
                let report = try store.verifyEventChain(tenant: TenantID(tenant)!)
                #expect(report.problems.isEmpty, "\(tenant): \(report.problems.prefix(3))")
                #expect(report.checkedEvents == count)
                #expect(report.head.seq == count)
            }
        }
        #expect(try directory.rawCount(of: .events) == tenants.count * Int(count))
    }
}
