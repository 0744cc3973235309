import CairnDigest
import Foundation
import LMDB
import Logging
import StoreLayout
import Synchronization

/// Cairn's artifact store: content-addressed, chunked, per-tenant blobs in
/// an LMDB environment, with exact usage, quotas and an audit log.
///
/// Writes (staging, uploads, deletes, quotas) run one at a time on the
/// store's writer and are `async`; reads are synchronous, short read
/// transactions that may run on any thread at once. The store does no
/// networking and knows nothing about peers: callers pass the ``Actor``.
///
/// Open a store with ``open(directory:configuration:logger:)``; pending
/// layout migrations run then, unfinished reclamation resumes, and idle
/// uploads expire.
public final class ArtifactStore: Sendable {
    /// Settings of a store.
    public struct Configuration: Sendable {
        /// The map size to start with. The map grows on demand (doubling,
        /// by at most 1 GiB at a time, or by what the disk still holds).
        ///
        /// The data file is allocated up to the map size (see
        /// ``allocatesMap``), so the map starts small; on a disk with less
        /// room it starts as large as the disk allows.
        public var initialMapSize: Int = 64 << 20
        /// The most the map may grow to: the store's size limit.
        public var mapSizeLimit: Int = 1 << 40
        /// Keep the data file allocated on disk up to the map size, so that
        /// a full disk is ``StoreError/Code/storeFull`` with nothing written
        /// (the map cannot grow), not a commit failing halfway. Where the file
        /// system cannot promise the allocation (anything but ext4, XFS and
        /// tmpfs), the store works without it.
        public var allocatesMap = true
        /// With ``allocatesMap``: disk space that writes adding content leave
        /// free, for deletes and reclamation on an otherwise full disk.
        public var reservedDiskBytes: Int = 1 << 20
        /// The largest artifact accepted.
        public var maxArtifactBytes: UInt64 = 4 << 30
        /// An upload not appended to for this long expires.
        public var uploadIdleTimeout: Duration = .seconds(24 * 3600)
        /// How commits are made durable: through a redo log (one sequential
        /// flush per durable write; see `Environment.RedoLogSettings`), or
        /// with `nil` through LMDB's own two flushes of the data file. A
        /// store that has a log already is opened through it whatever this
        /// says.
        public var redoLog: Environment.RedoLogSettings? = .init()
        /// Where time comes from (tests move it by hand).
        public var clock: @Sendable () -> Date = { Date() }
        /// Stop migrations at this layout version (tests of older layouts).
        var targetLayoutVersion: UInt32 = Layout.currentVersion

        public init() {}
    }

    let environment: Environment
    let tables: Tables
    let writer: StoreWriter
    let configuration: Configuration
    let geometry = ChunkGeometry.standard
    let logger: Logger
    /// The directory holding the LMDB files.
    public let directory: String
    /// The layout version of the open store.
    public let layoutVersion: UInt32
    let uploadDigests = UploadDigests()
    let appendQueue = AppendQueue()
    let uploadActivity = UploadActivity()
    let reclaimScheduled = Atomic<Bool>(false)
    let instruments = StoreInstruments()

    init(
        environment: Environment, tables: Tables, writer: StoreWriter, configuration: Configuration,
        logger: Logger, directory: String, layoutVersion: UInt32
    ) {
        self.environment = environment
        self.tables = tables
        self.writer = writer
        self.configuration = configuration
        self.logger = logger
        self.directory = directory
        self.layoutVersion = layoutVersion
    }

