import CFileWriteback
import CLMDB
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// An environment's redo log while it is open: the log, the read
/// transactions that pin checkpointed states, the checkpoint being flushed
/// in the background, and what the next commit is to do. Everything but
/// ``lock()`` and a background checkpoint's flushes is called with the lock
/// held.
final class RedoState: @unchecked Sendable {
    // pthread objects must not move: they live in their own allocations.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let checkpointDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let log: RedoLog
    let settings: Environment.RedoLogSettings
    private let directory: String
    /// A read transaction on the checkpointed state: while it is open, LMDB
    /// reuses none of that state's pages, so the state stays whole on disk.
    private var pinned: OpaquePointer?
    /// The checkpoint being flushed in the background, with the read
    /// transaction that pins its state.
    private var inFlight: (checkpoint: RedoFormat.Checkpoint, pin: OpaquePointer)?
    /// Where background checkpoints flush, one at a time.
    private let checkpointQueue = DispatchQueue(label: "cairn.lmdb.checkpoint")
    /// Runs a background checkpoint's flushes instead of ``checkpointQueue``:
    /// tests set it to run them when they choose.
    var runInBackground: ((@escaping @Sendable () -> Void) -> Void)?
    /// Whether commits write their records without flushing them.
    var deferred = false
    /// Called at every step of a commit and a checkpoint (tests take the
    /// files' images there, as a crash would leave them).
    var observer: ((RedoStep) -> Void)?
    /// For tests: when set, the next commits fail with this code instead of
    /// committing (the transaction is aborted after its record was written).
    var injectedCommitFailure: Int32?
    /// For tests: when set, background checkpoints fail with this code.
    var injectedCheckpointFailure: Int32?
    /// Set when a commit could be made durable neither by its record nor by
    /// a checkpoint: every later write fails with it until the environment
    /// is opened again (which recovers the last durable state).
    private(set) var failure: LMDBError?

    init(log: RedoLog, settings: Environment.RedoLogSettings, directory: String) {
        self.log = log
        self.settings = settings
        self.directory = directory
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(checkpointDone, nil)
    }

