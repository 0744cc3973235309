import Crypto
import Foundation

/// How a repository's objects are protected: in clear, or sealed with AES-256-GCM under keys
/// derived from the operator's key.
///
/// An object is stored as a sequence of *segments* of ``segmentSize`` plaintext bytes (the last
/// one shorter, perhaps empty). In clear, the segments are the plaintext itself, so the stored
/// object is exactly its plaintext. Sealed, each segment is its ciphertext followed by a 16-byte
/// tag, under a key of the object's own (HKDF-SHA256 of the master key and the object's name),
/// with the segment's number as nonce and, as authenticated data, the object's name, the
/// segment's number and whether it is the last: a segment moved to another object or position, a
/// dropped last segment or an appended one all fail to open.
///
/// Nonces repeat across objects but never under one key: every object name is used once (packs,
/// indexes and snapshots have random names), and sealing the same name again seals the same
/// plaintext to the same bytes.
public enum RepositoryCipher: Sendable {
    /// Objects are stored in clear.
    case plain
    /// Objects are sealed with AES-256-GCM under keys derived from this master key.
    case aes256GCM(RepositoryKey)

    /// The plaintext bytes of every segment but the last.
    public static let segmentSize = 1 << 20
    /// What sealing adds to a segment: the GCM tag.
    public static let tagSize = 16

    /// Whether objects are sealed.
    public var isEncrypted: Bool {
        if case .aes256GCM = self { return true }
        return false
    }

    /// The bytes sealing adds to each segment.
    public var overhead: Int { isEncrypted ? Self.tagSize : 0 }

    /// The number of segments of an object of `plaintextLength` bytes: at least one, so that
    /// even an empty object has a last segment that says it is the last.
    public static func segmentCount(plaintextLength: Int64) -> Int64 {
        max(1, (plaintextLength + Int64(segmentSize) - 1) / Int64(segmentSize))
    }

    /// The stored size of an object of `plaintextLength` bytes.
    public func storedLength(plaintextLength: Int64) -> Int64 {
        plaintextLength + Int64(overhead) * (isEncrypted ? Self.segmentCount(plaintextLength: plaintextLength) : 0)
    }

    /// The segments holding the plaintext bytes `range`, and where they are stored.
    ///
    /// - Parameters:
    ///   - range: plaintext offsets, within `0..<plaintextLength`; may be empty (the first segment is read).
    ///   - plaintextLength: the whole object's plaintext length.
    public func segments(covering range: Range<Int64>, plaintextLength: Int64) -> SegmentSpan {
        let size = Int64(Self.segmentSize)
        let first = range.lowerBound / size
        let last = range.isEmpty ? first : (range.upperBound - 1) / size
        let stride = size + Int64(overhead)
        let lastPlaintextEnd = min(plaintextLength, (last + 1) * size)
        let storedEnd = last * stride + (lastPlaintextEnd - last * size) + Int64(overhead)
        return SegmentSpan(
            first: first, last: last, finalSegment: Self.segmentCount(plaintextLength: plaintextLength) - 1,
            storedRange: first * stride..<storedEnd, plaintextStart: first * size)
    }

    /// Seals one segment (or returns it as is, in clear).
    ///
    /// - Parameters:
    ///   - plaintext: the segment, at most ``segmentSize`` bytes.
    ///   - index: its number in the object, from 0.
    ///   - isFinal: whether it is the object's last.
    ///   - object: the object's name inside the repository.
    public func seal(_ plaintext: some DataProtocol, index: Int64, isFinal: Bool, object: String) throws -> [UInt8] {
        guard case .aes256GCM(let key) = self else { return Array(plaintext) }
        let box = try AES.GCM.seal(
            plaintext, using: key.objectKey(object), nonce: Self.nonce(index),
            authenticating: Self.associatedData(object: object, index: index, isFinal: isFinal))
        return Array(box.ciphertext) + Array(box.tag)
    }

    /// Opens one stored segment.
    ///
    /// - Throws: ``RepositoryError`` (`damaged`) when the segment does not open: altered, moved,
    ///   truncated, or sealed under another key.
    public func open(_ stored: some DataProtocol, index: Int64, isFinal: Bool, object: String) throws -> [UInt8] {
        guard case .aes256GCM(let key) = self else { return Array(stored) }
        let bytes = Array(stored)
        guard bytes.count >= Self.tagSize else {
            throw RepositoryError(.damaged, "\(object): segment \(index) is truncated")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: Self.nonce(index), ciphertext: bytes[..<(bytes.count - Self.tagSize)],
                tag: bytes[(bytes.count - Self.tagSize)...])
            return Array(
                try AES.GCM.open(
                    box, using: key.objectKey(object),
                    authenticating: Self.associatedData(object: object, index: index, isFinal: isFinal)))
        } catch {
            throw RepositoryError(.damaged, "\(object): segment \(index) does not decrypt (altered, or another key)")
        }
    }

    /// Seals a whole object held in memory.
    public func sealObject(_ plaintext: [UInt8], object: String) throws -> [UInt8] {
        guard isEncrypted else { return plaintext }
        var out: [UInt8] = []
        out.reserveCapacity(Int(storedLength(plaintextLength: Int64(plaintext.count))))
        let count = Self.segmentCount(plaintextLength: Int64(plaintext.count))
        for index in 0..<count {
            let start = Int(index) * Self.segmentSize
            let end = min(plaintext.count, start + Self.segmentSize)
            out += try seal(plaintext[start..<end], index: index, isFinal: index == count - 1, object: object)
        }
        return out
    }

    /// Opens a whole object read into memory.
    public func openObject(_ stored: [UInt8], object: String) throws -> [UInt8] {
        guard isEncrypted else { return stored }
        let stride = Self.segmentSize + Self.tagSize
        let count = max(1, (stored.count + stride - 1) / stride)
        var out: [UInt8] = []
        out.reserveCapacity(stored.count)
        for index in 0..<count {
            let start = index * stride
            let end = min(stored.count, start + stride)
            guard start <= end else { throw RepositoryError(.damaged, "\(object) is truncated") }
            out += try open(stored[start..<end], index: Int64(index), isFinal: index == count - 1, object: object)
        }
        return out
    }

    private static func nonce(_ index: Int64) throws -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for shift in 0..<8 { bytes[11 - shift] = UInt8(truncatingIfNeeded: UInt64(index) >> (8 * shift)) }
        return try AES.GCM.Nonce(data: bytes)
    }

    private static func associatedData(object: String, index: Int64, isFinal: Bool) -> [UInt8] {
        var bytes = Array("cairn-backup segment\u{0}".utf8) + Array(object.utf8) + [0]
        for shift in (0..<8).reversed() { bytes.append(UInt8(truncatingIfNeeded: UInt64(index) >> (8 * shift))) }
        bytes.append(isFinal ? 1 : 0)
        return bytes
    }
}

/// The segments of an object that hold a plaintext range.
public struct SegmentSpan: Sendable, Hashable {
    /// The first segment's number.
    public var first: Int64
    /// The last segment's number.
    public var last: Int64
    /// The number of the object's last segment.
    public var finalSegment: Int64
    /// The stored bytes of segments `first...last`.
    public var storedRange: Range<Int64>
    /// The plaintext offset of segment `first`.
    public var plaintextStart: Int64
}
