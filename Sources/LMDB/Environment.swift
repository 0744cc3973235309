import CLMDB
import Synchronization

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
///
/// With ``Configuration/allocatesMap`` the data file is kept allocated on
/// disk up to the map size, so that a full disk stops the map from growing
/// instead of failing a commit halfway.
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
        /// Keep the data file allocated on disk (`posix_fallocate`) up to
        /// the map size: at open, before every growth of the map, and before
        /// a write transaction when the map was grown by another process.
        ///
        /// LMDB writes pages anywhere below the map size. Without this, a
        /// disk that fills up makes such a write come out short, which LMDB
        /// reports as `EIO` after part of the commit is written (the
        /// environment stays intact, but the failure does not say "full").
        /// With it, those writes land in allocated blocks; the disk being
        /// full shows as ``setMapSize(_:)`` failing with `ENOSPC`, before
        /// anything is written. The data file then occupies the whole map
        /// on disk.
        ///
        /// Only on file systems whose `fallocate` reserves blocks for later
        /// writes (ext4, XFS, tmpfs); elsewhere, and for a read-only
        /// environment, it does nothing (see ``Environment/allocatesMap``).
        /// When the allocation fails at open, the environment opens anyway
        /// and tries again before each write transaction, so that space can
        /// still be freed.
        public var allocatesMap: Bool
        /// With ``allocatesMap``: disk space the map does not take when it
        /// opens or grows through ``growMap(by:atLeast:leavingFree:)`` with
        /// this reserve, so that writes that free space (a delete) can still
        /// grow the map a little on a full disk.
        public var reservedBytes: Int
        /// Make commits durable through a redo log instead of LMDB's own
        /// flushes (see ``RedoLogSettings``); `nil` for LMDB's flushes.
        /// Ignored for a read-only environment.
        public var redoLog: RedoLogSettings?

        /// Creates a configuration.
        public init(
            mapSize: Int = 1 << 30,
            maxDatabases: UInt32 = 32,
            maxReaders: UInt32 = 510,
            readOnly: Bool = false,
            fileMode: mode_t = 0o600,
            allocatesMap: Bool = false,
            reservedBytes: Int = 0,
            redoLog: RedoLogSettings? = nil
        ) {
            self.mapSize = mapSize
            self.maxDatabases = maxDatabases
            self.maxReaders = maxReaders
            self.readOnly = readOnly
            self.fileMode = fileMode
            self.allocatesMap = allocatesMap
            self.reservedBytes = reservedBytes
            self.redoLog = redoLog
        }
    }

    /// How an environment with a redo log makes commits durable.
    ///
    /// LMDB makes a commit durable with two flushes of the data file: its
    /// pages, then its meta page. With a redo log, LMDB commits without
    /// flushing (`MDB_NOSYNC`), and the commit's changes (every key and value
    /// written or deleted) are appended to `redo.log` and flushed once: one
    /// sequential write and one flush per durable commit. A *checkpoint*
    /// flushes the data file (`mdb_env_sync`), saves its two meta pages in
    /// the log, and starts the log afresh; a checkpoint that falls due after
    /// a record runs on a thread of its own while the next records go into
    /// the log's other segment. Until the next checkpoint, a read
    /// transaction on the checkpointed state keeps LMDB from reusing its
    /// pages, so that state stays whole on disk whatever the later, unflushed
    /// commits wrote. Opening the environment after a crash writes the saved
    /// meta pages back (the checkpointed state), replays the records, and
    /// checkpoints. docs/store-layout.md ("The redo log") describes the file.
    ///
    /// The writing process holds an exclusive lock on `redo.log`: a second
    /// writer fails to open. Read-only environments may open beside it.
    public struct RedoLogSettings: Sendable {
        /// A commit whose changes take more bytes than this is made durable
        /// by a checkpoint instead of a record (bulk content is not written
        /// twice).
        public var maxRecordBytes: Int
        /// Checkpoint after this many records.
        public var checkpointRecords: Int
        /// Room for the records of one generation in `redo.log` (the file
        /// has two such segments), allocated on disk when the log is opened;
        /// a record that does not fit checkpoints instead. A checkpoint is
        /// also due once the records fill half of it.
        public var checkpointBytes: Int
        /// Whether checkpoints flush the data file on a thread of their own
        /// while the writer goes on (the next generation's records go into
        /// the log's other segment meanwhile). Without, the commit that
        /// reaches ``checkpointRecords`` waits for the flush.
        public var backgroundCheckpoints: Bool

        /// Creates settings.
        public init(
            maxRecordBytes: Int = 128 << 10, checkpointRecords: Int = 128, checkpointBytes: Int = 1 << 20,
            backgroundCheckpoints: Bool = true
        ) {
            self.maxRecordBytes = maxRecordBytes
            self.checkpointRecords = checkpointRecords
            self.checkpointBytes = checkpointBytes
            self.backgroundCheckpoints = backgroundCheckpoints
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
    /// Whether the data file is kept allocated up to the map size (see
    /// ``Configuration/allocatesMap``); false when that was not asked for or
    /// the file system cannot promise it.
    public let allocatesMap: Bool
    /// With ``allocatesMap``: how many bytes of the data file are known to
    /// be allocated. Changed only with no transaction active (under the
    /// gate's exclusive section) or by the one write transaction's thread.
    private let allocation = AllocationState()
    /// Read transactions kept reset between uses of
    /// ``withReusedReadTransaction(_:)``: renewing one skips the allocation
    /// and the reader-table lock that beginning one costs.
    private let idleReaders = Mutex<[IdleReader]>([])
    /// How many reset read transactions are kept at most.
    static let maxIdleReaders = 32
    /// The redo log and its state, when commits are made durable through it.
    private let redo: RedoState?
    /// A read-only environment's shared lock on its directory, which keeps a
    /// recovering writer from rewriting the meta pages under it; -1 if none.
    private let directoryLock: Int32

    /// Opens (creating if needed) the environment in the directory `path`,
    /// which must exist.
    ///
    /// Stale reader slots left by dead processes are cleared right after the
    /// open (`mdb_reader_check`).
    public init(path: String, configuration: Configuration = .init()) throws {
        let redoSettings = configuration.readOnly ? nil : configuration.redoLog
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        // A writer's log is opened (and locked) first; a reader checks that
        // no unrecovered crash left the data file's meta pages to be restored.
        let log = try redoSettings.map {
            try RedoLog(
                directory: path, pageSize: pageSize, fileMode: configuration.fileMode, recordBytes: $0.checkpointBytes)
        }
        let directoryLock = configuration.readOnly ? try Self.checkRecovered(path, pageSize: pageSize) : -1
        if let log { try Self.restoreCheckpoint(of: log, directory: path) }
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw LMDBError(code: ENOMEM, operation: "mdb_env_create") }
        do {
            try check(mdb_env_set_maxdbs(env, configuration.maxDatabases), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, configuration.maxReaders), "mdb_env_set_maxreaders")
            try check(mdb_env_set_mapsize(env, configuration.mapSize), "mdb_env_set_mapsize")
            var flags = UInt32(MDB_NOTLS)
            if configuration.readOnly { flags |= UInt32(MDB_RDONLY) }
            if log != nil { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, path, flags, configuration.fileMode), "mdb_env_open(\(path))")
            if let log { try Self.replay(log.records(), into: env) }
        } catch {
            mdb_env_close(env)
            if directoryLock >= 0 { close(directoryLock) }
            throw error
        }
        self.handle = env
        self.directoryLock = directoryLock
        if let log, let redoSettings {
            self.redo = RedoState(log: log, settings: redoSettings, directory: path)
        } else {
            self.redo = nil
        }
        self.path = path
        self.readOnly = configuration.readOnly
        self.fileMode = configuration.fileMode
        self.allocatesMap =
            configuration.allocatesMap && !configuration.readOnly && MapAllocation.isSupported(directory: path)
        if allocatesMap {
            // A disk with less room than the map asks for gets a map as large
            // as it can hold (never smaller than the data in it), so that
            // every page LMDB may write is allocated. When not even that can
            // be allocated the store still opens, to free space, and tries
            // again before each write transaction.
            let mapSize = Self.mapSize(of: env)
            let fitting = MapAllocation.allocateFitting(
                Self.fileDescriptor(of: env), minimum: Self.minimumMapSize(of: env), maximum: mapSize,
                leavingFree: configuration.reservedBytes)
            if case .allocated(let size) = fitting {
                if size < mapSize { mdb_env_set_mapsize(env, size) }
                allocation.bytes = max(size, Self.mapSize(of: env))
            }
        }
        var dead: Int32 = 0
        _ = mdb_reader_check(env, &dead)
        if let redo {
            // The state now open (restored and replayed, or a new store's)
            // becomes the checkpoint the next records follow.
            do { try redo.locked { try redo.checkpoint(env) } } catch {
                redo.locked { redo.release() }
                throw error
            }
        }
    }

    private static func mapSize(of env: OpaquePointer) -> Int {
        var envInfo = MDB_envinfo()
        mdb_env_info(env, &envInfo)
        return envInfo.me_mapsize
    }

    /// The smallest map that holds the data: (last used page + 1) pages.
    /// Reads the map's meta page: only where no map resize can run at the
    /// same time.
    static func minimumMapSize(of env: OpaquePointer) -> Int {
        var envInfo = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &envInfo)
        mdb_env_stat(env, &stat)
        return (envInfo.me_last_pgno + 1) * Int(stat.ms_psize)
    }

    private static func fileDescriptor(of env: OpaquePointer) -> Int32 {
        var fd: Int32 = -1
        mdb_env_get_fd(env, &fd)
        return fd
    }

    deinit {
        for reader in idleReaders.withLock({ $0 }) { mdb_txn_abort(reader.txn) }
        if let redo {
            // A closing checkpoint leaves nothing to replay and the meta pages
            // as saved, so a read-only opener finds the store recovered.
            redo.locked {
                try? redo.checkpoint(handle, closing: true)
                redo.release()
            }
        }
        mdb_env_close(handle)
        if directoryLock >= 0 { close(directoryLock) }
    }

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
    ///
    /// With ``allocatesMap`` the data file is allocated up to the new size
    /// first; when that fails (`ENOSPC`, `EDQUOT`) the map keeps its size
    /// and the error is thrown.
    public func setMapSize(_ bytes: Int) throws {
        let rc = gate.exclusively { () -> Int32 in
            if allocatesMap {
                let allocated = MapAllocation.allocate(Self.fileDescriptor(of: handle), upTo: bytes)
                guard allocated == 0 else { return allocated }
                allocation.bytes = max(allocation.bytes, bytes)
            }
            return mdb_env_set_mapsize(handle, bytes)
        }
        try check(rc, "mdb_env_set_mapsize(\(bytes))")
    }

    /// Grows the map by up to `step` bytes, by less when the disk cannot
    /// hold that much, but by at least `minimumStep`.
    ///
    /// Without ``allocatesMap`` the map grows by `step` (it is only address
    /// space). With it, the data file is allocated first: up to `step`, or
    /// as much of it as the file system has room for beyond `reserve`
    /// bytes, halving what is asked while the allocation fails.
    ///
    /// - Returns: the new map size, or `nil` when not even `minimumStep`
    ///   fits on the disk (the map keeps its size).
    /// - Throws: ``LMDBError`` for any other failure.
    public func growMap(by step: Int, atLeast minimumStep: Int, leavingFree reserve: Int = 0) throws -> Int? {
        let outcome = gate.exclusively { () -> (size: Int?, rc: Int32) in
            let current = Self.mapSize(of: handle)
            var target = current + step
            if allocatesMap {
                let fitting = MapAllocation.allocateFitting(
                    Self.fileDescriptor(of: handle), minimum: current + minimumStep, maximum: target,
                    leavingFree: reserve)
                switch fitting {
                case .allocated(let size):
                    allocation.bytes = max(allocation.bytes, size)
                    target = size
                case .noRoom:
                    return (nil, 0)
                case .failed(let rc):
                    return (nil, rc)
                }
            }
            let rc = mdb_env_set_mapsize(handle, target)
            return (rc == MDB_SUCCESS ? Self.mapSize(of: handle) : nil, rc)
        }
        try check(outcome.rc, "mdb_env_set_mapsize(+\(step))")
        return outcome.size
    }

    /// Bytes the map could still take on the disk: what the file system has
    /// free beyond the data file's allocation, less `reserve`. Without
    /// ``allocatesMap``, `nil`: the map is not tied to the disk.
    public func diskRoom(leavingFree reserve: Int = 0) -> Int? {
        guard allocatesMap else { return nil }
        return MapAllocation.room(Self.fileDescriptor(of: handle), reserve: reserve)
    }

    /// Bytes of free pages inside the map that later writes reuse: LMDB's
    /// free list (pages freed by committed transactions), read in a read
    /// transaction of its own.
    public func freeListBytes() throws -> Int {
        try withReadTransaction { txn in
            var cursor: OpaquePointer?
            // The free list is database 0; a read transaction may open a cursor on it.
            try check(mdb_cursor_open(txn.handle, 0, &cursor), "mdb_cursor_open(free list)")
            defer { mdb_cursor_close(cursor) }
            var pages = 0
            var key = MDB_val()
            var value = MDB_val()
            var rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
            while rc == MDB_SUCCESS {
                // Each value is a list of page numbers led by its count (size_t).
                if value.mv_size >= MemoryLayout<Int>.size {
                    pages += value.mv_data.loadUnaligned(as: Int.self)
                }
                rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
            }
            guard rc == MDB_NOTFOUND else { throw LMDBError(code: rc, operation: "mdb_cursor_get(free list)") }
            return pages * info.pageSize
        }
    }

    /// Flushes the data file to disk (`mdb_env_sync` with force); with a
    /// redo log, checkpoints.
    public func sync() throws {
        if let redo {
            gate.enter()
            defer { gate.leave() }
            try redo.locked { try redo.checkpoint(handle) }
            return
        }
        try check(mdb_env_sync(handle, 1), "mdb_env_sync")
    }

    /// Whether commits are made durable through a redo log.
    public var hasRedoLog: Bool { redo != nil }

    /// Calls `observer` at every step of making a commit durable (tests).
    func observeRedo(_ observer: @escaping (RedoStep) -> Void) {
        redo?.locked { redo?.observer = observer }
    }

    /// Makes background checkpoints fail before their flushes, or not (tests).
    func failBackgroundCheckpoints(_ failing: Bool) {
        redo?.locked { redo?.injectedCheckpointFailure = failing ? EIO : nil }
    }

    /// Hands the flushes of background checkpoints to `runner` instead of
    /// their thread (tests run them when they choose).
    func runBackgroundCheckpoints(with runner: @escaping (@escaping @Sendable () -> Void) -> Void) {
        redo?.locked { redo?.runInBackground = runner }
    }

    /// Makes the following commits fail with `code` after their records
    /// are written, or commit again with `nil` (tests).
    func injectCommitFailure(_ code: Int32?) {
        redo?.locked { redo?.injectedCommitFailure = code }
    }

    /// The name of the redo log's file in the environment's directory.
    public static let redoLogFileName = RedoLog.fileName

    /// Whether commits skip the flush of the meta page (`MDB_NOMETASYNC`).
    ///
    /// With it set, a commit still flushes the data pages, so the
    /// environment stays intact after a system crash, but the last such
    /// commit may be undone. The next commit without the flag, or
    /// ``sync()``, makes everything before it durable. Set it only from the
    /// thread that runs write transactions, between them.
    ///
    /// With a redo log, a deferred commit's record is written but not
    /// flushed; the next flushed record or checkpoint makes it durable.
    public func setMetaSyncDeferred(_ deferred: Bool) throws {
        if let redo {
            redo.locked { redo.deferred = deferred }
            return
        }
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
        if create { transaction.redo?.add(.openDatabase, database: name) }
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

    /// Runs `body` in a read-only transaction like ``withReadTransaction(_:)``,
    /// reusing a transaction that an earlier call reset instead of beginning
    /// a new one (`mdb_txn_renew`, then `mdb_txn_reset` when `body` ends).
    ///
    /// For the many short reads of a server. Unlike ``withReadTransaction(_:)``
    /// it ends the transaction with a reset, so a database opened in `body`
    /// is not kept: open databases beforehand.
    public func withReusedReadTransaction<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        gate.enter()
        defer { gate.leave() }
        let txn = try renewedReader()
        defer {
            mdb_txn_reset(txn)
            let reader = IdleReader(txn: txn)
            let kept = idleReaders.withLock { idle in
                guard idle.count < Self.maxIdleReaders else { return false }
                idle.append(reader)
                return true
            }
            if !kept { mdb_txn_abort(txn) }
        }
        return try body(Transaction(handle: txn, readOnly: true))
    }

    /// A reset read transaction renewed, or a new one; called with the gate entered.
    private func renewedReader() throws -> OpaquePointer {
        while let txn = idleReaders.withLock({ $0.popLast() })?.txn {
            if mdb_txn_renew(txn) == MDB_SUCCESS { return txn }
            // Renewing fails when another process grew the map: drop the
            // transaction and begin one, which adopts the new size.
            mdb_txn_abort(txn)
        }
        return try begin(readOnly: true)
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
        if let redo {
            // Held from the beginning to the record: records follow commit order.
            redo.lock()
            defer { redo.unlock() }
            if let failure = redo.failure { throw failure }
            let txn = try begin(readOnly: false)
            let recorder = RedoRecorder(limit: redo.settings.maxRecordBytes)
            let result: R
            do {
                result = try body(Transaction(handle: txn, readOnly: false, redo: recorder))
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
            let wroteAhead = redo.writeAhead(recorder)
            let committed = redo.commit(txn)
            guard committed == MDB_SUCCESS else {
                try redo.commitFailed(wroteAhead: wroteAhead)
                throw LMDBError(code: committed, operation: "mdb_txn_commit")
            }
            try redo.committed(recorder, wroteAhead: wroteAhead, env: handle)
            return result
        }
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
        if !readOnly && allocatesMap {
            // The map may have been adopted from another process above, or
            // left unallocated at open: allocate it now if there is room.
            let mapSize = Self.mapSize(of: handle)
            if mapSize > allocation.bytes,
                MapAllocation.allocate(Self.fileDescriptor(of: handle), upTo: mapSize) == 0
            {
                allocation.bytes = mapSize
            }
        }
        return txn!
    }
}

