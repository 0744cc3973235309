import CXXHash

/// The byte formats of the redo log (`redo.log`): the changes of one write
/// transaction, the record that frames them, and the checkpoint slots.
/// Pure: no I/O. docs/store-layout.md ("The redo log") describes the file for people.
enum RedoFormat {
    /// The first bytes of every record.
    static let recordMagic: [UInt8] = Array("CRR1".utf8)
    /// The first bytes of a checkpoint slot; the last counts formats (see
    /// ``Checkpoint/format``).
    static let slotMagic: [UInt8] = Array("CAIRNRL2".utf8)
    /// The slot magic of format 1.
    static let slotMagicFormat1: [UInt8] = Array("CAIRNRL1".utf8)
    /// Bytes before a record's changes.
    static let recordHeaderSize = 32
    /// Bytes of a slot before the saved meta pages.
    static let slotHeaderSize = 4096

    /// The kinds of change, as their tag byte.
    enum Tag: UInt8 {
        case openDatabase = 1
        case put = 2
        case delete = 3
        case empty = 4
        case removeDatabase = 5
    }

    /// One change of a write transaction.
    enum Change: Equatable {
        /// `mdb_dbi_open` with `MDB_CREATE`.
        case openDatabase(String)
        case put(database: String, key: [UInt8], value: [UInt8])
        /// Deleting a key that may be absent.
        case delete(database: String, key: [UInt8])
        /// `mdb_drop` keeping the database.
        case empty(String)
        /// `mdb_drop` deleting the database.
        case removeDatabase(String)
    }

    // MARK: Records

    /// Appends one change in the record encoding: the tag, the database
    /// name (u16 length), then for keys and values a u32 length each.
    static func append(
        _ tag: Tag, database: String, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil,
        to bytes: inout [UInt8]
    ) {
        bytes.append(tag.rawValue)
        let name = Array(database.utf8)
        appendInteger(UInt16(name.count), to: &bytes)
        bytes += name
        if let key {
            appendInteger(UInt32(key.count), to: &bytes)
            bytes.append(contentsOf: key)
        }
        if let value {
            appendInteger(UInt32(value.count), to: &bytes)
            bytes.append(contentsOf: value)
        }
    }

    /// Decodes the changes of a record, or `nil` when they do not parse.
    static func changes(in payload: ArraySlice<UInt8>) -> [Change]? {
        var reader = ByteReader(payload)
        var changes: [Change] = []
        while !reader.atEnd {
            guard let tagByte = reader.byte(), let tag = Tag(rawValue: tagByte),
                let nameLength = reader.integer(UInt16.self), let nameBytes = reader.bytes(Int(nameLength)),
                let name = String(validating: nameBytes, as: UTF8.self)
            else { return nil }
            switch tag {
            case .openDatabase: changes.append(.openDatabase(name))
            case .empty: changes.append(.empty(name))
            case .removeDatabase: changes.append(.removeDatabase(name))
            case .delete:
                guard let keyLength = reader.integer(UInt32.self), let key = reader.bytes(Int(keyLength)) else {
                    return nil
                }
                changes.append(.delete(database: name, key: Array(key)))
            case .put:
                guard let keyLength = reader.integer(UInt32.self), let key = reader.bytes(Int(keyLength)),
                    let valueLength = reader.integer(UInt32.self), let value = reader.bytes(Int(valueLength))
                else { return nil }
                changes.append(.put(database: name, key: Array(key), value: Array(value)))
            }
        }
        return changes
    }

