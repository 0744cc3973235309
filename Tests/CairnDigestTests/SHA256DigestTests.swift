import CairnDigest
import Testing

@Suite struct SHA256DigestTests {
    /// sha256("abc"), canonical form.
    static let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    /// Every form the contract accepts, all of sha256("abc").
    static let accepted: [String] = {
        let upper = abc.uppercased()
        let mixed = "BA7816bf8F01CFEA414140de5dae2223b00361A396177a9cb410ff61f20015AD"
        return [abc, upper, mixed, "sha256:" + abc, "SHA256:" + abc, "Sha256:" + upper, "sHa256:" + abc]
    }()

    /// Near misses: wrong length, whitespace, non-hex, wrong or doubled prefix.
    static let rejected: [String] = {
        let short: String = String(abc.dropLast())  // 63 digits
        var texts: [String] = ["", "sha256:", short, abc + "0", abc + abc]
        texts += ["sha256:" + short, "sha256:" + abc + "0"]
        texts += [" " + abc, abc + " ", abc + "\n", "\t" + abc, "sha256: " + abc, "sha256:" + short + " "]
        texts.append(String(abc.prefix(32)) + " " + String(abc.dropFirst(33)))  // 64 characters, one a space
        texts += [short + "g", "z" + String(abc.dropFirst()), "0x" + String(abc.dropFirst(2))]
        texts += ["sha512:" + abc, "sha256-" + abc, "sha256:sha256:" + abc, ":sha256" + abc]
        texts.append(short + "é")  // 65 UTF-8 bytes
        texts.append(String(abc.dropLast(2)) + "é")  // 63 characters, 64 UTF-8 bytes
        texts.append(short + "\u{FF10}")  // a fullwidth zero
        return texts
    }()

    @Test(arguments: accepted)
    func acceptsEveryContractForm(text: String) throws {
        let digest = try #require(SHA256Digest(parsing: text))
        #expect(digest.hex == Self.abc)
        #expect(digest.description == Self.abc)
    }

    @Test(arguments: rejected)
    func rejectsAnythingElse(text: String) {
        #expect(SHA256Digest(parsing: text) == nil)
    }

    @Test func parsesSubstrings() throws {
        let line = "blob sha256:\(Self.abc) end"
        let start = line.index(line.startIndex, offsetBy: 5)
        let end = line.index(start, offsetBy: 71)
        let digest = try #require(SHA256Digest(parsing: line[start..<end]))
        #expect(digest.hex == Self.abc)
        #expect(SHA256Digest(parsing: line[start..<line.index(before: end)]) == nil)
    }

    @Test func bytesRoundTripInOrder() throws {
        let bytes = (0..<32).map { UInt8($0 * 7 + 3) }
        let digest = try #require(SHA256Digest(bytes: bytes))
        #expect(digest.bytes == bytes)
        #expect(digest.hex == bytes.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined())
        #expect(SHA256Digest(parsing: digest.hex) == digest)
        #expect(SHA256Digest(bytes: bytes[...]) == digest)
    }

    @Test(arguments: [0, 1, 31, 33, 64])
    func bytesOfTheWrongLengthAreRejected(count: Int) {
        #expect(SHA256Digest(bytes: [UInt8](repeating: 0xAA, count: count)) == nil)
    }

    @Test func extremeValuesFormatCanonically() throws {
        let zero = try #require(SHA256Digest(bytes: [UInt8](repeating: 0, count: 32)))
        let ones = try #require(SHA256Digest(bytes: [UInt8](repeating: 0xFF, count: 32)))
        #expect(zero.hex == String(repeating: "0", count: 64))
        #expect(ones.hex == String(repeating: "f", count: 64))
        #expect(SHA256Digest(parsing: String(repeating: "F", count: 64)) == ones)
        #expect(zero < ones)
        #expect(SHA256Digest.byteCount == 32)
    }

    @Test func equalDigestsFromDifferentSpellingsHashAlike() throws {
        let spellings = [Self.abc, Self.abc.uppercased(), "sha256:" + Self.abc, "SHA256:" + Self.abc.uppercased()]
        let digests = Set(try spellings.map { try #require(SHA256Digest(parsing: $0)) })
        #expect(digests.count == 1)
    }

    @Test func orderIsTheOrderOfTheBytes() throws {
        // Differences in each position, including the last byte of each 8-byte word
        // and bytes whose high bit is set.
        var samples: [[UInt8]] = []
        for position in [0, 7, 8, 15, 16, 24, 31] {
            for value: UInt8 in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
                var bytes = [UInt8](repeating: 0x40, count: 32)
                bytes[position] = value
                samples.append(bytes)
            }
        }
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        for _ in 0..<50 {
            samples.append(
                (0..<32).map { _ in
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    return UInt8(truncatingIfNeeded: state)
                })
        }
        let digests = try samples.map { try #require(SHA256Digest(bytes: $0)) }
        let sortedByDigest = digests.sorted().map(\.bytes)
        let sortedByBytes = samples.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(sortedByDigest == sortedByBytes)
        #expect(digests.sorted().map(\.hex) == digests.map(\.hex).sorted())
    }
}