    deinit {
        pthread_cond_destroy(checkpointDone)
        checkpointDone.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits until no checkpoint is being flushed in the background.
    func awaitBackgroundCheckpoint() {
        while inFlight != nil { pthread_cond_wait(checkpointDone, mutex) }
    }

    /// Ends the pin (the environment is closing).
    func release() {
        awaitBackgroundCheckpoint()
        if let pinned { mdb_txn_abort(pinned) }
        pinned = nil
    }

    /// Before LMDB commits a transaction: writes its record and starts the
    /// disk on it, so that the disk writes the record while LMDB writes its
    /// pages. Returns false when the commit is to be made durable by a
    /// checkpoint instead (no changes, too large, the log full, or the write
    /// failed).
    func writeAhead(_ recorder: RedoRecorder) -> Bool {
        guard !recorder.isEmpty, !recorder.oversized, log.fits(recorder.record.count) else { return false }
        var record = recorder.record
        do { try log.append(&record) } catch { return false }
        observer?(.recordWritten)
        return true
    }

    /// Has LMDB commit `txn` (without flushing); a failure a test injected
    /// aborts it instead.
    func commit(_ txn: OpaquePointer) -> Int32 {
        if let code = injectedCommitFailure {
            mdb_txn_abort(txn)
            return code
        }
        return mdb_txn_commit(txn)
    }

    /// LMDB did not commit the transaction whose record ``writeAhead(_:)``
    /// wrote: takes the record back, durably, so that no recovery applies it.
    func commitFailed(wroteAhead: Bool) throws(LMDBError) {
        guard wroteAhead else { return }
        do { try log.retractLastRecord() } catch {
            failure = error
            throw error
        }
    }

    /// Makes a committed transaction durable: its record (written ahead)
    /// flushed unless ``deferred``, or a checkpoint when it has none.
    func committed(_ recorder: RedoRecorder, wroteAhead: Bool, env: OpaquePointer) throws(LMDBError) {
        guard !recorder.isEmpty else { return }
        observer?(.committed)
        guard wroteAhead else { return try checkpointOrFail(env) }
        if !deferred {
            do { try log.flush() } catch { return try checkpointOrFail(env) }
            observer?(.recordFlushed)
        }
        // The commit is durable. Time for a checkpoint: in the background
        // when the log can take the next generation's records meanwhile; a
        // checkpoint that fails now is tried again after the next record.
        guard log.sequence >= settings.checkpointRecords || log.segmentHalfFull else { return }
        if settings.backgroundCheckpoints, inFlight == nil, log.checkpoint?.generation == log.recordGeneration {
            startBackgroundCheckpoint(env)
        } else if inFlight == nil {
            try? checkpoint(env)
        }
    }

    private func checkpointOrFail(_ env: OpaquePointer) throws(LMDBError) {
        do { try checkpoint(env) } catch {
            failure = error
            throw error
        }
    }

    /// The data file's meta pages, checked to describe transaction `id`.
    private func metaPages(of id: UInt64) throws(LMDBError) -> [UInt8] {
        guard let pages = RedoLog.metaPages(directory: directory, pageSize: log.pageSize) else {
            throw LMDBError(code: EIO, operation: "checkpoint: reading the meta pages")
        }
        let newest = [pages[..<log.pageSize], pages[log.pageSize...]].compactMap(RedoFormat.metaTransactionID).max()
        guard newest == id else {
            throw LMDBError(
                code: MDB_CORRUPTED,
                operation: "checkpoint: the meta pages are at \(newest.map(String.init) ?? "none"), not \(id)")
        }
        return pages
    }

    /// Flushes the data file, saves its meta pages as the new checkpoint,
    /// and moves the pin to the state they describe; first waits for a
    /// checkpoint being flushed in the background.
    ///
    /// A `closing` checkpoint marks the log closed: the environment is
    /// closing, and its next opener need not restore anything.
    func checkpoint(_ env: OpaquePointer, closing: Bool = false) throws(LMDBError) {
        awaitBackgroundCheckpoint()
        var pin: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &pin), "mdb_txn_begin(checkpoint)")
        do throws(LMDBError) {
            let transactionID = UInt64(mdb_txn_id(pin))
            try check(mdb_env_sync(env, 1), "mdb_env_sync")
            observer?(.dataFlushed)
            // A generation no record in the file has had: stale records never match.
            try log.write(
                RedoFormat.Checkpoint(
                    generation: log.recordGeneration + 1, transactionID: transactionID, pageSize: log.pageSize,
                    metaPages: try metaPages(of: transactionID), closed: closing, segmentSize: log.segmentSize))
        } catch {
            mdb_txn_abort(pin)
            throw error
        }
        observer?(.checkpointWritten)
        if let pinned { mdb_txn_abort(pinned) }
        pinned = pin
    }

    /// Starts a checkpoint of the state just committed whose flushes run
    /// on another thread: pins the state, saves its meta pages, ends the
    /// records' generation so that new records go into the other segment,
    /// and hands the data file's flush and the slot's write to
    /// ``runInBackground``. Until the slot is durable, recovery starts from
    /// the previous checkpoint and replays both generations. Falls back to
    /// a checkpoint here when any step before the hand-off fails.
    private func startBackgroundCheckpoint(_ env: OpaquePointer) {
        var pin: OpaquePointer?
        guard mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &pin) == MDB_SUCCESS, let pin else {
            try? checkpoint(env)
            return
        }
        let transactionID = UInt64(mdb_txn_id(pin))
        do throws(LMDBError) {
            let pages = try metaPages(of: transactionID)
            try log.endGeneration()
            inFlight = (
                RedoFormat.Checkpoint(
                    generation: log.recordGeneration, transactionID: transactionID, pageSize: log.pageSize,
                    metaPages: pages, segmentSize: log.segmentSize),
                pin
            )
        } catch {
            mdb_txn_abort(pin)
            try? checkpoint(env)
            return
        }
        observer?(.checkpointStarted)
        let handle = SendablePointer(env)
        // The bytes of the pages in use (the file may be allocated far beyond
        // them), read here, where no map resize can run (the writer is inside
        // its transaction's gate): the background thread must not read the map.
        let used = Environment.minimumMapSize(of: env)
        let work: @Sendable () -> Void = { self.finishBackgroundCheckpoint(handle.pointer, usedBytes: used) }
        if let runInBackground { runInBackground(work) } else { checkpointQueue.async(execute: work) }
    }

    /// On the background thread: flushes the data file, writes and flushes
    /// the slot, then (under the lock) moves the pin and lets waiters go.
    /// A failure leaves the previous checkpoint the newest: the records of
    /// both generations stay in the log, and the next checkpoint is made
    /// by the writer itself (no new generation may start while the one
    /// before the failed checkpoint's may still be needed).
    private func finishBackgroundCheckpoint(_ env: OpaquePointer, usedBytes: Int) {
        guard let (next, injected) = locked({ inFlight.map { ($0.checkpoint, injectedCheckpointFailure) } }) else {
            return
        }
        var outcome: LMDBError?
        do throws(LMDBError) {
            if let injected { throw LMDBError(code: injected, operation: "checkpoint (injected)") }
            // The data file's flush, as mdb_env_sync does it without
            // MDB_WRITEMAP, but without its look at the map's meta pages: a
            // map resize may run meanwhile (this thread is outside the gate).
            var fd: Int32 = -1
            try check(mdb_env_get_fd(env, &fd), "mdb_env_get_fd")
            Self.writeBackPaced(fd, upTo: usedBytes)
            guard fdatasync(fd) == 0 else { throw LMDBError(code: errno, operation: "fdatasync(data.mdb)") }
            observer?(.dataFlushed)
            try log.writeSlot(next)
            observer?(.checkpointWritten)
        } catch {
            outcome = error
        }
        locked {
            guard let flight = inFlight else { return }
            inFlight = nil
            if outcome == nil {
                log.adopt(next)
                if let pinned { mdb_txn_abort(pinned) }
                pinned = flight.pin
            } else {
                mdb_txn_abort(flight.pin)
            }
            pthread_cond_broadcast(checkpointDone)
        }
    }
}