/// A read transaction reset and kept for reuse. With `MDB_NOTLS` a read
/// transaction is not tied to a thread, so any thread may renew it; only
/// one holds it at a time (taken from and given back under a lock).
private struct IdleReader: @unchecked Sendable {
    let txn: OpaquePointer
}

/// The allocated length of the data file.
private final class AllocationState: @unchecked Sendable {
    // Read and written by the writing thread inside a write transaction
    // (LMDB serializes those) or under the gate with no transaction active.
    var bytes = 0
}

/// Allocating the data file ahead of LMDB's writes.
enum MapAllocation {
    /// File systems whose `fallocate` reserves blocks that later writes use
    /// without allocating: ext2/3/4, XFS, tmpfs. Elsewhere glibc's
    /// `posix_fallocate` may fall back to writing zeros, or copy-on-write
    /// file systems (btrfs, ZFS) allocate again on every write anyway.
    static let supportedFileSystems: Set<Int> = [
        0xEF53,  // ext2/3/4
        0x5846_5342,  // XFS
        0x0102_1994,  // tmpfs
    ]

    /// Whether the file system holding `directory` is one of ``supportedFileSystems``.
    static func isSupported(directory: String) -> Bool {
        var info = statfs()
        guard statfs(directory, &info) == 0 else { return false }
        return supportedFileSystems.contains(Int(info.f_type))
    }

