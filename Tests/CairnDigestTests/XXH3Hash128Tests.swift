import CairnDigest
import Testing

@Suite struct XXH3Hash128Tests {
    /// Byte `i` of the test inputs: a pattern that any tool can reproduce.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    /// Computed independently with `xxhsum -H2` (xxHash 0.8.1) over files of
    /// ``pattern(_:)`` bytes; the lengths cover each of XXH3's code paths
    /// (0, 1–3, 4–8, 9–16, 17–128, 129–240 bytes, and long inputs).
    static let vectors: [(count: Int, hash: String)] = [
        (0, "99aa06d3014798d86001c324468d497f"),
        (1, "495b62073ef70ca44c5cca45d0f4811f"),
        (3, "46f66cb93538156515f7093b173d005c"),
        (4, "7fefeeffb4d0eab3b987ca5d9241572a"),
        (8, "803c675a846cc6c256bb836ceb6d4baa"),
        (9, "d46556872d230f224376673580310154"),
        (16, "650fe308c566747df853dd94614dfa07"),
        (17, "18217300b5132d5a78c349fe81b2f26c"),
        (128, "b4f87b99d2db8a511e04fad9f0cacb4d"),
        (129, "6881633650cd8924c51bc887976aef63"),
        (240, "de57aab31e77a2ff93e173833f75ab66"),
        (241, "92b991a7192f3f080b3b630948ce4a00"),
        (1024, "4c17271c906df79223bc880ebf0d29c6"),
        (1 << 20, "e3503d8de40743b7269eb834f6c110a9"),
    ]

    @Test(arguments: vectors)
    func matchesKnownVector(count: Int, hash: String) {
        let input = Self.pattern(count)
        #expect(XXH3Hash128.hash(input).hex == hash)
        input.withUnsafeBytes { buffer in
            #expect(XXH3Hash128.hash(buffer).hex == hash)
        }
    }

    @Test func abc() {
        #expect(XXH3Hash128.hash(Array("abc".utf8)).hex == "06b05ab6733a618578af5f94892f3950")
    }

    @Test func anEmptyBufferWithoutAnAddressIsTheEmptyHash() {
        #expect(XXH3Hash128.hash(UnsafeRawBufferPointer(start: nil, count: 0)).hex == Self.vectors[0].hash)
    }

    @Test func theCanonicalFormIsBigEndianHighHalfFirst() {
        let hash = XXH3Hash128.hash(Array("abc".utf8))
        #expect(hash.high == 0x06b0_5ab6_733a_6185)
        #expect(hash.low == 0x78af_5f94_892f_3950)
        let bytes = hash.bytes
        #expect(bytes.count == XXH3Hash128.byteCount)
        #expect(
            bytes == [0x06, 0xb0, 0x5a, 0xb6, 0x73, 0x3a, 0x61, 0x85, 0x78, 0xaf, 0x5f, 0x94, 0x89, 0x2f, 0x39, 0x50])
        bytes.withUnsafeBytes { #expect(XXH3Hash128(canonical: $0) == hash) }
        [UInt8](repeating: 0, count: 15).withUnsafeBytes { #expect(XXH3Hash128(canonical: $0) == nil) }
        #expect(hash.description == hash.hex)
    }

    @Test func writeCanonicalFillsOnlyTheFirstSixteenBytes() {
        let hash = XXH3Hash128.hash(Self.pattern(100))
        var out = [UInt8](repeating: 0xEE, count: 20)
        out.withUnsafeMutableBytes { hash.writeCanonical(to: $0) }
        #expect(Array(out[..<16]) == hash.bytes)
        #expect(Array(out[16...]) == [0xEE, 0xEE, 0xEE, 0xEE])
    }

    @Test func aChangedByteChangesTheHash() {
        var input = Self.pattern(1 << 20)
        let before = XXH3Hash128.hash(input)
        input[123_456] ^= 0x01
        #expect(XXH3Hash128.hash(input) != before)
    }

    @Test func hexParsesEitherCaseAndNothingElse() {
        let hash = XXH3Hash128.hash(Array("abc".utf8))
        #expect(XXH3Hash128(hex: hash.hex) == hash)
        #expect(XXH3Hash128(hex: hash.hex.uppercased()) == hash)
        #expect(XXH3Hash128(hex: "0000000000000000ffffffffffffffff") == XXH3Hash128(high: 0, low: .max))
        for bad in ["", String(hash.hex.dropLast()), hash.hex + "0", "g" + hash.hex.dropFirst(), "xxh128:" + hash.hex] {
            #expect(XXH3Hash128(hex: bad) == nil, "\(bad)")
        }
    }
}

@Suite struct XXH3Hasher128Tests {
    @Test(arguments: XXH3Hash128Tests.vectors)
    func piecesHashLikeTheWhole(count: Int, hash: String) {
        let input = XXH3Hash128Tests.pattern(count)
        for piece in [1, 7, 64, 1000, 1 << 16] {
            var hasher = XXH3Hasher128()
            var start = 0
            while start < input.count {
                let end = min(input.count, start + piece)
                hasher.update(Array(input[start..<end]))
                start = end
            }
            #expect(hasher.finalize().hex == hash, "pieces of \(piece)")
        }
    }

    @Test func finalizeLeavesTheComputationGoingAndACopyIsIndependent() {
        let input = XXH3Hash128Tests.pattern(1000)
        var hasher = XXH3Hasher128()
        hasher.update(Array(input[..<400]))
        #expect(hasher.finalize() == XXH3Hash128.hash(Array(input[..<400])))
        var copy = hasher.copy()
        copy.update([1, 2, 3])
        hasher.update(Array(input[400...]))
        #expect(hasher.finalize() == XXH3Hash128.hash(input))
        #expect(copy.finalize() == XXH3Hash128.hash(Array(input[..<400]) + [1, 2, 3]))
        hasher.update(UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(hasher.finalize() == XXH3Hash128.hash(input))
    }
}
