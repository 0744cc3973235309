import CLMDB

#if canImport(Glibc)
    import Glibc
#endif

/// An open LMDB environment: one data file and its lock file in a directory.
///
/// The environment owns the memory map. Transactions are scoped: use
/// ``withReadTransaction(_:)`` and ``withWriteTransaction(_:)``, which commit
/// or abort on every path, so a transaction can never outlive its scope or be
/// left open on an error. The map can grow while the process runs
/// (``setMapSize(_:)``); the environment waits for running transactions and
/// holds new ones back while it does.
///
/// Opened with `MDB_NOTLS`, so read transactions are not tied to threads. A
/// write transaction must still begin and end on one thread, which the
/// scoped API guarantees as long as the body does not suspend (it is not
/// `async`).
public final class Environment: @unchecked Sendable {
    /// Settings for opening an environment.
    public struct Configuration: Sendable {
        /// The initial map size in bytes. The map is address space, not disk.
        public var mapSize: Int
        /// The most named databases the environment may hold.
        public var maxDatabases: UInt32
        /// The most concurrent read transactions across all processes.
        public var maxReaders: UInt32
        /// Open without the ability to write (for tools that only read).
        public var readOnly: Bool
        /// File mode for the data and lock files.
        public var fileMode: mode_t

        /// Creates a configuration.
        public init(
            mapSize: Int = 1 << 30,
            maxDatabases: UInt32 = 32,
            maxReaders: UInt32 = 510,
            readOnly: Bool = false,
            fileMode: mode_t = 0o600
        ) {
            self.mapSize = mapSize
            self.maxDatabases = maxDatabases
            self.maxReaders = maxReaders
            self.readOnly = readOnly
            self.fileMode = fileMode
        }
    }

    let handle: OpaquePointer
    private let gate = TransactionGate()
    /// The directory holding `data.mdb` and `lock.mdb`.
    public let path: String
    /// Whether the environment was opened read-only.
    public let readOnly: Bool
    /// The mode of the files the environment creates, copies included.
    private let fileMode: mode_t