    /// The outcome of ``allocateFitting(_:minimum:maximum:leavingFree:)``.
    enum Fitting: Equatable {
        /// The file is allocated up to this length.
        case allocated(Int)
        /// Not even the minimum fits beside the reserve.
        case noRoom
        /// The allocation failed for another reason than space (an errno).
        case failed(Int32)
    }

    /// The granule of fitted sizes: the system's page size, LMDB's page size.
    static let granule = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))

    /// Bytes the file system has available (`fstatvfs`'s `f_bavail`, what
    /// `df` shows), less `reserve`, never negative.
    ///
    /// Available, not free, even for root: ext4 keeps blocks back from
    /// every allocation (`resv_clusters`) for the metadata that writes into
    /// allocated-but-unwritten extents need, and counts them free.
    static func room(_ fd: Int32, reserve: Int) -> Int {
        var info = statvfs()
        guard fstatvfs(fd, &info) == 0 else { return 0 }
        return max(0, Int(info.f_bavail) * Int(info.f_frsize) - reserve)
    }

    /// Allocates the file up to the largest length in `minimum...maximum`
    /// that fits beside `reserve` free bytes: `maximum` when there is room,
    /// else what the file system reports free, halving the part above
    /// `minimum` while the allocation still fails (free space is an estimate:
    /// file system metadata takes some too).
    static func allocateFitting(_ fd: Int32, minimum: Int, maximum: Int, leavingFree reserve: Int) -> Fitting {
        var status = stat()
        guard fstat(fd, &status) == 0 else { return .failed(errno) }
        let length = Int(status.st_size)
        let fits = length + room(fd, reserve: reserve)
        var target = min(maximum, max(length, fits / granule * granule))
        if target < minimum {
            // Within what the file already has, nothing needs room.
            guard minimum <= length else { return .noRoom }
            target = minimum
        }
        while true {
            let rc = allocate(fd, upTo: target)
            if rc == 0 { return .allocated(target) }
            guard rc == ENOSPC || rc == EDQUOT else { return .failed(rc) }
            guard target > minimum else { return .noRoom }
            target = minimum + (target - minimum) / 2 / granule * granule
        }
    }

    /// Allocates the file up to `length` bytes (extending it as needed).
    ///
    /// A failed allocation may have taken some blocks before it ran out;
    /// the file is cut back to its former length, so that a growth that
    /// did not happen does not keep the disk's last free space.
    ///
    /// - Returns: 0, or the error number (`ENOSPC`, `EDQUOT`, ...).
    static func allocate(_ fd: Int32, upTo length: Int) -> Int32 {
        guard fd >= 0 else { return EBADF }
        var before = stat()
        guard fstat(fd, &before) == 0 else { return errno }
        var rc: Int32
        repeat { rc = posix_fallocate(fd, 0, off_t(length)) } while rc == EINTR
        if rc != 0 && Int(before.st_size) < length {
            _ = ftruncate(fd, before.st_size)
        }
        return rc
    }
}