    /// Fills in the header of a record whose changes follow
    /// ``recordHeaderSize`` reserved bytes in `record`: magic, length,
    /// generation, sequence, and the checksum over all of it. A record with
    /// no changes (the header alone) ends its generation (see ``RedoLog``).
    static func seal(_ record: inout [UInt8], generation: UInt64, sequence: UInt64) {
        precondition(record.count >= recordHeaderSize)
        let payloadLength = UInt32(record.count - recordHeaderSize)
        record.withUnsafeMutableBytes { bytes in
            bytes.copyBytes(from: recordMagic)
            bytes.storeBytes(of: payloadLength.littleEndian, toByteOffset: 4, as: UInt32.self)
            bytes.storeBytes(of: generation.littleEndian, toByteOffset: 8, as: UInt64.self)
            bytes.storeBytes(of: sequence.littleEndian, toByteOffset: 16, as: UInt64.self)
            bytes.storeBytes(of: 0, toByteOffset: 24, as: UInt64.self)
            let sum = checksum(UnsafeRawBufferPointer(bytes))
            bytes.storeBytes(of: sum.littleEndian, toByteOffset: 24, as: UInt64.self)
        }
    }

    /// What a record header says.
    struct RecordHeader: Equatable {
        var payloadLength: Int
        var generation: UInt64
        var sequence: UInt64
        var checksum: UInt64
    }

    /// Parses a record header, or `nil` when the magic is wrong.
    static func recordHeader(_ bytes: ArraySlice<UInt8>) -> RecordHeader? {
        guard bytes.count >= recordHeaderSize, bytes.prefix(4).elementsEqual(recordMagic) else { return nil }
        var reader = ByteReader(bytes.dropFirst(4))
        guard let length = reader.integer(UInt32.self), let generation = reader.integer(UInt64.self),
            let sequence = reader.integer(UInt64.self), let sum = reader.integer(UInt64.self)
        else { return nil }
        return RecordHeader(
            payloadLength: Int(length), generation: generation, sequence: sequence, checksum: sum)
    }

    /// Whether `record` (header and payload) carries the checksum its header says.
    static func isIntact(_ record: ArraySlice<UInt8>, header: RecordHeader) -> Bool {
        var copy = Array(record)
        copy.withUnsafeMutableBytes { $0.storeBytes(of: 0, toByteOffset: 24, as: UInt64.self) }
        return copy.withUnsafeBytes { checksum($0) } == header.checksum
    }

    // MARK: Checkpoint slots

    /// A checkpoint: the LMDB state the log's records apply to.
    struct Checkpoint: Equatable {
        /// Counts checkpoints; records carry the generation they follow.
        var generation: UInt64
        /// LMDB's transaction id of the checkpointed state.
        var transactionID: UInt64
        /// LMDB's page size.
        var pageSize: Int
        /// The data file's two meta pages as they were flushed.
        var metaPages: [UInt8]
        /// Written as the writer closed the environment: nothing follows,
        /// and later changes to the data file were made by LMDB's own
        /// durable commits (another program, or a build without the log).
        var closed = false
        /// The bytes of each of the two record segments (format 2): the
        /// records of generation *g* begin at `recordsStart + (g % 2) ×
        /// segmentSize`. 0 in format 1, whose records all begin at
        /// `recordsStart`.
        var segmentSize = 0
        /// 2, or 1 for a slot of the first format (one record area, no end
        /// of generation), which this build reads but never writes.
        var format: UInt32 = 2

        /// Where the records of `generation` begin, given where the first
        /// segment does.
        func segmentStart(of generation: UInt64, recordsStart: Int) -> Int {
            recordsStart + (format >= 2 ? Int(generation % 2) * segmentSize : 0)
        }
    }

    /// The size of a slot for pages of `pageSize` bytes.
    static func slotSize(pageSize: Int) -> Int { slotHeaderSize + 2 * pageSize }

