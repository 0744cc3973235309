import CairnDigest
import StoreLayout
import Testing

/// The audit chain: hashes recomputed independently (the expected values
/// were computed with Python's hashlib from the byte layout in
/// docs/auditing.md), event records of format 2, and migration 4.
@Suite struct EventChainTests {
    static let first = EventRecord(
        at: 1_800_000_000_000, actor: "alice", action: "quota.set", detail: #"{"maxBytes":5,"maxArtifacts":null}"#)
    static let second = EventRecord(
        at: 1_800_000_000_001, actor: "bob", action: "artifact.created", artifactId: Array(0..<16),
        sha256: [UInt8](repeating: 0xAB, count: 32), providerId: "p", detail: #"{"sizeBytes":1,"deduplicated":false}"#)

    @Test func hashesMatchAnIndependentComputation() {
        let one = EventChain.hash(tenant: "acme", seq: 1, previous: EventChain.origin, event: Self.first)
        #expect(SHA256Digest(bytes: one)?.hex == "3d3f38b787e5ac6b7ade6d3a9d722ef9f3c0eb3a56bd2c7be541992c3d403fac")
        let two = EventChain.hash(tenant: "acme", seq: 2, previous: one, event: Self.second)
        #expect(SHA256Digest(bytes: two)?.hex == "37dfa8a626b9d21660a4b47468be810cab1a45c84e932f99353c294555875622")
        // The stored previous hash is not part of the fields hashed: only the `previous` argument is.
        var chained = Self.second
        chained.previous = one
        #expect(EventChain.hash(tenant: "acme", seq: 2, previous: one, event: chained) == two)
        // Tenant, position and every field count.
        #expect(EventChain.hash(tenant: "acmf", seq: 1, previous: EventChain.origin, event: Self.first) != one)
        #expect(EventChain.hash(tenant: "acme", seq: 2, previous: EventChain.origin, event: Self.first) != one)
        var edited = Self.first
        edited.detail = #"{"maxBytes":6,"maxArtifacts":null}"#
        #expect(EventChain.hash(tenant: "acme", seq: 1, previous: EventChain.origin, event: edited) != one)
    }

    @Test func formatTwoRecordsCarryThePreviousHash() throws {
        var record = Self.second
        record.previous = [UInt8](repeating: 7, count: 32)
        let bytes = record.encoded()
        #expect(bytes.first == 2)
        #expect(Array(bytes.suffix(36)) == [0, 0, 0, 32] + [UInt8](repeating: 7, count: 32))
        #expect(try EventRecord(decoding: bytes) == record)
        #expect(Self.second.encoded().first == 1)
        #expect(try EventRecord(decoding: Self.second.encoded()).previous == nil)
        for length in 0..<bytes.count {
            #expect(throws: LayoutDecodingError.self) { try EventRecord(decoding: Array(bytes[..<length])) }
        }
        record.previous = [1, 2, 3]
        #expect(throws: LayoutDecodingError.self) { try EventRecord(decoding: record.encoded()) }
    }

    @Test func eventKeysSplitIntoTenantAndSequence() {
        let position = EventChain.position(of: Keys.event(tenant: "a.b-c", seq: 77))
        #expect(position?.tenant == "a.b-c")
        #expect(position?.seq == 77)
        #expect(EventChain.position(of: [0, 1, 2]) == nil)
        #expect(EventChain.position(of: Array("acme".utf8) + [1] + [0, 0, 0, 0, 0, 0, 0, 1]) == nil)
    }

    @Test func migrationFourChainsEveryTenantsLogFromItsStart() throws {
        let storage = LayoutTests.MemoryStorage()
        let logs: [(String, [EventRecord])] = [
            ("acme", [Self.first, Self.second, Self.first]), ("b", [Self.second]),
        ]
        for (tenant, events) in logs {
            for (index, event) in events.enumerated() {
                try storage.setValue(
                    event.encoded(), for: Keys.event(tenant: tenant, seq: UInt64(index + 1)), in: .events)
            }
        }
        try Layout.migration(producing: 4).apply(to: storage)
        for (tenant, events) in logs {
            var previous = EventChain.origin
            for (index, event) in events.enumerated() {
                let seq = UInt64(index + 1)
                let stored = try EventRecord(
                    decoding: try #require(try storage.value(for: Keys.event(tenant: tenant, seq: seq), in: .events)))
                var expected = event
                expected.previous = previous
                #expect(stored == expected, "\(tenant) event \(seq)")
                previous = EventChain.hash(tenant: tenant, seq: seq, previous: previous, event: event)
            }
        }
    }
}
