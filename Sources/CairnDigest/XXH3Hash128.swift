import CXXHash

/// An XXH3-128 hash (seed 0, libxxhash): 16 bytes, a fast checksum that is
/// not cryptographic.
///
/// Cairn uses it to detect damage to stored chunks, and bytes lost or
/// changed between a client and the server (the upload transfer check,
/// ``XXH3Hasher128``), where it costs about a tenth of a SHA-256 pass. It makes no promise against a deliberate
/// change (anyone able to rewrite the bytes can rewrite their hash), so it
/// never stands in for a ``SHA256Digest``: content is addressed and
/// verified as a whole by its SHA-256.
///
/// The value is the one `xxhsum -H2` prints; ``bytes`` is its canonical
/// form (`XXH128_canonicalFromHash`).
public struct XXH3Hash128: Hashable, Sendable, CustomStringConvertible {
    /// The number of bytes of the canonical form.
    public static let byteCount = 16

    /// The high 64 bits, as libxxhash returns them.
    public let high: UInt64
    /// The low 64 bits, as libxxhash returns them.
    public let low: UInt64

    /// A hash from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads a hash from its canonical form: 16 bytes, big-endian, high half first.
    ///
    /// - Returns: `nil` when `bytes` is not 16 bytes long.
    public init?(canonical bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.byteCount else { return nil }
        high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    /// Parses 32 hex digits (either case), as `xxhsum -H2` prints them.
    ///
    /// - Returns: `nil` for anything else.
    public init?(hex text: some StringProtocol) {
        let digits = Array(text.utf8)
        guard digits.count == 2 * Self.byteCount else { return nil }
        var value: [UInt64] = [0, 0]
        for (index, digit) in digits.enumerated() {
            guard let nibble = SHA256Digest.nibble(digit) else { return nil }
            value[index / 16] = value[index / 16] << 4 | UInt64(nibble)
        }
        self.init(high: value[0], low: value[1])
    }

    /// The hash of one contiguous buffer.
    public static func hash(_ buffer: UnsafeRawBufferPointer) -> XXH3Hash128 {
        let hash = XXH3_128bits(buffer.baseAddress, buffer.count)
        return XXH3Hash128(high: hash.high64, low: hash.low64)
    }

    /// The hash of an array of bytes.
    public static func hash(_ bytes: [UInt8]) -> XXH3Hash128 {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// Writes the canonical form into the first 16 bytes of `out`.
    ///
    /// - Precondition: `out` holds at least 16 bytes.
    public func writeCanonical(to out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Self.byteCount, "no room for an XXH3-128 hash")
        var canonical = XXH128_canonical_t()
        XXH128_canonicalFromHash(&canonical, XXH128_hash_t(low64: low, high64: high))
        withUnsafeBytes(of: &canonical.digest) { out.copyMemory(from: $0) }
    }

    /// The canonical form: 16 bytes, big-endian, high half first.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.byteCount) { buffer, count in
            writeCanonical(to: UnsafeMutableRawBufferPointer(buffer))
            count = Self.byteCount
        }
    }

    /// 32 lowercase hex digits, as `xxhsum -H2` prints them.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(2 * Self.byteCount)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var description: String { hex }
}