    /// Encodes a checkpoint as a slot of format 2: magic, format version 2,
    /// page size, generation, transaction id, checksum, flags (1: closed),
    /// segment size (u64), zeros to ``slotHeaderSize``, then the meta pages.
    /// (Format 1 had no segment size: zeros there.)
    static func slot(_ checkpoint: Checkpoint) -> [UInt8] {
        precondition(checkpoint.metaPages.count == 2 * checkpoint.pageSize && checkpoint.format == 2)
        var bytes = slotMagic
        appendInteger(UInt32(2), to: &bytes)
        appendInteger(UInt32(checkpoint.pageSize), to: &bytes)
        appendInteger(checkpoint.generation, to: &bytes)
        appendInteger(checkpoint.transactionID, to: &bytes)
        appendInteger(UInt64(0), to: &bytes)  // the checksum, below
        appendInteger(UInt32(checkpoint.closed ? 1 : 0), to: &bytes)
        appendInteger(UInt64(checkpoint.segmentSize), to: &bytes)
        bytes += [UInt8](repeating: 0, count: slotHeaderSize - bytes.count)
        bytes += checkpoint.metaPages
        let sum = bytes.withUnsafeBytes { checksum($0) }
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: sum.littleEndian, toByteOffset: 32, as: UInt64.self) }
        return bytes
    }

    /// Decodes a slot, or `nil` when it is empty, torn or not one.
    static func checkpoint(inSlot bytes: [UInt8]) -> Checkpoint? {
        guard bytes.count >= slotHeaderSize else { return nil }
        let format: UInt32
        if bytes.prefix(8).elementsEqual(slotMagic) {
            format = 2
        } else if bytes.prefix(8).elementsEqual(slotMagicFormat1) {
            format = 1
        } else {
            return nil
        }
        var reader = ByteReader(bytes[8...])
        guard reader.integer(UInt32.self) == format, let pageSize = reader.integer(UInt32.self).map(Int.init),
            pageSize >= 512, pageSize <= 1 << 16, bytes.count >= slotSize(pageSize: Int(pageSize)),
            let generation = reader.integer(UInt64.self), let transactionID = reader.integer(UInt64.self),
            let sum = reader.integer(UInt64.self), let flags = reader.integer(UInt32.self),
            let segmentSize = reader.integer(UInt64.self), segmentSize < 1 << 40
        else { return nil }
        var copy = Array(bytes.prefix(slotSize(pageSize: pageSize)))
        copy.withUnsafeMutableBytes { $0.storeBytes(of: 0, toByteOffset: 32, as: UInt64.self) }
        guard copy.withUnsafeBytes({ checksum($0) }) == sum else { return nil }
        return Checkpoint(
            generation: generation, transactionID: transactionID, pageSize: pageSize,
            metaPages: Array(copy[slotHeaderSize...]), closed: flags & 1 != 0,
            segmentSize: format >= 2 ? Int(segmentSize) : 0, format: format)
    }

    /// The transaction id in an LMDB meta page (`mm_txnid`, after the
    /// 16-byte page header and 128 bytes of `MDB_meta` on a 64-bit build),
    /// or `nil` when the page is not a meta page of this LMDB.
    static func metaTransactionID(_ page: ArraySlice<UInt8>) -> UInt64? {
        // mm_magic (0xBEEFC0DE) sits right after the page header.
        var reader = ByteReader(page.dropFirst(16))
        guard page.count >= 152, reader.integer(UInt32.self) == 0xBEEF_C0DE else { return nil }
        reader = ByteReader(page.dropFirst(144))
        return reader.integer(UInt64.self)
    }

    // MARK: Helpers

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    static func appendInteger<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Reads little-endian integers and byte runs from a slice.
    struct ByteReader {
        private var rest: ArraySlice<UInt8>

        init(_ bytes: ArraySlice<UInt8>) { rest = bytes }

        var atEnd: Bool { rest.isEmpty }

        mutating func byte() -> UInt8? { rest.popFirst() }

        mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
            guard count <= rest.count else { return nil }
            defer { rest = rest.dropFirst(count) }
            return rest.prefix(count)
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard let run = bytes(MemoryLayout<T>.size) else { return nil }
            return run.reversed().reduce(T.zero) { $0 << 8 | T($1) }
        }
    }
}
