import StoreLayout
import Testing

/// Every record type: exact bytes, round trips, and refusal of damaged values.
@Suite struct RecordsTests {
    static let digest = [UInt8](repeating: 0xAB, count: 32)

    static func artifact() -> ArtifactRecord {
        ArtifactRecord(
            tenant: "acme", providerId: "excititor:oci-openvex", mimeType: "application/json", sizeBytes: 1 << 33,
            sha256: digest, stagedAt: 1_800_000_000_123, stagedBy: "uid:1001", listSeq: 42)
    }

    static func blob() -> BlobRecord {
        BlobRecord(sizeBytes: 3 << 20, refCount: 7, extent: 99, chunkSize: 1 << 20, storedAt: -1)
    }

    static func upload(declaredSize: UInt64?, expectedSHA256: [UInt8]?) -> UploadRecord {
        UploadRecord(
            tenant: "t", providerId: "p", mimeType: "text/plain; charset=utf-8", owner: "bob",
            declaredSize: declaredSize,
            expectedSHA256: expectedSHA256, extent: .max, chunkSize: 4096, offset: 12_345, startedAt: 1, updatedAt: 2)
    }

    static func tenant(quotas: Bool) -> TenantRecord {
        var record = TenantRecord()
        record.artifactCount = 3
        record.logicalBytes = 300
        record.storedBytes = 200
        record.maxBytes = quotas ? 1000 : nil
        record.maxArtifacts = quotas ? 0 : nil
        record.nextListSeq = 4
        record.nextEventSeq = .max
        return record
    }

    static func event(full: Bool) -> EventRecord {
        full
            ? EventRecord(
                at: 5, actor: "alice", action: "artifact.created", artifactId: Array(0..<16), sha256: digest,
                providerId: "p", detail: #"{"sizeBytes":1}"#)
            : EventRecord(at: -5, actor: "", action: "quota.set")
    }

    /// Round-trips `record`, then checks that every truncation, a trailing
    /// byte and an unknown format are refused.
    func checkCoding<R: LayoutRecord>(_ record: R) throws {
        let bytes = record.encoded()
        #expect(bytes.first == 1, "format 1")
        #expect(try R(decoding: bytes) == record)
        for length in 0..<bytes.count {
            #expect(throws: LayoutDecodingError.self, "truncated to \(length) of \(bytes.count)") {
                try R(decoding: Array(bytes[..<length]))
            }
        }
        #expect(throws: LayoutDecodingError.self, "a trailing byte") { try R(decoding: bytes + [0]) }
        for format: UInt8 in [0, 2, 0xFF] {
            var other = bytes
            other[0] = format
            #expect(throws: LayoutDecodingError.self, "format \(format)") { try R(decoding: other) }
        }
    }

    @Test func tenantRecord() throws {
        try checkCoding(TenantRecord())
        try checkCoding(Self.tenant(quotas: true))
        try checkCoding(Self.tenant(quotas: false))
    }

    @Test func artifactRecord() throws {
        try checkCoding(Self.artifact())
        var empty = Self.artifact()
        empty.tenant = ""
        empty.mimeType = "tëxt/✓"
        empty.sizeBytes = 0
        try checkCoding(empty)
    }

    @Test func blobRecord() throws {
        try checkCoding(Self.blob())
    }

    @Test func uploadRecord() throws {
        try checkCoding(Self.upload(declaredSize: nil, expectedSHA256: nil))
        try checkCoding(Self.upload(declaredSize: 0, expectedSHA256: Self.digest))
        try checkCoding(Self.upload(declaredSize: .max, expectedSHA256: nil))
    }

    @Test func eventRecord() throws {
        try checkCoding(Self.event(full: true))
        try checkCoding(Self.event(full: false))
    }

    @Test func providerConfigRecord() throws {
        try checkCoding(ProviderConfigRecord(revision: 1, updatedAt: 0, updatedBy: "uid:0", values: []))
        try checkCoding(
            ProviderConfigRecord(
                revision: 7, updatedAt: -5, updatedBy: "root",
                values: [
                    .init(key: "cosignKey", shape: .artifactRef, items: ["0b9c7f3e-52f4-4e55-9a43-3f0b1e0c2d11"]),
                    .init(key: "empty", shape: .listOfStrings, items: []),
                    .init(key: "images", shape: .listOfStrings, items: ["a", "b:c", "ümlaut"]),
                    .init(key: "mode", shape: .scalar, items: ["keyless"]),
                    .init(key: "refs", shape: .listOfArtifactRefs, items: ["x", "y"]),
                ]))
    }

