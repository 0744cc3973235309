/// The error of a record or key that does not decode: the store's bytes are
/// not what this layout wrote.
public struct LayoutDecodingError: Error, Sendable, CustomStringConvertible {
    /// What was being decoded, e.g. `ArtifactRecord`.
    public let record: String
    /// What was wrong.
    public let reason: String

    public var description: String { "cannot decode \(record): \(reason)" }
}

/// Writes a record's fields in order: fixed-width integers big-endian,
/// byte strings and text prefixed with a u32 length, optionals with a
/// presence byte.
public struct RecordWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// Starts a record with its format number.
    public init(format: UInt8) { bytes.append(format) }

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: UInt32) { bytes.appendBigEndian(value) }
    public mutating func write(_ value: UInt64) { bytes.appendBigEndian(value) }
    public mutating func write(_ value: Int64) { bytes.appendBigEndian(value) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func write(_ value: [UInt8]) {
        write(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func write(_ value: String) { write(Array(value.utf8)) }

    public mutating func write(_ value: UInt64?) {
        write(value != nil)
        if let value { write(value) }
    }

    public mutating func write(_ value: String?) {
        write(value != nil)
        if let value { write(value) }
    }

    public mutating func write(_ value: [UInt8]?) {
        write(value != nil)
        if let value { write(value) }
    }
}

/// Reads what a ``RecordWriter`` wrote, failing with
/// ``LayoutDecodingError`` on truncated or malformed bytes.
public struct RecordReader {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private let record: String
    /// The format number the record starts with.
    public let format: UInt8

    /// Starts reading a record of the named type.
    ///
    /// `bytes` must stay valid while the reader is used.
    public init(_ bytes: UnsafeRawBufferPointer, record: String) throws(LayoutDecodingError) {
        self.bytes = bytes
        self.record = record
        guard let first = bytes.first else { throw LayoutDecodingError(record: record, reason: "empty value") }
        self.format = first
        self.position = 1
    }

    private mutating func take(_ count: Int) throws(LayoutDecodingError) -> UnsafeRawBufferPointer {
        guard count >= 0, bytes.count - position >= count else {
            throw LayoutDecodingError(record: record, reason: "truncated at byte \(position)")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(LayoutDecodingError) -> T {
        let raw = try take(MemoryLayout<T>.size)
        return raw.reduce(T.zero) { $0 << 8 | T($1) }
    }

    public mutating func readUInt8() throws(LayoutDecodingError) -> UInt8 { try take(1)[0] }
    public mutating func readUInt32() throws(LayoutDecodingError) -> UInt32 { try integer(UInt32.self) }
    public mutating func readUInt64() throws(LayoutDecodingError) -> UInt64 { try integer(UInt64.self) }
    public mutating func readInt64() throws(LayoutDecodingError) -> Int64 {
        Int64(bitPattern: try integer(UInt64.self))
    }

    public mutating func readBool() throws(LayoutDecodingError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let other: throw LayoutDecodingError(record: record, reason: "bad boolean \(other)")
        }
    }

    public mutating func readBytes() throws(LayoutDecodingError) -> [UInt8] {
        let count = try readUInt32()
        return Array(try take(Int(count)))
    }

    public mutating func readString() throws(LayoutDecodingError) -> String {
        let count = try readUInt32()
        let raw = try take(Int(count))
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw LayoutDecodingError(record: record, reason: "invalid UTF-8")
        }
        return text
    }

    public mutating func readOptionalUInt64() throws(LayoutDecodingError) -> UInt64? {
        try readBool() ? try readUInt64() : nil
    }

    public mutating func readOptionalString() throws(LayoutDecodingError) -> String? {
        try readBool() ? try readString() : nil
    }

    public mutating func readOptionalBytes() throws(LayoutDecodingError) -> [UInt8]? {
        try readBool() ? try readBytes() : nil
    }

    /// Fails unless every byte was read.
    public func finish() throws(LayoutDecodingError) {
        guard position == bytes.count else {
            throw LayoutDecodingError(record: record, reason: "\(bytes.count - position) trailing bytes")
        }
    }

    /// Fails with an unknown-format error.
    public func unknownFormat() -> LayoutDecodingError {
        LayoutDecodingError(record: record, reason: "unknown record format \(format)")
    }
}

/// A value stored in one of the store's databases.
public protocol LayoutRecord: Sendable, Equatable {
    /// Encodes the record in its current format.
    func encoded() -> [UInt8]
    /// Decodes any format of the record this layout knows.
    init(decoding bytes: UnsafeRawBufferPointer) throws(LayoutDecodingError)
}

extension LayoutRecord {
    /// Decodes from an array (convenience for tests and small values).
    public init(decoding bytes: [UInt8]) throws(LayoutDecodingError) {
        do {
            self = try bytes.withUnsafeBytes { try Self(decoding: $0) }
        } catch let error as LayoutDecodingError {
            throw error
        } catch {
            fatalError("unreachable: \(error)")
        }
    }
}
