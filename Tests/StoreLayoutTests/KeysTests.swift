import StoreLayout
import Testing

/// Key encodings: exact bytes, numeric order, and tenant ranges that never
/// overlap.
@Suite struct KeysTests {
    let digestLow = [UInt8](repeating: 0x00, count: 32)
    let digestHigh = [UInt8](repeating: 0xFF, count: 32)
    let idLow = UUIDBytes([UInt8](repeating: 0x00, count: 16))!
    let idHigh = UUIDBytes([UInt8](repeating: 0xFF, count: 16))!

    /// Every kind of per-tenant key, at the lowest and highest values.
    func tenantKeys(_ tenant: String) -> [[UInt8]] {
        [
            Keys.tenant(tenant),
            Keys.tenantArtifact(tenant: tenant, listSeq: 0),
            Keys.tenantArtifact(tenant: tenant, listSeq: .max),
            Keys.providerPrefix(tenant: tenant, providerId: "0"),
            Keys.providerArtifact(tenant: tenant, providerId: "0", listSeq: 0),
            Keys.providerArtifact(tenant: tenant, providerId: String(repeating: "z", count: 128), listSeq: .max),
            Keys.blob(tenant: tenant, sha256: digestLow),
            Keys.blob(tenant: tenant, sha256: digestHigh),
            Keys.blobArtifact(tenant: tenant, sha256: digestLow, artifactId: idLow),
            Keys.blobArtifact(tenant: tenant, sha256: digestHigh, artifactId: idHigh),
            Keys.event(tenant: tenant, seq: 0),
            Keys.event(tenant: tenant, seq: .max),
        ]
    }

