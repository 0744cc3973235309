import CLMDB

/// A transaction, lent to the body of ``Environment/withReadTransaction(_:)``
/// or ``Environment/withWriteTransaction(_:)``.
///
/// It cannot be copied or kept: it exists only while the body runs. Values
/// returned by ``get(_:in:)`` point into the memory map and are valid until
/// the transaction ends or the same key is written.
public struct Transaction: ~Copyable {
    let handle: OpaquePointer
    /// Whether this is a read-only transaction.
    public let readOnly: Bool
    /// Where a write transaction of an environment with a redo log records
    /// its changes.
    let redo: RedoRecorder?

    init(handle: OpaquePointer, readOnly: Bool, redo: RedoRecorder? = nil) {
        self.handle = handle
        self.readOnly = readOnly
        self.redo = redo
    }

    /// Reads the value stored under `key`, or `nil` when there is none.
    ///
    /// The buffer points into the map: copy what must outlive the transaction.
    public func get(_ key: [UInt8], in database: Database) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { (keyBytes) throws -> UnsafeRawBufferPointer? in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var v = MDB_val()
            let rc = mdb_get(handle, database.handle, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc, "mdb_get(\(database.name))")
            return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        }
    }

    /// Stores `value` under `key`, replacing any value there.
    public func put(_ value: UnsafeRawBufferPointer, for key: [UInt8], in database: Database) throws {
        try key.withUnsafeBytes { (keyBytes) throws in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            try check(mdb_put(handle, database.handle, &k, &v, 0), "mdb_put(\(database.name))")
            redo?.add(.put, database: database.name, key: keyBytes, value: value)
        }
    }

    /// Stores `value` under `key`, replacing any value there.
    public func put(_ value: [UInt8], for key: [UInt8], in database: Database) throws {
        try value.withUnsafeBytes { (bytes) throws in try put(bytes, for: key, in: database) }
    }

    /// Stores a value of `count` bytes under `key` that `fill` writes in
    /// place (`MDB_RESERVE`), saving a copy for large values.
    ///
    /// `fill` must write all `count` bytes.
    public func reserve(
        count: Int,
        for key: [UInt8],
        in database: Database,
        fill: (UnsafeMutableRawBufferPointer) -> Void
    ) throws {
        try key.withUnsafeBytes { (keyBytes) throws in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var v = MDB_val(mv_size: count, mv_data: nil)
            try check(
                mdb_put(handle, database.handle, &k, &v, UInt32(MDB_RESERVE)), "mdb_put(\(database.name), reserve)")
            fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: count))
            redo?.add(
                .put, database: database.name, key: keyBytes,
                value: UnsafeRawBufferPointer(start: v.mv_data, count: count))
        }
    }

    /// Deletes the value under `key`.
    ///
    /// - Returns: whether there was one.
    @discardableResult
    public func delete(_ key: [UInt8], in database: Database) throws -> Bool {
        try key.withUnsafeBytes { (keyBytes) throws -> Bool in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            let rc = mdb_del(handle, database.handle, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try check(rc, "mdb_del(\(database.name))")
            redo?.add(.delete, database: database.name, key: keyBytes)
            return true
        }
    }

    /// Removes every entry of `database`, keeping the database itself.
    public func empty(_ database: Database) throws {
        try check(mdb_drop(handle, database.handle, 0), "mdb_drop(\(database.name))")
        redo?.add(.empty, database: database.name)
    }

    /// Deletes `database` and every entry of it; its handle is then
    /// invalid, in this process, for good.
    public func removeDatabase(_ database: Database) throws {
        try check(mdb_drop(handle, database.handle, 1), "mdb_drop(\(database.name), delete)")
        redo?.add(.removeDatabase, database: database.name)
    }

    /// The number of entries in `database`.
    public func count(of database: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(handle, database.handle, &stat), "mdb_stat(\(database.name))")
        return stat.ms_entries
    }

    /// Runs `body` with a cursor over `database`, closed when `body` ends.
    public func withCursor<R>(
        on database: Database,
        _ body: (inout Cursor) throws -> R
    ) throws -> R {
        var cursorHandle: OpaquePointer?
        try check(mdb_cursor_open(handle, database.handle, &cursorHandle), "mdb_cursor_open(\(database.name))")
        var cursor = Cursor(handle: cursorHandle!, database: database, redo: redo)
        defer { mdb_cursor_close(cursorHandle) }
        return try body(&cursor)
    }

    /// Runs `body` in a nested write transaction: its changes become part of
    /// this transaction when `body` returns and are discarded when it throws,
    /// leaving this transaction as it was.
    public func withNestedTransaction<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        var child: OpaquePointer?
        try check(mdb_txn_begin(mdb_txn_env(handle), handle, 0, &child), "mdb_txn_begin(nested)")
        let mark = redo?.mark
        let result: R
        do {
            result = try body(Transaction(handle: child!, readOnly: false, redo: redo))
        } catch {
            mdb_txn_abort(child)
            if let mark { redo?.rollBack(to: mark) }
            throw error
        }
        let rc = mdb_txn_commit(child)
        if rc != MDB_SUCCESS, let mark { redo?.rollBack(to: mark) }
        try check(rc, "mdb_txn_commit(nested)")
        return result
    }
}

@available(*, unavailable)
extension Transaction: Sendable {}

extension Transaction {
    /// Opens the named database in this transaction.
    ///
    /// - Returns: `nil` when it does not exist and `create` is false.
    public func openDatabase(_ name: String, create: Bool) throws -> Database? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(handle, name, create && !readOnly ? UInt32(MDB_CREATE) : 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_dbi_open(\(name))")
        if create { redo?.add(.openDatabase, database: name) }
        return Database(handle: dbi, name: name)
    }
}
