import CairnDigest
import Testing

@Suite struct SHA256HasherTests {
    /// FIPS 180-2 and NIST example vectors.
    static let vectors: [(input: String, digest: String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "The quick brown fox jumps over the lazy dog",
            "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"
        ),
    ]

    @Test(arguments: vectors)
    func oneShotMatchesKnownVector(input: String, digest: String) {
        #expect(SHA256Hasher.digest(Array(input.utf8)).hex == digest)
        Array(input.utf8).withUnsafeBytes { buffer in
            #expect(SHA256Hasher.digest(buffer).hex == digest)
        }
    }

    @Test(arguments: vectors)
    func incrementalByteByByteMatchesKnownVector(input: String, digest: String) {
        var hasher = SHA256Hasher()
        for byte in input.utf8 { hasher.update([byte]) }
        #expect(hasher.finalize().hex == digest)
    }

    @Test func emptyUpdatesChangeNothing() {
        var hasher = SHA256Hasher()
        hasher.update([])
        hasher.update(UnsafeRawBufferPointer(start: nil, count: 0))
        hasher.update(Array("abc".utf8))
        hasher.update([])
        #expect(hasher.finalize().hex == Self.vectors[1].digest)
        #expect(SHA256Hasher.digest(UnsafeRawBufferPointer(start: nil, count: 0)).hex == Self.vectors[0].digest)
    }

    @Test func millionAsInUnevenPiecesMatchesKnownVector() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let input = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256Hasher.digest(input).hex == expected)

        var hasher = SHA256Hasher()
        var offset = 0
        var piece = 1
        input.withUnsafeBytes { all in
            while offset < all.count {
                let end = min(all.count, offset + piece)
                hasher.update(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
                piece = piece * 3 % 65_537 + 1  // 1, 4, 13, 40, … sizes that straddle 64-byte blocks
            }
        }
        #expect(hasher.finalize().hex == expected)
    }

    @Test func largeInputIncrementalEqualsOneShot() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let input = (0..<(3 << 20) + 17).map { _ -> UInt8 in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        var hasher = SHA256Hasher()
        for start in stride(from: 0, to: input.count, by: 65_521) {
            hasher.update(Array(input[start..<min(input.count, start + 65_521)]))
        }
        #expect(hasher.finalize() == SHA256Hasher.digest(input))
    }

    @Test func copyContinuesIndependently() {
        var hasher = SHA256Hasher()
        hasher.update(Array("ab".utf8))
        var tentative = hasher.copy()
        tentative.update(Array("c".utf8))
        tentative.update(Array(" and more".utf8))
        #expect(tentative.finalize() == SHA256Hasher.digest(Array("abc and more".utf8)))
        hasher.update(Array("c".utf8))
        #expect(hasher.finalize().hex == Self.vectors[1].digest)
    }
}
