import CairnDigest

/// The 32 bytes stored in front of every chunk's data, which show that the
/// data is the data that was written.
///
/// Each header says which check it holds, so chunks of both forms can sit
/// side by side, even in one extent:
///
/// - **XXH3** (layout 5 on; every chunk written now): the XXH3-128 of the
///   data in its canonical big-endian form (16 bytes), then the 16 ASCII
///   bytes `cairn-chunk-xxh3` (``xxh3Marker``).
/// - **SHA-256** (every chunk written by layouts 1 to 4): the SHA-256 of the
///   data. One that ends in the marker has a probability of 2⁻¹²⁸.
///
/// The check detects damage to stored bytes. It is deliberately not
/// cryptographic: whoever can rewrite a chunk in the data file can rewrite
/// any per-chunk hash along with it, so a SHA-256 per chunk would buy
/// nothing. Tampering is caught by the blob's SHA-256 over the whole
/// content (scrubs, and clients reading it whole). Pure: no I/O.
public struct ChunkHeader: Sendable, Equatable {
    /// The size of a header, whatever its form.
    public static let byteCount = 32

    /// The last 16 bytes of a header of the XXH3 form.
    public static let xxh3Marker: [UInt8] = Array("cairn-chunk-xxh3".utf8)

    /// Which check a stored header holds.
    public enum Form: Sendable, Equatable {
        /// The SHA-256 of the data (layouts 1 to 4).
        case sha256
        /// The XXH3-128 of the data and the marker (layout 5 on).
        case xxh3
    }

    /// The XXH3-128 of the data this header was made for.
    public let xxh3: XXH3Hash128

    /// The header for `data`, in the XXH3 form: what every chunk is written with.
    public init(for data: UnsafeRawBufferPointer) {
        xxh3 = XXH3Hash128.hash(data)
    }

    /// Writes the header into the first ``byteCount`` bytes of `out`.
    ///
    /// - Precondition: `out` holds at least ``byteCount`` bytes.
    public func write(to out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Self.byteCount, "no room for a chunk header")
        xxh3.writeCanonical(to: out)
        UnsafeMutableRawBufferPointer(rebasing: out[XXH3Hash128.byteCount..<Self.byteCount])
            .copyBytes(from: Self.xxh3Marker)
    }

    /// The header's 32 bytes.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.byteCount) { buffer, count in
            write(to: UnsafeMutableRawBufferPointer(buffer))
            count = Self.byteCount
        }
    }

    /// The form of a stored header (32 bytes), told by its last 16 bytes.
    public static func form(of header: UnsafeRawBufferPointer) -> Form {
        precondition(header.count == byteCount, "a chunk header is \(byteCount) bytes")
        let (first, second) = markerWords
        let tail = (
            header.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
            header.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        )
        return tail == (first, second) ? .xxh3 : .sha256
    }

    /// Whether a stored header (32 bytes, of either form) matches `data`.
    ///
    /// A header of the SHA-256 form costs a SHA-256 pass over the data; one
    /// of the XXH3 form a tenth of that.
    public static func matches(_ header: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) -> Bool {
        switch form(of: header) {
        case .xxh3:
            return XXH3Hash128(canonical: UnsafeRawBufferPointer(rebasing: header[..<XXH3Hash128.byteCount]))
                == XXH3Hash128.hash(data)
        case .sha256:
            return SHA256Digest(bytes: header) == SHA256Hasher.digest(data)
        }
    }

    /// The marker as two machine words, for a comparison without allocation.
    private static let markerWords: (UInt64, UInt64) = xxh3Marker.withUnsafeBytes {
        ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }
}
