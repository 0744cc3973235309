import CFileWriteback
import CLMDB

#if canImport(Glibc)
    import Glibc
#endif

/// The redo log file of an environment, `redo.log` beside `data.mdb`:
/// two checkpoint slots, then two segments of records. The records of
/// generation *g* (those that follow checkpoint *g*) go into segment
/// *g* % 2; a record with no changes ends a generation, and the records of
/// the next follow in the other segment. So a checkpoint can be flushed
/// while the next generation's records are written: until its slot is
/// durable, recovery starts from the previous checkpoint and replays both
/// generations.
///
/// Opening it for writing takes an exclusive `flock` on it, held for the
/// life of the object: one writing process per store. Not thread-safe: the
/// environment calls it under its own lock.
final class RedoLog {
    /// The file's name in the environment's directory.
    static let fileName = "redo.log"

    private let fd: Int32
    let pageSize: Int
    /// The newest durable checkpoint.
    private(set) var checkpoint: RedoFormat.Checkpoint?
    /// The generation of the records being written: the newest checkpoint's,
    /// or the next one's while that checkpoint is being flushed.
    private(set) var recordGeneration: UInt64 = 0
    /// The bytes of each record segment in this process's file.
    private(set) var segmentSize = 0
    /// Where the next record goes.
    private(set) var end: Int
    /// The sequence number of the last record of this generation.
    private(set) var sequence: UInt64 = 0
    /// Records written since the last flush.
    private(set) var unflushed = false
    /// Where the last record written begins, until it is flushed or retracted.
    private var lastRecordStart: Int?
    /// The file, when this object holds its lock.
    private var identity: FileIdentity?

    var slotSize: Int { RedoFormat.slotSize(pageSize: pageSize) }
    var recordsStart: Int { 2 * slotSize }
    /// Where the records of `generation` begin in this process's file.
    func segmentStart(_ generation: UInt64) -> Int { recordsStart + Int(generation % 2) * segmentSize }
    /// Whether a record of `count` bytes fits into its segment, with room
    /// left for the record that ends the generation.
    func fits(_ count: Int) -> Bool {
        end + count + RedoFormat.recordHeaderSize <= segmentStart(recordGeneration) + segmentSize
    }
    /// Whether the records of this generation fill half their segment.
    var segmentHalfFull: Bool { end - segmentStart(recordGeneration) >= segmentSize / 2 }