    /// Opens the store in `directory`, creating it (mode 0700, files 0600)
    /// when it does not exist.
    ///
    /// - Throws: ``StoreError`` with ``StoreError/Code/layoutTooNew`` when a
    ///   newer build wrote the store (it is left untouched), or
    ///   ``StoreError/Code/internalError`` when it cannot be opened.
    public static func open(
        directory: String,
        configuration: Configuration = .init(),
        logger: Logger = Logger(label: "cairn.store")
    ) throws -> ArtifactStore {
        try createPrivateDirectory(directory)
        let now = milliseconds(configuration.clock())
        func openEnvironment(allocatingMap: Bool, redoLog: Environment.RedoLogSettings?) throws -> (
            Environment, StoreWriter, Tables, UInt32
        ) {
            let environment: Environment
            do {
                let mapSize = min(configuration.initialMapSize, configuration.mapSizeLimit)
                environment = try Environment(
                    path: directory,
                    configuration: .init(
                        mapSize: mapSize, allocatesMap: allocatingMap,
                        reservedBytes: configuration.reservedDiskBytes, redoLog: redoLog))
            } catch let error as LMDBError where error.code == EWOULDBLOCK {
                throw StoreError(
                    .internalError, .none,
                    "the store in \(directory) is open for writing in another process (is another cairn serve running on it?)"
                )
            } catch {
                throw StoreError(.internalError, .none, "cannot open the store in \(directory): \(error)")
            }
            let writer = StoreWriter(
                environment: environment, mapSizeLimit: configuration.mapSizeLimit,
                reservedBytes: configuration.reservedDiskBytes, logger: logger)
            let (tables, version) = try writer.performNow { txn in
                let version = try migrate(txn, now: now, target: configuration.targetLayoutVersion, logger: logger)
                return (try Tables(opening: txn), version)
            }
            return (environment, writer, tables, version)
        }
        // The layout check and migrations run before the data file is
        // allocated up to the map size and before a redo log is started: a
        // store refused or failing to migrate stays exactly as it was. A store
        // that has a log already is recovered through it first (the data file
        // may need it). Then the environment is opened again, allocating the
        // map, with the log.
        let hasRedoLog = FileManager.default.fileExists(atPath: directory + "/" + Environment.redoLogFileName)
        // A store with a log is always opened through it: its data file may need it.
        let redoLog = hasRedoLog ? configuration.redoLog ?? .init() : configuration.redoLog
        let (environment, writer, tables, version): (Environment, StoreWriter, Tables, UInt32)
        if configuration.allocatesMap || (redoLog != nil && !hasRedoLog) {
            // The first environment must be closed before the second opens
            // (LMDB forbids opening one environment twice in a process).
            _ = try openEnvironment(allocatingMap: false, redoLog: hasRedoLog ? redoLog : nil)
            (environment, writer, tables, version) = try openEnvironment(
                allocatingMap: configuration.allocatesMap, redoLog: redoLog)
        } else {
            (environment, writer, tables, version) = try openEnvironment(allocatingMap: false, redoLog: redoLog)
        }
        // LMDB creates data.mdb and lock.mdb in a new store's directory (and
        // the environment redo.log): their entries are flushed before any
        // write is acknowledged.
        try syncStoreDirectory(directory)
        let store = ArtifactStore(
            environment: environment, tables: tables, writer: writer, configuration: configuration,
            logger: logger, directory: directory, layoutVersion: version)
        writer.setReclaimer { [weak store] in try store?.reclaimAllOnQueue() ?? false }
        try store.expireIdleUploadsNow()
        try store.reclaimAllNow()
        return store
    }

    /// Whether the data file is kept allocated up to the map size (see
    /// ``Configuration/allocatesMap``): false when it was not asked for, or
    /// the file system cannot promise it.
    public var allocatesMap: Bool { environment.allocatesMap }

    /// Waits for queued writes and background reclamation to finish and
    /// flushes the store to disk. The store stays usable.
    public func flush() throws {
        // Reclamation re-queues itself batch by batch; wait until it stops.
        repeat { writer.drain() } while reclaimScheduled.load(ordering: .acquiring)
        try environment.sync()
    }