    @Test func exactBytesOfAProviderConfigRecord() throws {
        let record = ProviderConfigRecord(
            revision: 2, updatedAt: 3, updatedBy: "u", values: [.init(key: "k", shape: .listOfStrings, items: ["v"])])
        #expect(
            record.encoded() == [1] + [0, 0, 0, 0, 0, 0, 0, 2] + [0, 0, 0, 0, 0, 0, 0, 3] + [0, 0, 0, 1, 0x75]
                + [0, 0, 0, 1] + [0, 0, 0, 1, 0x6B] + [1] + [0, 0, 0, 1] + [0, 0, 0, 1, 0x76])
        var unknownShape = record.encoded()
        unknownShape[31] = 9
        #expect(throws: LayoutDecodingError.self) { try ProviderConfigRecord(decoding: unknownShape) }
    }

    @Test func aNewTenantHasZeroUsageNoQuotasAndCountersAtOne() throws {
        let record = TenantRecord()
        #expect(record.artifactCount == 0 && record.logicalBytes == 0 && record.storedBytes == 0)
        #expect(record.maxBytes == nil && record.maxArtifacts == nil)
        #expect(record.nextListSeq == 1 && record.nextEventSeq == 1)
        let one: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 1]
        let zero = [UInt8](repeating: 0, count: 8)
        #expect(record.encoded() == [1] + zero + zero + zero + [0, 0] + one + one)
    }

    @Test func exactBytesOfAnArtifactRecord() throws {
        let record = ArtifactRecord(
            tenant: "a", providerId: "p", mimeType: "t", sizeBytes: 5, sha256: Self.digest, stagedAt: -1, stagedBy: "u",
            listSeq: 2)
        let expected: [UInt8] =
            [1]
            + [0, 0, 0, 1, 0x61] + [0, 0, 0, 1, 0x70] + [0, 0, 0, 1, 0x74]
            + [0, 0, 0, 0, 0, 0, 0, 5]
            + [0, 0, 0, 32] + Self.digest
            + [UInt8](repeating: 0xFF, count: 8)
            + [0, 0, 0, 1, 0x75]
            + [0, 0, 0, 0, 0, 0, 0, 2]
        #expect(record.encoded() == expected)
    }

    @Test func exactBytesOfABlobAndAnEventRecord() throws {
        #expect(
            BlobRecord(sizeBytes: 1, refCount: 2, extent: 3, chunkSize: 4, storedAt: 5).encoded() == [1]
                + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 2] + [0, 0, 0, 0, 0, 0, 0, 3] + [0, 0, 0, 4]
                + [0, 0, 0, 0, 0, 0, 0, 5])
        #expect(
            EventRecord(at: 1, actor: "a", action: "b", providerId: "p").encoded() == [1]
                + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 1, 0x61] + [0, 0, 0, 1, 0x62]
                + [0] + [0] + [1, 0, 0, 0, 1, 0x70] + [0])
    }

    @Test func anArtifactDigestMustBeThirtyTwoBytes() {
        for count in [0, 31, 33] {
            var record = Self.artifact()
            record.sha256 = [UInt8](repeating: 1, count: count)
            #expect(throws: LayoutDecodingError.self) { try ArtifactRecord(decoding: record.encoded()) }
        }
    }

    @Test func aZeroChunkSizeIsRefused() {
        var blob = Self.blob()
        blob.chunkSize = 0
        #expect(throws: LayoutDecodingError.self) { try BlobRecord(decoding: blob.encoded()) }
        var upload = Self.upload(declaredSize: nil, expectedSHA256: nil)
        upload.chunkSize = 0
        #expect(throws: LayoutDecodingError.self) { try UploadRecord(decoding: upload.encoded()) }
    }

    @Test func aPresenceByteOtherThanZeroOrOneIsRefused() throws {
        var bytes = TenantRecord().encoded()
        // artifactCount, logicalBytes, storedBytes, then maxBytes' presence byte.
        #expect(bytes[25] == 0)
        bytes[25] = 2
        let error = #expect(throws: LayoutDecodingError.self) { try TenantRecord(decoding: bytes) }
        #expect(error?.record == "TenantRecord")
    }

    @Test func invalidUTF8IsRefused() {
        var bytes = Self.artifact().encoded()
        // The first byte of the tenant's text.
        bytes[5] = 0xFF
        #expect(throws: LayoutDecodingError.self) { try ArtifactRecord(decoding: bytes) }
    }

    @Test func aLengthPastTheEndIsRefused() {
        var bytes = Self.artifact().encoded()
        bytes.replaceSubrange(1..<5, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: LayoutDecodingError.self) { try ArtifactRecord(decoding: bytes) }
    }

    @Test func blobChunkCount() {
        #expect(BlobRecord(sizeBytes: 0, refCount: 1, extent: 1, chunkSize: 10, storedAt: 0).chunkCount == 0)
        #expect(BlobRecord(sizeBytes: 10, refCount: 1, extent: 1, chunkSize: 10, storedAt: 0).chunkCount == 1)
        #expect(BlobRecord(sizeBytes: 11, refCount: 1, extent: 1, chunkSize: 10, storedAt: 0).chunkCount == 2)
    }

    @Test func chunkGeometry() {
        let standard = ChunkGeometry.standard
        #expect(standard.chunkSize == 1 << 20)
        #expect(ChunkHeader.byteCount == 32)
        #expect(standard.chunkCount(for: 0) == 0)
        #expect(standard.chunkCount(for: 1) == 1)
        #expect(standard.chunkCount(for: 1 << 20) == 1)
        #expect(standard.chunkCount(for: (1 << 20) + 1) == 2)
        #expect(standard.chunkCount(for: 4 << 30) == 4096)
        #expect(standard.position(of: 0) == (0, 0))
        #expect(standard.position(of: (1 << 20) - 1) == (0, (1 << 20) - 1))
        #expect(standard.position(of: 1 << 20) == (1, 0))
        #expect(standard.position(of: (3 << 20) + 5) == (3, 5))
    }
}
