import Testing

@testable import BackupRepository

struct RepositoryCipherTests {
    static let key = try! RepositoryKey(keyFile: Array("0123456789abcdef0123456789abcdef-key\n".utf8), salt: [1, 2, 3])
    static let sealed = RepositoryCipher.aes256GCM(key)

    static func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test(arguments: [
        0, 1, RepositoryCipher.segmentSize - 1, RepositoryCipher.segmentSize, 2 * RepositoryCipher.segmentSize + 5,
    ])
    func aSealedObjectOpensToItsPlaintextAndHasTheComputedLength(count: Int) throws {
        let plaintext = Self.bytes(count)
        let stored = try Self.sealed.sealObject(plaintext, object: "data/p")
        #expect(Int64(stored.count) == Self.sealed.storedLength(plaintextLength: Int64(count)))
        #expect(try Self.sealed.openObject(stored, object: "data/p") == plaintext)
        #expect(stored != plaintext || count == 0)
        // In clear, the object is its plaintext.
        #expect(try RepositoryCipher.plain.sealObject(plaintext, object: "data/p") == plaintext)
    }

    @Test func aFlippedByteAnotherNameAnotherKeyOrADroppedLastSegmentDoNotOpen() throws {
        let plaintext = Self.bytes(RepositoryCipher.segmentSize + 100)
        let stored = try Self.sealed.sealObject(plaintext, object: "data/p")
        var flipped = stored
        flipped[10] ^= 1
        #expect(throws: RepositoryError.self) { try Self.sealed.openObject(flipped, object: "data/p") }
        #expect(throws: RepositoryError.self) { try Self.sealed.openObject(stored, object: "data/q") }
        let other = RepositoryCipher.aes256GCM(
            try RepositoryKey(keyFile: Array("another key of at least thirty-two bytes".utf8), salt: [1, 2, 3]))
        #expect(throws: RepositoryError.self) { try other.openObject(stored, object: "data/p") }
        // The first segment alone claims not to be the last: a truncated object does not open.
        let firstOnly = Array(stored.prefix(RepositoryCipher.segmentSize + RepositoryCipher.tagSize))
        #expect(throws: RepositoryError.self) { try Self.sealed.openObject(firstOnly, object: "data/p") }
    }

    @Test func aShortKeyFileIsRefusedAndTrailingNewlinesDoNotCount() throws {
        #expect(throws: RepositoryError.self) { try RepositoryKey(keyFile: Array("short\n".utf8), salt: []) }
        let a = try RepositoryKey(keyFile: Array("0123456789abcdef0123456789abcdef".utf8), salt: [9])
        let b = try RepositoryKey(keyFile: Array("0123456789abcdef0123456789abcdef\n\n".utf8), salt: [9])
        let digest = [UInt8](repeating: 0xab, count: 32)
        #expect(a.blobName(sha256: digest) == b.blobName(sha256: digest))
        // A blob's name is neither its digest nor the same under another salt.
        let c = try RepositoryKey(keyFile: Array("0123456789abcdef0123456789abcdef".utf8), salt: [8])
        #expect(a.blobName(sha256: digest) != c.blobName(sha256: digest))
        #expect(a.blobName(sha256: digest) != digest.hexString)
        #expect(a.blobName(sha256: digest).count == 64)
    }

    @Test func theSegmentsCoveringARangeAreWhereTheyAreStored() throws {
        let size = Int64(RepositoryCipher.segmentSize)
        let stride = size + Int64(RepositoryCipher.tagSize)
        let length = 3 * size + 10
        let span = Self.sealed.segments(covering: size + 5..<2 * size + 1, plaintextLength: length)
        #expect(span.first == 1 && span.last == 2 && span.finalSegment == 3)
        #expect(span.storedRange == stride..<3 * stride)
        #expect(span.plaintextStart == size)
        let tail = Self.sealed.segments(covering: 3 * size..<3 * size + 10, plaintextLength: length)
        #expect(tail.storedRange == 3 * stride..<3 * stride + 10 + 16)
        // Reading the stored range and opening its segments gives the plaintext range.
        let plaintext = Self.bytes(Int(length))
        let stored = try Self.sealed.sealObject(plaintext, object: "data/x")
        let piece = Array(stored[Int(span.storedRange.lowerBound)..<Int(span.storedRange.upperBound)])
        var opened: [UInt8] = []
        for (offset, index) in (span.first...span.last).enumerated() {
            let start = offset * Int(stride)
            opened += try Self.sealed.open(
                piece[start..<min(piece.count, start + Int(stride))], index: index,
                isFinal: index == span.finalSegment, object: "data/x")
        }
        #expect(opened == Array(plaintext[Int(size)..<Int(3 * size)]))
        let plain = RepositoryCipher.plain.segments(covering: 10..<20, plaintextLength: 100)
        #expect(plain.storedRange == 0..<100)
    }
}