    /// The store's state for health reports.
    public func health() throws -> StoreHealth {
        let info = environment.info
        var fs = statvfs()
        let free: UInt64 = statvfs(directory, &fs) == 0 ? UInt64(fs.f_bavail) * UInt64(fs.f_frsize) : 0
        let (uploads, garbage) = try read { txn in
            (try txn.count(of: tables.uploads), try txn.count(of: tables.garbage))
        }
        return StoreHealth(
            layoutVersion: layoutVersion, usedBytes: UInt64(info.usedBytes),
            sizeLimitBytes: UInt64(configuration.mapSizeLimit), diskFreeBytes: free,
            headroomBytes: UInt64(try headroom(info)), openUploads: uploads, pendingReclaim: garbage)
    }

    /// Bytes that writes adding content can still use: free pages in the
    /// map, the map's unused end, and what the map can grow into (on the
    /// disk beside the reserve, up to the size limit).
    private func headroom(_ info: Environment.Info) throws -> Int {
        let inMap: Int
        do {
            inMap = try environment.freeListBytes() + max(0, info.mapSize - info.usedBytes)
        } catch {
            throw StoreError(.internalError, .none, "cannot read the store's free list: \(error)")
        }
        let limitRoom = max(0, configuration.mapSizeLimit - info.mapSize)
        let growth = environment.diskRoom(leavingFree: configuration.reservedDiskBytes).map { min($0, limitRoom) }
        return inMap + (growth ?? limitRoom)
    }

    // MARK: - Shared helpers

    /// Runs a read transaction, turning LMDB and decoding failures into
    /// ``StoreError``.
    func read<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        do {
            return try environment.withReusedReadTransaction(body)
        } catch let error as StoreError {
            throw error
        } catch {
            logger.error("read failed", metadata: ["error": "\(error)"])
            throw StoreError(.internalError, .none, "the store failed: \(error)")
        }
    }

    var now: Int64 { milliseconds(configuration.clock()) }

    /// Runs the pending migrations and returns the layout version.
    private static func migrate(
        _ txn: borrowing Transaction, now: Int64, target: UInt32, logger: Logger
    ) throws -> UInt32 {
        let stored = try txn.value(for: MetaKey.layoutVersion, in: .meta)
        let version =
            try stored.map { bytes -> UInt32 in
                guard bytes.count == 4 else {
                    throw StoreError(.internalError, .none, "the store's layout version record is damaged")
                }
                return bytes.reduce(0) { $0 << 8 | UInt32($1) }
            } ?? 0
        switch Layout.plan(from: version, to: target) {
        case .upToDate:
            return version
        case .refuse(let storeVersion, let supported):
            throw StoreError(
                .layoutTooNew, .versions(store: storeVersion, supported: supported),
                "the store is at layout \(storeVersion), written by a newer Cairn; this build supports up to \(supported). It was not modified."
            )
        case .migrate(let steps):
            if version == 0 {
                try txn.setValue(UUID().bytes, for: MetaKey.storeId, in: .meta)
                var created: [UInt8] = []
                created.appendBigEndian(now)
                try txn.setValue(created, for: MetaKey.createdAt, in: .meta)
            }
            for step in steps {
                let migration = Layout.migration(producing: step)
                logger.info("migrating store layout", metadata: ["to": "\(step)", "summary": "\(migration.summary)"])
                try migration.apply(to: txn)
            }
            var encoded: [UInt8] = []
            encoded.appendBigEndian(steps.last!)
            try txn.setValue(encoded, for: MetaKey.layoutVersion, in: .meta)
            return steps.last!
        }
    }

    static func createPrivateDirectory(_ path: String) throws {
        // Durably: the parent of every directory created is flushed (Backup.swift, with the other publishing steps).
        try createDurableDirectory(path)
    }
}

func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
func date(milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

extension UUID {
    /// The 16 bytes of the UUID.
    var bytes: [UInt8] { withUnsafeBytes(of: uuid) { Array($0) } }

    /// A UUID from 16 bytes.
    init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let b = Array(bytes)
        self.init(
            uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        )
    }

    var uuidBytes: UUIDBytes { UUIDBytes(bytes)! }
}