    @Test func exactBytes() {
        #expect(Keys.tenant("ab") == [0x61, 0x62, 0x00])
        #expect(Keys.tenantArtifact(tenant: "a", listSeq: 0x0102) == [0x61, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02])
        #expect(Keys.event(tenant: "a", seq: 1) == [0x61, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(Keys.providerPrefix(tenant: "a", providerId: "p:q") == [0x61, 0, 0x70, 0x3A, 0x71, 0])
        #expect(
            Keys.providerArtifact(tenant: "a", providerId: "p", listSeq: 3) == [
                0x61, 0, 0x70, 0, 0, 0, 0, 0, 0, 0, 0, 3,
            ])
        #expect(Keys.blob(tenant: "a", sha256: digestHigh) == [0x61, 0] + digestHigh)
        #expect(
            Keys.blobArtifact(tenant: "a", sha256: digestLow, artifactId: idHigh) == [0x61, 0] + digestLow
                + idHigh.bytes)
        #expect(Keys.extent(0x0102_0304_0506_0708) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(Keys.chunk(extent: 1, index: 0x0A0B_0C0D) == [0, 0, 0, 0, 0, 0, 0, 1, 0x0A, 0x0B, 0x0C, 0x0D])
        let id = UUIDBytes(Array(1...16))!
        #expect(Keys.artifact(tenant: "a", id: id) == [0x61, 0] + Array(1...16))
        #expect(Keys.legacyArtifact(id) == Array(1...16))
        #expect(Keys.upload(id) == Array(1...16))
    }

    @Test func providerConfigurationKeys() throws {
        #expect(Keys.providerConfig(tenant: "a", providerId: "p:q") == [0x61, 0, 0x70, 0x3A, 0x71])
        let id = UUIDBytes(Array(1...16))!
        let key = Keys.artifactReference(tenant: "a", artifactId: id, providerId: "p", field: "key")
        #expect(key == [0x61, 0] + Array(1...16) + [0x70, 0, 0x6B, 0x65, 0x79])
        #expect(key.starts(with: Keys.artifact(tenant: "a", id: id)))
        let parts = try #require(Keys.referenceParts(of: key, afterPrefixOf: 18))
        #expect(parts.providerId == "p" && parts.field == "key")
        let legacy = Keys.legacyArtifactReference(artifactId: id, providerId: "p", field: "key")
        #expect(legacy == Array(1...16) + [0x70, 0, 0x6B, 0x65, 0x79])
        let legacyParts = try #require(Keys.referenceParts(of: legacy, afterPrefixOf: 16))
        #expect(legacyParts.providerId == "p" && legacyParts.field == "key")
        #expect(Keys.referenceParts(of: Array(1...16), afterPrefixOf: 16) == nil)
        #expect(Keys.referenceParts(of: Array(1...16) + [0x70], afterPrefixOf: 16) == nil)
    }

    @Test func sequencesSortNumerically() {
        let values: [UInt64] = [0, 1, 255, 256, 65_535, 1 << 32, .max - 1, .max]
        for (lower, higher) in zip(values, values.dropFirst()) {
            #expect(
                Keys.tenantArtifact(tenant: "t", listSeq: lower).lexicographicallyPrecedes(
                    Keys.tenantArtifact(tenant: "t", listSeq: higher)))
            #expect(Keys.event(tenant: "t", seq: lower).lexicographicallyPrecedes(Keys.event(tenant: "t", seq: higher)))
            #expect(Keys.extent(lower).lexicographicallyPrecedes(Keys.extent(higher)))
        }
        #expect(Keys.chunk(extent: 1, index: 255).lexicographicallyPrecedes(Keys.chunk(extent: 1, index: 256)))
        #expect(Keys.chunk(extent: 1, index: .max).lexicographicallyPrecedes(Keys.chunk(extent: 2, index: 0)))
        // An extent's chunks all start with its key, the garbage entry's key.
        #expect(Keys.chunk(extent: 7, index: 9).starts(with: Keys.extent(7)))
    }

    @Test(arguments: [("a", "ab"), ("a", "a0"), ("a", "a.b"), ("a", "a-b"), ("a", "a_"), ("ab", "abc"), ("x", "xy.z")])
    func aTenantsKeysNeverFallInsideAnotherTenantsRange(shorter: String, longer: String) {
        for (one, other) in [(shorter, longer), (longer, shorter)] {
            let prefix = Keys.tenant(other)
            for key in tenantKeys(one) {
                #expect(!key.starts(with: prefix), "a key of \(one) is in the range of \(other)")
            }
        }
        // The ranges are disjoint and ordered: every key of one tenant sorts
        // on the same side of every key of the other.
        let keysOfShorter = tenantKeys(shorter)
        let keysOfLonger = tenantKeys(longer)
        let shorterFirst = keysOfShorter[0].lexicographicallyPrecedes(keysOfLonger[0])
        for a in keysOfShorter {
            for b in keysOfLonger {
                #expect(a.lexicographicallyPrecedes(b) == shorterFirst)
            }
        }
    }

    @Test func aProvidersKeysNeverFallInsideAnotherProvidersRange() {
        let prefix = Keys.providerPrefix(tenant: "t", providerId: "p")
        for providerId in ["p:x", "p.x", "p-x", "pp", "p0"] {
            #expect(!Keys.providerArtifact(tenant: "t", providerId: providerId, listSeq: 0).starts(with: prefix))
            #expect(!Keys.providerArtifact(tenant: "t", providerId: providerId, listSeq: .max).starts(with: prefix))
        }
        #expect(Keys.providerArtifact(tenant: "t", providerId: "p", listSeq: .max).starts(with: prefix))
        // Provider listing keys stay inside their tenant's range.
        #expect(Keys.providerArtifact(tenant: "t", providerId: "p", listSeq: 1).starts(with: Keys.tenant("t")))
        #expect(!Keys.providerArtifact(tenant: "t", providerId: "p", listSeq: 1).starts(with: Keys.tenant("tp")))
    }

    @Test func trailingSequenceReadsWhatWasWritten() {
        for value: UInt64 in [0, 1, 0x0102_0304_0506_0708, .max] {
            #expect(Keys.trailingSequence(of: Keys.tenantArtifact(tenant: "acme", listSeq: value)) == value)
            #expect(Keys.trailingSequence(of: Keys.event(tenant: "acme", seq: value)) == value)
            #expect(
                Keys.trailingSequence(of: Keys.providerArtifact(tenant: "a", providerId: "p", listSeq: value)) == value)
        }
        #expect(Keys.trailingSequence(of: [1, 2, 3, 4, 5, 6, 7]) == nil)
        #expect(Keys.trailingSequence(of: [UInt8]()) == nil)
    }

    @Test func chunkPositionReadsWhatWasWritten() {
        for (extent, index): (UInt64, UInt32) in [(0, 0), (1, 2), (.max, .max), (0x0102_0304_0506_0708, 0x0A0B_0C0D)] {
            let position = Keys.chunkPosition(of: Keys.chunk(extent: extent, index: index))
            #expect(position?.extent == extent && position?.index == index)
        }
        #expect(Keys.chunkPosition(of: [UInt8](repeating: 0, count: 11)) == nil)
        #expect(Keys.chunkPosition(of: [UInt8](repeating: 0, count: 13)) == nil)
        #expect(Keys.chunkPosition(of: Keys.extent(1)) == nil)
    }

    @Test func uuidBytesAreExactlySixteen() {
        #expect(UUIDBytes([UInt8](repeating: 1, count: 15)) == nil)
        #expect(UUIDBytes([UInt8](repeating: 1, count: 17)) == nil)
        #expect(UUIDBytes([UInt8]()) == nil)
        #expect(UUIDBytes(Array(0..<16))?.bytes == Array(0..<16))
    }

    @Test func appendBigEndianWritesMostSignificantFirst() {
        var bytes: [UInt8] = [9]
        bytes.appendBigEndian(UInt32(0x0102_0304))
        bytes.appendBigEndian(Int64(-2))
        bytes.appendBigEndian(UInt8(7))
        #expect(bytes == [9, 1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 7])
    }
}