    /// Opens (creating) the log of the environment in `directory` and locks it.
    ///
    /// The file is allocated on disk (`posix_fallocate`) up to room for two
    /// segments of `recordBytes` of records each (at most a 64th of the file
    /// system's size), and records never go beyond what is allocated: the
    /// log never takes disk space that the data file's reserve counts on.
    /// When the allocation fails (a full disk), the log has what the file
    /// already holds, and commits that do not fit are made durable by
    /// checkpoints.
    ///
    /// A second opener in this process waits up to `inProcessWait` seconds
    /// for the first to close.
    ///
    /// - Throws: `EWOULDBLOCK` when another process holds it.
    convenience init(
        directory: String, pageSize: Int, fileMode: mode_t, recordBytes: Int, inProcessWait: Int = 10
    ) throws(LMDBError) {
        let path = directory + "/" + Self.fileName
        let existed = access(path, F_OK) == 0
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(path))") }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let code = errno
            close(fd)
            throw LMDBError(code: code, operation: "fstat(\(path))")
        }
        let identity = FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        // In this process, a store dropped a moment ago may still be closing
        // on another thread: wait for it. Another process's lock fails at once.
        guard OpenLogs.shared.acquire(identity, waitingUpTo: inProcessWait) else {
            close(fd)
            throw LMDBError(code: EWOULDBLOCK, operation: "\(path): the store is open for writing in this process")
        }
        guard Self.lockExclusively(fd) else {
            let code = errno
            close(fd)
            OpenLogs.shared.release(identity)
            throw LMDBError(
                code: code, operation: "flock(\(path)): the store is open for writing in another process")
        }
        if !existed {
            // The log's directory entry must last before any record in it counts.
            fsync(fd)
            do { try Self.syncDirectory(directory) } catch {
                close(fd)
                OpenLogs.shared.release(identity)
                throw error
            }
        }
        self.init(fd: fd, pageSize: pageSize)
        self.identity = identity
        // Two segments, but never more than a 64th of the file system: a
        // small disk keeps its room for data (checkpoints come sooner).
        var fileSystem = statvfs()
        let diskBytes = fstatvfs(fd, &fileSystem) == 0 ? Int(fileSystem.f_blocks) * Int(fileSystem.f_frsize) : 0
        let wanted = recordsStart + (diskBytes > 0 ? min(2 * recordBytes, diskBytes / 64) : 2 * recordBytes)
        // Records end before the file's allocated length.
        var allocated = stat()
        var capacity = 0
        if posix_fallocate(fd, 0, off_t(wanted)) == 0 {
            capacity = wanted
        } else if fstat(fd, &allocated) == 0 {
            capacity = Int(allocated.st_size)
        }
        segmentSize = max(0, capacity - recordsStart) / 2
        if newerFormat {
            throw LMDBError(code: MDB_VERSION_MISMATCH, operation: "\(path) was written by a newer Cairn")
        }
    }

    /// Takes the exclusive `flock` on the log open on `fd`. A lock held
    /// through another open of the file in this process is gone once that
    /// descriptor is closed, except that a child process that another
    /// thread is spawning shares the descriptor until it runs its program
    /// (`O_CLOEXEC` closes it only then): a refused lock is tried again for
    /// up to a second before it is blamed on another process.
    private static func lockExclusively(_ fd: Int32) -> Bool {
        for attempt in 0..<50 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            guard errno == EWOULDBLOCK, attempt < 49 else { return false }
            usleep(20_000)
        }
        return false
    }

    /// Reads the log open on `fd`, which it closes when it goes.
    private init(fd: Int32, pageSize: Int) {
        self.fd = fd
        self.pageSize = pageSize
        self.end = 2 * RedoFormat.slotSize(pageSize: pageSize)
        checkpoint = readCheckpoint()
    }

    /// Whether a slot is of a later format of the log (its magic's last byte
    /// counts formats), which this build must not overwrite.
    var newerFormat: Bool {
        (0..<2).contains { index in
            guard let magic = try? Self.read(fd, count: 8, at: index * slotSize) else { return false }
            return magic.prefix(7).elementsEqual(RedoFormat.slotMagic.prefix(7)) && magic[7] > RedoFormat.slotMagic[7]
        }
    }

    /// Whether the log open on `fd` (not locked by a writer) says the store
    /// must be recovered: the data file's meta pages are not the
    /// checkpoint's, or records follow it.
    static func needsRecovery(_ fd: Int32, directory: String, pageSize: Int) -> Bool {
        let log = RedoLog(fd: dup(fd), pageSize: pageSize)
        guard let checkpoint = log.checkpoint else { return log.newerFormat }
        guard !checkpoint.closed else { return false }
        return metaPages(directory: directory, pageSize: pageSize) != checkpoint.metaPages || !log.records().isEmpty
    }

    deinit {
        close(fd)
        if let identity { OpenLogs.shared.release(identity) }
    }

    /// The newer of the two slots that decode, or `nil` for a new log.
    private func readCheckpoint() -> RedoFormat.Checkpoint? {
        let slots = (0..<2).compactMap { index -> RedoFormat.Checkpoint? in
            guard let bytes = try? Self.read(fd, count: slotSize, at: index * slotSize) else { return nil }
            return RedoFormat.checkpoint(inSlot: bytes)
        }
        return slots.filter { $0.pageSize == pageSize }.max { $0.generation < $1.generation }
    }

    /// The changes of every intact record after the checkpoint, in order:
    /// the records of its generation, stopping at the first that is torn,
    /// of another generation or out of sequence; when that is the record
    /// that ends the generation (no changes), the records of the next
    /// generation too, likewise (a checkpoint was being flushed). Sets
    /// ``end`` after the last one.
    func records() -> [[RedoFormat.Change]] {
        guard let checkpoint else { return [] }
        var status = stat()
        let fileSize = fstat(fd, &status) == 0 ? Int(status.st_size) : 0
        var found: [[RedoFormat.Change]] = []
        var generation = checkpoint.generation
        var offset = checkpoint.segmentStart(of: generation, recordsStart: recordsStart)
        var sequence: UInt64 = 0
        while let head = try? Self.read(fd, count: RedoFormat.recordHeaderSize, at: offset),
            let header = RedoFormat.recordHeader(head[...]),
            header.generation == generation, header.sequence == sequence + 1,
            offset + RedoFormat.recordHeaderSize + header.payloadLength <= fileSize,
            let record = try? Self.read(fd, count: RedoFormat.recordHeaderSize + header.payloadLength, at: offset),
            RedoFormat.isIntact(record[...], header: header),
            let changes = RedoFormat.changes(in: record[RedoFormat.recordHeaderSize...])
        {
            if changes.isEmpty {
                // The end of a generation: at most one follows the checkpoint's
                // (the next checkpoint's slot is durable before another can end).
                guard checkpoint.format >= 2, generation == checkpoint.generation else { break }
                generation += 1
                offset = checkpoint.segmentStart(of: generation, recordsStart: recordsStart)
                sequence = 0
                continue
            }
            found.append(changes)
            offset += record.count
            sequence += 1
        }
        end = offset
        self.sequence = sequence
        recordGeneration = generation
        return found
    }

    /// Writes a record (its header reserved in front, see
    /// ``RedoFormat/seal(_:generation:sequence:)``) after the last one.
    /// Durable after ``flush()``.
    func append(_ record: inout [UInt8]) throws(LMDBError) {
        guard checkpoint != nil else {
            throw LMDBError(code: EINVAL, operation: "redo log append before a checkpoint")
        }
        RedoFormat.seal(&record, generation: recordGeneration, sequence: sequence + 1)
        try Self.write(fd, record, at: end)
        // The disk starts writing the record now, while LMDB writes its pages
        // into the page cache; the flush then mostly waits for what is under way.
        _ = cairn_start_writeback(fd, Int64(end), Int64(record.count))
        lastRecordStart = end
        end += record.count
        sequence += 1
        unflushed = true
    }

    /// Makes every record written so far durable (`fdatasync`).
    func flush() throws(LMDBError) {
        guard unflushed else { return }
        guard fdatasync(fd) == 0 else { throw LMDBError(code: errno, operation: "fdatasync(redo.log)") }
        unflushed = false
        lastRecordStart = nil
    }

    /// Takes back the last record written, whose transaction LMDB did not
    /// commit after all: overwrites its header with zeros and flushes, so
    /// that no replay applies it, and the next record goes in its place.
    func retractLastRecord() throws(LMDBError) {
        guard let start = lastRecordStart else { return }
        try Self.write(fd, [UInt8](repeating: 0, count: RedoFormat.recordHeaderSize), at: start)
        guard fdatasync(fd) == 0 else { throw LMDBError(code: errno, operation: "fdatasync(redo.log)") }
        end = start
        sequence -= 1
        unflushed = false
        lastRecordStart = nil
    }

    /// Writes `next` into the slot its generation selects and flushes it:
    /// from then on the log holds no records, and new ones follow `next`
    /// (of its generation, in its segment).
    func write(_ next: RedoFormat.Checkpoint) throws(LMDBError) {
        try writeSlot(next)
        adopt(next)
        recordGeneration = next.generation
        end = segmentStart(next.generation)
        sequence = 0
        unflushed = false
        lastRecordStart = nil
    }

    /// Ends the generation of the records: writes a record with no changes
    /// (not flushed) after them, and starts the next generation's records
    /// at the beginning of the other segment. The caller's checkpoint of
    /// the state so far then follows, while new records are written.
    func endGeneration() throws(LMDBError) {
        var marker = [UInt8](repeating: 0, count: RedoFormat.recordHeaderSize)
        RedoFormat.seal(&marker, generation: recordGeneration, sequence: sequence + 1)
        try Self.write(fd, marker, at: end)
        unflushed = true
        lastRecordStart = nil
        recordGeneration += 1
        end = segmentStart(recordGeneration)
        sequence = 0
    }

    /// Writes `next` into the slot its generation selects and flushes it,
    /// changing nothing else: safe beside a thread appending records, as
    /// long as no other slot write runs.
    func writeSlot(_ next: RedoFormat.Checkpoint) throws(LMDBError) {
        try Self.write(fd, RedoFormat.slot(next), at: Int(next.generation % 2) * slotSize)
        guard fdatasync(fd) == 0 else { throw LMDBError(code: errno, operation: "fdatasync(redo.log)") }
    }

    /// Takes `next`, whose slot is durable, as the newest checkpoint.
    func adopt(_ next: RedoFormat.Checkpoint) {
        checkpoint = next
    }

    // MARK: File helpers

    static func read(_ fd: Int32, count: Int, at offset: Int) throws(LMDBError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw LMDBError(code: n == 0 ? EIO : errno, operation: "pread") }
            done += n
        }
        return bytes
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int) throws(LMDBError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                pwrite(fd, buffer.baseAddress! + done, bytes.count - done, off_t(offset + done))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw LMDBError(code: n == 0 ? EIO : errno, operation: "pwrite(redo.log)") }
            done += n
        }
    }

    static func syncDirectory(_ directory: String) throws(LMDBError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(directory))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw LMDBError(code: errno, operation: "fsync(\(directory))") }
    }

    // MARK: The data file's meta pages

    /// The first two pages of `data.mdb` in `directory`, or `nil` when it
    /// does not exist or is shorter.
    static func metaPages(directory: String, pageSize: Int) -> [UInt8]? {
        let fd = open(directory + "/data.mdb", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return try? read(fd, count: 2 * pageSize, at: 0)
    }

    /// Writes `pages` over the first two pages of `data.mdb` and flushes them.
    static func restoreMetaPages(_ pages: [UInt8], directory: String) throws(LMDBError) {
        let path = directory + "/data.mdb"
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(path))") }
        defer { close(fd) }
        try write(fd, pages, at: 0)
        guard fdatasync(fd) == 0 else { throw LMDBError(code: errno, operation: "fdatasync(\(path))") }
    }
}

/// A file's device and inode.
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64
}

/// The redo logs this process holds open for writing: `flock` does not
/// tell a second opener in the same process from another process, and a
/// store dropped a moment ago may still be closing on another thread.
final class OpenLogs: @unchecked Sendable {
    static let shared = OpenLogs()
    // pthread objects must not move: they live in their own allocations.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var held: Set<FileIdentity> = []

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    /// Marks `file` held, waiting up to `seconds` while this process holds it.
    func acquire(_ file: FileIdentity, waitingUpTo seconds: Int) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += seconds
        while held.contains(file) {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
        }
        return held.insert(file).inserted
    }

    func release(_ file: FileIdentity) {
        pthread_mutex_lock(mutex)
        held.remove(file)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