    /// Opens (creating if needed) the environment in the directory `path`,
    /// which must exist.
    ///
    /// Stale reader slots left by dead processes are cleared right after the
    /// open (`mdb_reader_check`).
    public init(path: String, configuration: Configuration = .init()) throws {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw LMDBError(code: ENOMEM, operation: "mdb_env_create") }
        do {
            try check(mdb_env_set_maxdbs(env, configuration.maxDatabases), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, configuration.maxReaders), "mdb_env_set_maxreaders")
            try check(mdb_env_set_mapsize(env, configuration.mapSize), "mdb_env_set_mapsize")
            var flags = UInt32(MDB_NOTLS)
            if configuration.readOnly { flags |= UInt32(MDB_RDONLY) }
            try check(mdb_env_open(env, path, flags, configuration.fileMode), "mdb_env_open(\(path))")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.path = path
        self.readOnly = configuration.readOnly
        self.fileMode = configuration.fileMode
        var dead: Int32 = 0
        _ = mdb_reader_check(env, &dead)
    }

    deinit { mdb_env_close(handle) }

    /// Clears reader slots held by processes that no longer exist.
    ///
    /// - Returns: how many slots were cleared.
    @discardableResult
    public func clearStaleReaders() throws -> Int {
        var dead: Int32 = 0
        try check(mdb_reader_check(handle, &dead), "mdb_reader_check")
        return Int(dead)
    }

    /// Facts about the map and the data in it.
    public struct Info: Sendable {
        /// The current map size in bytes.
        public var mapSize: Int
        /// The page size in bytes.
        public var pageSize: Int
        /// Bytes of the map in use: (last used page + 1) × page size.
        public var usedBytes: Int
        /// The id of the last committed transaction.
        public var lastTransactionID: Int
    }

    /// The current map size, page size and use.
    public var info: Info {
        var envInfo = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(handle, &envInfo)
        mdb_env_stat(handle, &stat)
        return Info(
            mapSize: envInfo.me_mapsize,
            pageSize: Int(stat.ms_psize),
            usedBytes: (envInfo.me_last_pgno + 1) * Int(stat.ms_psize),
            lastTransactionID: envInfo.me_last_txnid
        )
    }

    /// Changes the map size, waiting until no transaction of this process
    /// is active and holding new ones back meanwhile.
    ///
    /// Must not be called from inside a transaction of this environment
    /// (it would wait for itself).
    public func setMapSize(_ bytes: Int) throws {
        let rc = gate.exclusively { mdb_env_set_mapsize(handle, bytes) }
        try check(rc, "mdb_env_set_mapsize(\(bytes))")
    }

    /// Flushes the data file to disk (`mdb_env_sync` with force).
    public func sync() throws {
        try check(mdb_env_sync(handle, 1), "mdb_env_sync")
    }

    /// Whether commits skip the flush of the meta page (`MDB_NOMETASYNC`).
    ///
    /// With it set, a commit still flushes the data pages, so the
    /// environment stays intact after a system crash, but the last such
    /// commit may be undone. The next commit without the flag, or
    /// ``sync()``, makes everything before it durable. Set it only from the
    /// thread that runs write transactions, between them.
    public func setMetaSyncDeferred(_ deferred: Bool) throws {
        try check(mdb_env_set_flags(handle, UInt32(MDB_NOMETASYNC), deferred ? 1 : 0), "mdb_env_set_flags")
    }

    /// Writes a consistent copy of the environment into the empty directory
    /// `path`, optionally compacted (free pages omitted, pages renumbered).
    ///
    /// Runs inside a read transaction of its own, so writers go on meanwhile.
    /// The copy's `data.mdb` gets the environment's file mode; it must not
    /// exist yet.
    public func copy(to path: String, compact: Bool) throws {
        // Not mdb_env_copy2: it creates the file with mode 0666 less the
        // umask, which would leave a copy of an owner-only store world-readable.
        let target = path + "/data.mdb"
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(target))") }
        let rc: Int32
        do {
            gate.enter()
            defer { gate.leave() }
            rc = mdb_env_copyfd2(handle, fd, compact ? UInt32(MDB_CP_COMPACT) : 0)
        }
        let closed = close(fd) == 0 ? 0 : errno
        try check(rc, "mdb_env_copyfd2(\(path))")
        try check(closed, "close(\(target))")
    }

    /// Opens (or, in a write transaction, creates) the named database.
    ///
    /// Handles stay valid for the life of the environment. Open every
    /// database once, at start-up, in one write transaction.
    public func openDatabase(
        _ name: String,
        in transaction: borrowing Transaction,
        create: Bool
    ) throws -> Database {
        var dbi: MDB_dbi = 0
        let flags = create ? UInt32(MDB_CREATE) : 0
        try check(mdb_dbi_open(transaction.handle, name, flags, &dbi), "mdb_dbi_open(\(name))")
        return Database(handle: dbi, name: name)
    }

    /// Runs `body` in a read-only transaction, which ends when `body` returns
    /// or throws.
    ///
    /// Databases opened in `body` stay open after it returns (it ends the
    /// transaction as LMDB's commit, which keeps them; an abort would close
    /// them), but not after it throws.
    public func withReadTransaction<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        gate.enter()
        defer { gate.leave() }
        let txn = try begin(readOnly: true)
        let result: R
        do {
            result = try body(Transaction(handle: txn, readOnly: true))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        // Frees the transaction whether or not it succeeds; for a read-only
        // one it always does.
        try check(mdb_txn_commit(txn), "mdb_txn_commit(read)")
        return result
    }

    /// Runs `body` in a write transaction and commits it when `body`
    /// returns; aborts it when `body` throws or the commit fails.
    ///
    /// LMDB allows one write transaction at a time per environment; this call
    /// blocks until it gets it.
    ///
    /// Errors of LMDB itself are thrown as ``LMDBError``; errors of `body`
    /// pass through unchanged.
    public func withWriteTransaction<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        gate.enter()
        defer { gate.leave() }
        let txn = try begin(readOnly: false)
        let result: R
        do {
            result = try body(Transaction(handle: txn, readOnly: false))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        // mdb_txn_commit frees the transaction whether or not it succeeds.
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
        return result
    }

    /// Begins a transaction; called with the gate entered.
    private func begin(readOnly: Bool) throws -> OpaquePointer {
        var txn: OpaquePointer?
        var rc = mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
        if rc == MDB_MAP_RESIZED {
            // Another process grew the map. Adopt its size (a size of 0 takes
            // the file's) with no transaction of ours active, then retry once.
            gate.leave()
            _ = gate.exclusively { mdb_env_set_mapsize(handle, 0) }
            gate.enter()
            rc = mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
        }
        try check(rc, readOnly ? "mdb_txn_begin(read)" : "mdb_txn_begin(write)")
        return txn!
    }
}