extension RedoState {
    /// How much of the data file a background checkpoint writes back at a time.
    static let writebackSlice = 1 << 20

    /// Writes the data file's dirty pages up to `used` bytes back a slice at
    /// a time, waiting for each, before the checkpoint's flush: the disk
    /// then never holds more than a slice of the checkpoint's writes when
    /// the writer's next log flush (whose cache flush waits for every write
    /// before it) arrives. Paces only; the flush after it makes the data
    /// durable. Pages written beyond `used` since are left to that flush.
    fileprivate static func writeBackPaced(_ fd: Int32, upTo used: Int) {
        var offset = 0
        while offset < used {
            _ = cairn_write_back_and_wait(fd, Int64(offset), Int64(writebackSlice))
            offset += writebackSlice
        }
    }
}

/// An LMDB handle handed to the background checkpoint's thread, which uses
/// it only while the environment waits for it (``RedoState/release()``).
private struct SendablePointer: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// The steps of making a commit durable, for tests (``RedoState/observer``).
enum RedoStep: Equatable {
    /// The record is written ahead of LMDB's commit, not flushed.
    case recordWritten
    /// LMDB committed the transaction (unflushed), its record written
    /// unless it is to be made durable by a checkpoint.
    case committed
    /// The record is flushed.
    case recordFlushed
    /// A background checkpoint started: its state pinned, the records'
    /// generation ended; nothing flushed.
    case checkpointStarted
    /// A checkpoint flushed the data file; its slot is not written yet.
    case dataFlushed
    /// The checkpoint's slot is written and flushed; the pin has not moved.
    case checkpointWritten
}

