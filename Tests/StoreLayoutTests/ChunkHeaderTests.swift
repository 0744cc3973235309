import CairnDigest
import StoreLayout
import Testing

/// The header in front of a chunk's data: written in the XXH3 form, and
/// checked in whichever form it holds.
@Suite struct ChunkHeaderTests {
    static let data: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    func matches(_ header: [UInt8], _ data: [UInt8]) -> Bool {
        header.withUnsafeBytes { header in data.withUnsafeBytes { ChunkHeader.matches(header, data: $0) } }
    }

    func form(_ header: [UInt8]) -> ChunkHeader.Form {
        header.withUnsafeBytes { ChunkHeader.form(of: $0) }
    }

    func header(for data: [UInt8]) -> ChunkHeader {
        data.withUnsafeBytes { ChunkHeader(for: $0) }
    }

    @Test func anXXH3HeaderIsTheCanonicalHashThenTheMarker() {
        let header = header(for: Self.data).bytes
        #expect(header.count == ChunkHeader.byteCount)
        #expect(Array(header[..<16]) == XXH3Hash128.hash(Self.data).bytes)
        #expect(Array(header[16...]) == Array("cairn-chunk-xxh3".utf8))
        #expect(ChunkHeader.xxh3Marker == Array("cairn-chunk-xxh3".utf8))
        #expect(form(header) == .xxh3)
        #expect(matches(header, Self.data))
    }

    @Test func theHeaderOfTheEmptyDataIsTheEmptyHash() {
        let header = ChunkHeader(for: UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(header.xxh3.hex == "99aa06d3014798d86001c324468d497f")
        #expect(matches(header.bytes, []))
    }

    @Test func writeFillsExactlyThirtyTwoBytes() {
        var out = [UInt8](repeating: 0xEE, count: 40)
        out.withUnsafeMutableBytes { header(for: Self.data).write(to: $0) }
        #expect(Array(out[..<32]) == header(for: Self.data).bytes)
        #expect(Array(out[32...]) == [UInt8](repeating: 0xEE, count: 8))
    }

    @Test func aSHA256HeaderOfLayoutsOneToFourStillMatches() {
        let header = SHA256Hasher.digest(Self.data).bytes
        #expect(form(header) == .sha256)
        #expect(matches(header, Self.data))
        var changed = Self.data
        changed[4000] ^= 0x01
        #expect(!matches(header, changed))
    }

    @Test func aWrongXXH3HashFails() {
        for position in [0, 7, 15] {
            var header = header(for: Self.data).bytes
            header[position] ^= 0x80
            #expect(form(header) == .xxh3)
            #expect(!matches(header, Self.data))
        }
    }

    @Test func changedDataFailsItsXXH3Header() {
        let header = header(for: Self.data).bytes
        for position in [0, 2500, 4999] {
            var changed = Self.data
            changed[position] ^= 0x01
            #expect(!matches(header, changed))
        }
        #expect(!matches(header, Array(Self.data.dropLast())))
    }

    @Test func aDamagedMarkerMakesItASHA256HeaderThatFails() {
        var header = header(for: Self.data).bytes
        header[31] ^= 0x01
        #expect(form(header) == .sha256)
        #expect(!matches(header, Self.data))
    }

    @Test func aSHA256HeaderIsTakenForXXH3OnlyWhenItEndsInTheMarker() {
        // Made up, as no real SHA-256 ending in the marker is known (2^-128):
        // such a header is read as XXH3 and fails against the data.
        let header = Array(SHA256Hasher.digest(Self.data).bytes[..<16]) + ChunkHeader.xxh3Marker
        #expect(form(header) == .xxh3)
        #expect(!matches(header, Self.data))
    }
}
