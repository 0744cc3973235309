/// A SHA-256 digest: 32 bytes, shown as 64 lowercase hex digits.
///
/// The digest is the address of a blob in Cairn and the value auditors
/// recompute. Parsing accepts what the wire contract accepts (64 hex digits,
/// either case, optionally prefixed with `sha256:`); formatting always yields
/// the canonical lowercase form without a prefix.
public struct SHA256Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number of bytes in a SHA-256 digest.
    public static let byteCount = 32

    /// The four 64-bit words of the digest, big-endian, so that comparison is byte order.
    private let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// Creates a digest from exactly 32 bytes.
    ///
    /// - Returns: `nil` when `bytes` is not 32 bytes long.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        self.init(contiguous: Array(bytes))
    }

    /// Creates a digest from exactly 32 bytes (the common, fast path).
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.init(contiguous: bytes)
    }

    /// Creates a digest from exactly 32 bytes in memory.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.byteCount else { return nil }
        func word(_ at: Int) -> UInt64 { UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        (w0, w1, w2, w3) = (word(0), word(8), word(16), word(24))
    }

    private init(contiguous bytes: [UInt8]) {
        let digest = bytes.withUnsafeBytes { SHA256Digest(bytes: $0)! }
        self = digest
    }

    /// Parses the contract's textual forms: 64 hex digits of either case,
    /// optionally prefixed by `sha256:` (prefix in either case).
    ///
    /// - Returns: `nil` for anything else, including whitespace.
    public init?(parsing text: some StringProtocol) {
        var utf8 = Substring(text).utf8[...]
        if utf8.count == 71 {
            let prefix = utf8.prefix(7)
            guard String(decoding: prefix, as: UTF8.self).lowercased() == "sha256:" else { return nil }
            utf8 = utf8.dropFirst(7)
        }
        guard utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var high: UInt8? = nil
        for character in utf8 {
            guard let nibble = Self.nibble(character) else { return nil }
            if let h = high {
                bytes.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        self.init(bytes: bytes)
    }

    /// The 32 bytes of the digest.
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(32)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                result.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return result
    }

    /// The canonical form: 64 lowercase hex digits, no prefix.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public static func < (lhs: SHA256Digest, rhs: SHA256Digest) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }

    /// The value of one hex digit (either case), or `nil`.
    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