extension Environment {
    /// Before a writer opens LMDB: unless the last writer closed the log,
    /// when the data file's meta pages are not the checkpoint's (commits
    /// happened after it, which a crash may have left half on disk), writes
    /// the checkpoint's back.
    ///
    /// Needs the directory to itself: a read-only environment open on it
    /// would see its state change underneath.
    static func restoreCheckpoint(of log: RedoLog, directory: String) throws(LMDBError) {
        guard let checkpoint = log.checkpoint, !checkpoint.closed else { return }
        guard let current = RedoLog.metaPages(directory: directory, pageSize: checkpoint.pageSize) else {
            throw LMDBError(
                code: MDB_INVALID,
                operation: "redo log: \(directory)/data.mdb is missing or shorter than its meta pages")
        }
        guard current != checkpoint.metaPages else { return }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(directory))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw LMDBError(
                code: errno,
                operation: "redo log: the store needs recovery but another process has it open (read-only)")
        }
        try RedoLog.restoreMetaPages(checkpoint.metaPages, directory: directory)
    }

    /// Applies the records of the redo log, one transaction each, growing
    /// the map when one does not fit.
    static func replay(_ records: [[RedoFormat.Change]], into env: OpaquePointer) throws(LMDBError) {
        for changes in records {
            while true {
                var txn: OpaquePointer?
                try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin(replay)")
                let rc = apply(changes, in: txn!)
                if rc == MDB_SUCCESS {
                    try check(mdb_txn_commit(txn), "mdb_txn_commit(replay)")
                    break
                }
                mdb_txn_abort(txn)
                guard rc == MDB_MAP_FULL else { throw LMDBError(code: rc, operation: "redo log replay") }
                var info = MDB_envinfo()
                mdb_env_info(env, &info)
                try check(mdb_env_set_mapsize(env, info.me_mapsize * 2), "mdb_env_set_mapsize(replay)")
            }
        }
    }

    private static func apply(_ changes: [RedoFormat.Change], in txn: OpaquePointer) -> Int32 {
        var databases: [String: MDB_dbi] = [:]
        func database(_ name: String, create: Bool) -> (MDB_dbi, Int32) {
            if let dbi = databases[name] { return (dbi, MDB_SUCCESS) }
            var dbi: MDB_dbi = 0
            let rc = mdb_dbi_open(txn, name.isEmpty ? nil : name, create ? UInt32(MDB_CREATE) : 0, &dbi)
            if rc == MDB_SUCCESS { databases[name] = dbi }
            return (dbi, rc)
        }
        for change in changes {
            var rc: Int32
            switch change {
            case .openDatabase(let name):
                rc = database(name, create: true).1
            case .put(let name, var key, var value):
                let (dbi, opened) = database(name, create: false)
                guard opened == MDB_SUCCESS else { return opened }
                rc = key.withUnsafeMutableBytes { keyBytes in
                    value.withUnsafeMutableBytes { valueBytes in
                        var k = MDB_val(mv_size: keyBytes.count, mv_data: keyBytes.baseAddress)
                        var v = MDB_val(mv_size: valueBytes.count, mv_data: valueBytes.baseAddress)
                        return mdb_put(txn, dbi, &k, &v, 0)
                    }
                }
            case .delete(let name, var key):
                let (dbi, opened) = database(name, create: false)
                guard opened == MDB_SUCCESS else { return opened }
                rc = key.withUnsafeMutableBytes { keyBytes in
                    var k = MDB_val(mv_size: keyBytes.count, mv_data: keyBytes.baseAddress)
                    return mdb_del(txn, dbi, &k, nil)
                }
                if rc == MDB_NOTFOUND { rc = MDB_SUCCESS }
            case .empty(let name), .removeDatabase(let name):
                let (dbi, opened) = database(name, create: false)
                guard opened == MDB_SUCCESS else { return opened }
                let remove: Int32
                if case .removeDatabase = change { remove = 1 } else { remove = 0 }
                rc = mdb_drop(txn, dbi, remove)
                if remove == 1 { databases[name] = nil }
            }
            guard rc == MDB_SUCCESS else { return rc }
        }
        return MDB_SUCCESS
    }

    /// For a read-only environment: when the directory has a redo log and
    /// no writer holds it, checks that the last writer closed it (or
    /// recovered it); a store a crash left unrecovered must be opened by a
    /// writer first. Returns the directory's shared lock, kept while the
    /// environment is open, or -1 without a log.
    static func checkRecovered(_ directory: String, pageSize: Int) throws(LMDBError) -> Int32 {
        let path = directory + "/" + RedoLog.fileName
        let logFD = open(path, O_RDONLY | O_CLOEXEC)
        guard logFD >= 0 else { return -1 }
        defer { close(logFD) }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw LMDBError(code: errno, operation: "open(\(directory))") }
        guard flock(directoryFD, LOCK_SH | LOCK_NB) == 0 else {
            close(directoryFD)
            throw LMDBError(code: EWOULDBLOCK, operation: "redo log: a writer is recovering \(directory)")
        }
        // A writer holds the log exclusively: its process keeps the state whole.
        guard flock(logFD, LOCK_SH | LOCK_NB) == 0 else { return directoryFD }
        if RedoLog.needsRecovery(logFD, directory: directory, pageSize: pageSize) {
            close(directoryFD)
            throw LMDBError(
                code: LMDBError.needsRecovery,
                operation:
                    "redo log: the store in \(directory) was not closed cleanly; open it for writing once (start cairn serve) to recover it"
            )
        }
        return directoryFD
    }
}
