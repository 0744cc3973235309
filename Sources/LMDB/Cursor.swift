import CLMDB

/// A position in a database, lent to the body of
/// ``Transaction/withCursor(on:_:)``.
///
/// Keys and values returned point into the memory map and are valid until
/// the transaction ends or the entry is written.
public struct Cursor {
    /// One entry: its key and value bytes.
    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    let handle: OpaquePointer
    let database: Database
    /// The transaction's recorder of changes for the redo log, if any.
    let redo: RedoRecorder?

    /// Moves to the first entry whose key is greater than or equal to `key`.
    public mutating func seek(atOrAfter key: [UInt8]) throws -> Entry? {
        try key.withUnsafeBytes { (keyBytes) throws -> Entry? in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return try move(&k, MDB_SET_RANGE)
        }
    }

    /// Moves to the first entry.
    public mutating func first() throws -> Entry? {
        var k = MDB_val()
        return try move(&k, MDB_FIRST)
    }

    /// Moves to the last entry.
    public mutating func last() throws -> Entry? {
        var k = MDB_val()
        return try move(&k, MDB_LAST)
    }

    /// Moves to the next entry.
    public mutating func next() throws -> Entry? {
        var k = MDB_val()
        return try move(&k, MDB_NEXT)
    }

    /// Moves to the previous entry.
    public mutating func previous() throws -> Entry? {
        var k = MDB_val()
        return try move(&k, MDB_PREV)
    }

    /// Deletes the entry at the cursor; the cursor then stands before the
    /// entry that followed it, so ``next()`` reaches it.
    public mutating func deleteCurrent() throws {
        var key = MDB_val()
        var value = MDB_val()
        if redo != nil {
            try check(mdb_cursor_get(handle, &key, &value, MDB_GET_CURRENT), "mdb_cursor_get(\(database.name))")
            // The key points into the page the deletion rewrites: record it first.
            redo?.add(
                .delete, database: database.name, key: UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size))
        }
        try check(mdb_cursor_del(handle, 0), "mdb_cursor_del(\(database.name))")
    }

    private mutating func move(_ key: inout MDB_val, _ op: MDB_cursor_op) throws -> Entry? {
        var v = MDB_val()
        let rc = mdb_cursor_get(handle, &key, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get(\(database.name))")
        return (
            UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size),
            UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        )
    }
}

@available(*, unavailable)
extension Cursor: Sendable {}
