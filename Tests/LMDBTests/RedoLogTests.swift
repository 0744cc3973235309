import Foundation
import Testing

@testable import LMDB

/// The redo log: its byte formats, and an environment that makes commits
/// durable through it, recovered from the images a kill or a power loss
/// leaves on disk.
@Suite struct RedoLogTests {
    // MARK: Formats

    @Test func changesRoundTripThroughTheRecordEncoding() throws {
        let changes: [RedoFormat.Change] = [
            .openDatabase("entries"),
            .put(database: "entries", key: bytes("k"), value: Array(repeating: 7, count: 5000)),
            .put(database: "entries", key: [], value: []),
            .delete(database: "other", key: [0, 255]),
            .empty("entries"),
            .removeDatabase("other"),
        ]
        let recorder = RedoRecorder(limit: 1 << 20)
        for change in changes {
            switch change {
            case .openDatabase(let name): recorder.add(.openDatabase, database: name)
            case .put(let name, let key, let value):
                value.withUnsafeBytes { recorder.add(.put, database: name, key: key, value: $0) }
            case .delete(let name, let key): recorder.add(.delete, database: name, key: key)
            case .empty(let name): recorder.add(.empty, database: name)
            case .removeDatabase(let name): recorder.add(.removeDatabase, database: name)
            }
        }
        var record = recorder.record
        RedoFormat.seal(&record, generation: 9, sequence: 3)
        let header = try #require(RedoFormat.recordHeader(record[...]))
        #expect(
            header == .init(payloadLength: record.count - 32, generation: 9, sequence: 3, checksum: header.checksum))
        #expect(RedoFormat.isIntact(record[...], header: header))
        #expect(RedoFormat.changes(in: record[32...]) == changes)
        // Any flipped byte is caught.
        for index in stride(from: 4, to: record.count, by: 97) {
            var torn = record
            torn[index] ^= 0x40
            let tornHeader = RedoFormat.recordHeader(torn[...])
            #expect(tornHeader.map { RedoFormat.isIntact(torn[...], header: $0) } != true, "byte \(index)")
        }
        #expect(RedoFormat.changes(in: record[32..<(record.count - 1)]) == nil)
    }

    @Test func aRecorderRollsBackANestedTransactionAndGivesUpWhenOversized() {
        let recorder = RedoRecorder(limit: 100)
        recorder.add(.empty, database: "a")
        let mark = recorder.mark
        recorder.add(.delete, database: "b", key: [1, 2, 3])
        recorder.rollBack(to: mark)
        #expect(RedoFormat.changes(in: recorder.record[32...]) == [.empty("a")])
        #expect(!recorder.isEmpty)
        let big = [UInt8](repeating: 1, count: 200)
        big.withUnsafeBytes { recorder.add(.put, database: "a", key: [1], value: $0) }
        #expect(recorder.oversized)
        #expect(!recorder.isEmpty)
        #expect(RedoRecorder(limit: 100).isEmpty)
    }

    @Test func slotsRoundTripAndATornOneIsRefused() {
        let checkpoint = RedoFormat.Checkpoint(
            generation: 41, transactionID: 77, pageSize: 4096,
            metaPages: (0..<8192).map { UInt8(truncatingIfNeeded: $0 * 31) })
        let slot = RedoFormat.slot(checkpoint)
        #expect(slot.count == RedoFormat.slotSize(pageSize: 4096))
        #expect(RedoFormat.checkpoint(inSlot: slot) == checkpoint)
        for index in [0, 9, 20, 40, 4095, 4096, 9000, slot.count - 1] {
            var torn = slot
            torn[index] ^= 1
            #expect(RedoFormat.checkpoint(inSlot: torn) == nil, "byte \(index)")
        }
        #expect(RedoFormat.checkpoint(inSlot: [UInt8](repeating: 0, count: slot.count)) == nil)
    }

    // MARK: An environment with a redo log

    @Test func aCheckpointSavesTheMetaPagesOfTheCommittedState() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path)
        try store.put("a", "1")
        try store.environment.sync()
        let log = try #require(RedoImage.read(directory.path).checkpoint)
        #expect(log.transactionID == UInt64(store.environment.info.lastTransactionID))
        let pages = try #require(RedoLog.metaPages(directory: directory.path, pageSize: log.pageSize))
        #expect(pages == log.metaPages)
    }

    @Test(arguments: [true, false])
    func aKilledProcessLosesNoCommit(backgroundCheckpoints: Bool) throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(
            directory.path, settings: .init(checkpointRecords: 40, backgroundCheckpoints: backgroundCheckpoints))
        var expected: [String: String] = [:]
        for index in 0..<300 {
            // Overwrites and deletes make LMDB free and reuse pages.
            let key = "key-\(index % 40)"
            if index % 7 == 3 {
                try store.delete(key)
                expected[key] = nil
            } else {
                try store.put(key, String(repeating: "v\(index)", count: 1 + index % 50))
                expected[key] = String(repeating: "v\(index)", count: 1 + index % 50)
            }
            if index % 50 == 49 {
                // What a kill -9 leaves: every write the process made, in the page cache.
                let crashed = try TemporaryDirectory()
                try RedoImage.read(directory.path).write(to: crashed.path)
                #expect(try RedoStore(crashed.path).contents() == expected, "after \(index + 1) commits")
            }
        }
    }

    /// With `checkpointInFlight`, a background checkpoint started during
    /// the second churn has not flushed anything yet: the log holds the
    /// records of two generations, and recovery crosses from one to the
    /// other over the state the first checkpoint pinned.
    @Test(arguments: 0..<6, [false, true])
    func aPowerLossLosesNoFlushedCommit(seed: Int, checkpointInFlight: Bool) throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path, settings: .init(checkpointRecords: checkpointInFlight ? 60 : 1000))
        var pending: [@Sendable () -> Void] = []
        store.environment.runBackgroundCheckpoints { pending.append($0) }
        defer { for job in pending { job() } }
        var expected: [String: String] = [:]
        var random = SeededRandom(seed: UInt64(seed))
        func churn(_ count: Int) throws {
            for index in 0..<count {
                let key = "key-\(random.next() % 60)"
                if random.next() % 5 == 0 {
                    try store.delete(key)
                    expected[key] = nil
                } else {
                    let value = String(repeating: "\(seed)/\(index)/", count: 1 + Int(random.next() % 300))
                    try store.put(key, value)
                    expected[key] = value
                }
            }
        }
        try churn(200)
        for job in pending { job() }
        pending = []
        try store.environment.sync()
        // Everything up to here is on disk: the checkpoint flushed it.
        let durable = try RedoImage.read(directory.path)
        try churn(150)
        #expect(pending.count == (checkpointInFlight ? 1 : 0))
        let now = try RedoImage.read(directory.path)
        // The log is flushed after each commit; of the data file, any pages
        // written since the checkpoint may or may not have reached the disk.
        let changed = durable.changedPages(in: now)
        #expect(changed.count > 20)
        for trial in 0..<8 {
            var image = durable
            image.log = now.log
            let kept: [Int]
            switch trial {
            case 0: kept = []
            case 1: kept = changed
            case 2: kept = changed.filter { $0 < 2 }  // only the meta pages
            default: kept = changed.filter { _ in random.next() % 2 == 0 }
            }
            image.take(pages: kept, from: now)
            if trial % 2 == 1 { image.log += Array(repeating: 0x5A, count: 100) }  // a torn, unflushed write
            let crashed = try TemporaryDirectory()
            try image.write(to: crashed.path)
            #expect(try RedoStore(crashed.path).contents() == expected, "seed \(seed), trial \(trial)")
        }
    }

    /// The files as a kill would leave them at every step of every commit
    /// and checkpoint (records written, flushed, the data file flushed, the
    /// slot written): each recovers every commit that had returned, and the
    /// one in progress exactly when its record or its checkpoint was written.
    @Test func aKillAtEveryStepLosesNoAcknowledgedCommit() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path, settings: .init(maxRecordBytes: 2048, checkpointRecords: 5))
        // Background checkpoints run here, some right after they start and
        // some after another commit (whose record goes into the next
        // generation's segment meanwhile).
        var pending: [@Sendable () -> Void] = []
        store.environment.runBackgroundCheckpoints { pending.append($0) }
        func runPending() {
            for job in pending { job() }
            pending = []
        }
        var acknowledged: [String: String] = [:]
        var inProgress: (key: String, value: String?)?
        var recorded = false
        var images: [(step: RedoStep, image: RedoImage, expected: [String: String])] = []
        var failures: [String] = []
        store.environment.observeRedo { step in
            if step == .recordWritten { recorded = true }
            var expected = acknowledged
            if let inProgress, recorded || step == .checkpointWritten { expected[inProgress.key] = inProgress.value }
            do { images.append((step, try RedoImage.read(directory.path), expected)) } catch {
                failures.append("\(error)")
            }
        }
        for index in 0..<40 {
            let key = "key-\(index % 7)"
            let value: String? = index % 5 == 4 ? nil : String(repeating: "\(index).", count: index % 3 == 0 ? 800 : 3)
            // A commit too large for a record checkpoints, after the one in flight.
            if index % 2 == 0 || (value?.utf8.count ?? 0) > 1800 { runPending() }
            inProgress = (key, value)
            recorded = false
            if let value { try store.put(key, value) } else { try store.delete(key) }
            acknowledged[key] = value
            inProgress = nil
        }
        runPending()
        try store.environment.sync()
        #expect(failures.isEmpty)
        let steps = Set(images.map(\.step))
        #expect(
            steps == [.committed, .recordWritten, .recordFlushed, .checkpointStarted, .dataFlushed, .checkpointWritten])
        for (index, taken) in images.enumerated() {
            let crashed = try TemporaryDirectory()
            try taken.image.write(to: crashed.path)
            #expect(try RedoStore(crashed.path).contents() == taken.expected, "image \(index) at \(taken.step)")
        }
    }

    /// A record is written before LMDB commits its transaction; when the
    /// commit fails after all, the record is taken back durably: no
    /// recovery applies it, and the next commit's record takes its place.
    @Test func aCommitThatFailsAfterItsRecordIsNeverReplayed() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path, settings: .init(checkpointRecords: 100))
        try store.put("a", "1")
        var steps: [RedoStep] = []
        store.environment.observeRedo { steps.append($0) }
        store.environment.injectCommitFailure(EIO)
        #expect(throws: LMDBError.self) { try store.put("b", "lost") }
        #expect(steps == [.recordWritten])
        store.environment.injectCommitFailure(nil)
        var crashed = try TemporaryDirectory()
        try RedoImage.read(directory.path).write(to: crashed.path)
        #expect(try RedoStore(crashed.path).contents() == ["a": "1"])
        try store.put("c", "3")
        #expect(try store.contents() == ["a": "1", "c": "3"])
        crashed = try TemporaryDirectory()
        try RedoImage.read(directory.path).write(to: crashed.path)
        #expect(try RedoStore(crashed.path).contents() == ["a": "1", "c": "3"])
    }

    /// While a background checkpoint flushes, new records go into the
    /// log's other segment: a kill before, during and after the flush
    /// recovers every commit, crossing from one generation to the next.
    @Test func recoveryCrossesACheckpointInFlight() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path, settings: .init(checkpointRecords: 3))
        var pending: [@Sendable () -> Void] = []
        store.environment.runBackgroundCheckpoints { pending.append($0) }
        var steps: [RedoStep] = []
        store.environment.observeRedo { steps.append($0) }
        func recovered(_ image: RedoImage) throws -> [String: String] {
            let crashed = try TemporaryDirectory()
            try image.write(to: crashed.path)
            return try RedoStore(crashed.path).contents()
        }
        let before = try #require(try RedoImage.read(directory.path).checkpoint)
        for index in 0..<3 { try store.put("k\(index)", "v\(index)") }
        #expect(steps.contains(.checkpointStarted))
        #expect(pending.count == 1)
        for index in 3..<5 { try store.put("k\(index)", "v\(index)") }
        let expected = Dictionary(uniqueKeysWithValues: (0..<5).map { ("k\($0)", "v\($0)") })
        let unflushed = try RedoImage.read(directory.path)
        #expect(unflushed.checkpoint == before)
        #expect(try recovered(unflushed) == expected)
        var images: [RedoStep: RedoImage] = [:]
        store.environment.observeRedo { step in images[step] = try? RedoImage.read(directory.path) }
        pending.removeFirst()()
        let flushed = try #require(images[.dataFlushed])
        let written = try #require(images[.checkpointWritten])
        #expect(flushed.checkpoint == before)
        #expect(try recovered(flushed) == expected)
        #expect(written.checkpoint!.generation == before.generation + 1)
        #expect(written.records == 3)  // k2, k3, k4: the database's opening was the first record
        #expect(try recovered(written) == expected)
        try store.put("k5", "v5")
        #expect(try recovered(try RedoImage.read(directory.path)).count == 6)
        for job in pending { job() }
    }

    /// A background checkpoint whose flush fails leaves the previous one
    /// the newest; the next checkpoint is made by the writer itself, and
    /// nothing is lost on the way.
    @Test func aFailedBackgroundCheckpointLosesNothing() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path, settings: .init(checkpointRecords: 2))
        var pending: [@Sendable () -> Void] = []
        store.environment.runBackgroundCheckpoints { pending.append($0) }
        func recovered() throws -> [String: String] {
            let crashed = try TemporaryDirectory()
            try RedoImage.read(directory.path).write(to: crashed.path)
            return try RedoStore(crashed.path).contents()
        }
        let before = try #require(try RedoImage.read(directory.path).checkpoint)
        for index in 0..<3 { try store.put("k\(index)", "v\(index)") }
        #expect(pending.count == 1)
        store.environment.failBackgroundCheckpoints(true)
        pending.removeFirst()()
        store.environment.failBackgroundCheckpoints(false)
        #expect(try RedoImage.read(directory.path).checkpoint == before)
        #expect(try recovered().count == 3)
        // The next checkpoint is the writer's: a new generation in the first
        // segment must not overwrite records the newest checkpoint still needs.
        try store.put("k3", "v3")
        #expect(pending.isEmpty)
        #expect(try RedoImage.read(directory.path).checkpoint!.generation == before.generation + 2)
        #expect(try recovered().count == 4)
        for index in 4..<9 {
            try store.put("k\(index)", "v\(index)")
            for job in pending { job() }
            pending = []
        }
        #expect(try recovered().count == 9)
    }

    /// A log of the first format (one record area, no segment size) left by
    /// a crash is recovered, and rewritten in format 2 from then on.
    @Test func aFormatOneLogIsRecovered() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path, settings: .init(checkpointRecords: 1000))
        try store.environment.sync()
        var image = try RedoImage.read(directory.path)
        var checkpoint = try #require(image.checkpoint)
        if checkpoint.generation % 2 == 1 {
            // Format 1 wrote every generation's records where segment 0 begins.
            try store.environment.sync()
            image = try RedoImage.read(directory.path)
            checkpoint = try #require(image.checkpoint)
        }
        // The data file as the checkpoint flushed it: the records are all there is of what follows.
        let durable = image
        for index in 0..<3 { try store.put("k\(index)", "v\(index)") }
        image = try RedoImage.read(directory.path)
        image.data = durable.data
        let size = RedoFormat.slotSize(pageSize: RedoImage.pageSize)
        var slot = Array(image.log[0..<size])
        slot.replaceSubrange(0..<8, with: RedoFormat.slotMagicFormat1)
        slot.replaceSubrange(8..<12, with: [1, 0, 0, 0])
        slot.replaceSubrange(32..<40, with: [UInt8](repeating: 0, count: 8))
        slot.replaceSubrange(44..<52, with: [UInt8](repeating: 0, count: 8))
        let sum = slot.withUnsafeBytes { RedoFormat.checksum($0) }
        withUnsafeBytes(of: sum.littleEndian) { slot.replaceSubrange(32..<40, with: $0) }
        let old = RedoFormat.checkpoint(inSlot: slot)
        #expect(old?.format == 1 && old?.segmentSize == 0 && old?.generation == checkpoint.generation)
        image.log.replaceSubrange(0..<size, with: slot)
        let crashed = try TemporaryDirectory()
        try image.write(to: crashed.path)
        let recovered = try RedoStore(crashed.path)
        #expect(try recovered.contents() == ["k0": "v0", "k1": "v1", "k2": "v2"])
        #expect(try RedoImage.read(crashed.path).checkpoint?.format == 2)
    }

    @Test func checkpointsStartTheLogAfreshAndBigCommitsCheckpoint() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path, settings: .init(maxRecordBytes: 64 << 10, checkpointRecords: 16))
        var pending: [@Sendable () -> Void] = []
        store.environment.runBackgroundCheckpoints { pending.append($0) }
        for index in 0..<40 {
            try store.put("k\(index)", "v\(index)")
            for job in pending { job() }
            pending = []
        }
        var image = try RedoImage.read(directory.path)
        #expect(image.checkpoint!.generation >= 3)
        #expect(image.records < 16)
        // A commit over maxRecordBytes is not recorded: it checkpoints.
        try store.put("big", String(repeating: "x", count: 100 << 10))
        image = try RedoImage.read(directory.path)
        #expect(image.records == 0)
        #expect(image.checkpoint!.transactionID == UInt64(store.environment.info.lastTransactionID))
        let crashed = try TemporaryDirectory()
        try image.write(to: crashed.path)
        let reopened = try RedoStore(crashed.path)
        #expect(try reopened.contents().count == 41)
    }

    @Test func aNestedTransactionThatThrowsLeavesNoRecord() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path)
        try store.environment.withWriteTransaction { txn in
            try txn.put(bytes("kept"), for: bytes("a"), in: store.database)
            _ = try? txn.withNestedTransaction { nested -> Void in
                try nested.put(bytes("dropped"), for: bytes("b"), in: store.database)
                throw CancellationError()
            }
            try txn.withNestedTransaction { nested in
                try nested.put(bytes("kept too"), for: bytes("c"), in: store.database)
            }
        }
        let crashed = try TemporaryDirectory()
        try RedoImage.read(directory.path).write(to: crashed.path)
        #expect(try RedoStore(crashed.path).contents() == ["a": "kept", "c": "kept too"])
    }

    @Test func cursorDeletesEmptiedAndRemovedDatabasesAreReplayed() throws {
        let directory = try TemporaryDirectory()
        let store = try RedoStore(directory.path)
        for index in 0..<10 { try store.put("k\(index)", "v") }
        let scratch = try store.environment.withWriteTransaction { txn in
            let scratch = try txn.openDatabase("scratch", create: true)!
            try txn.put(bytes("x"), for: bytes("y"), in: scratch)
            return scratch
        }
        try store.environment.withWriteTransaction { txn in
            try txn.withCursor(on: store.database) { cursor in
                var entry = try cursor.seek(atOrAfter: bytes("k3"))
                while let current = entry, String(decoding: current.key, as: UTF8.self) < "k6" {
                    try cursor.deleteCurrent()
                    entry = try cursor.next()
                }
            }
        }
        try store.environment.withWriteTransaction { txn in
            try txn.removeDatabase(scratch)
            let other = try txn.openDatabase("other", create: true)!
            try txn.put(bytes("1"), for: bytes("2"), in: other)
        }
        try store.environment.withWriteTransaction { txn in
            let other = try txn.openDatabase("other", create: false)!
            try txn.empty(other)
        }
        let crashed = try TemporaryDirectory()
        try RedoImage.read(directory.path).write(to: crashed.path)
        let reopened = try RedoStore(crashed.path)
        #expect(try reopened.contents().keys.sorted() == ["k0", "k1", "k2", "k6", "k7", "k8", "k9"])
        try reopened.environment.withReadTransaction { txn in
            #expect(try txn.openDatabase("scratch", create: false) == nil)
            let other = try #require(try txn.openDatabase("other", create: false))
            #expect(try txn.count(of: other) == 0)
        }
    }

    @Test func oneWriterAtATimeAndReadersWaitForRecovery() throws {
        let directory = try TemporaryDirectory()
        var store: RedoStore? = try RedoStore(directory.path)
        try store!.put("a", "1")
        #expect(throws: LMDBError.self) {
            try RedoLog(directory: directory.path, pageSize: 4096, fileMode: 0o600, recordBytes: 0, inProcessWait: 0)
        }
        // Beside a live writer a reader opens.
        let crashed = try TemporaryDirectory()
        try RedoImage.read(directory.path).write(to: crashed.path)
        store = nil
        // A crash image is refused read-only until a writer has recovered it.
        let refused = #expect(throws: LMDBError.self) {
            try Environment(path: crashed.path, configuration: .init(mapSize: 8 << 20, readOnly: true))
        }
        #expect(refused?.code == LMDBError.needsRecovery)
        #expect(refused?.operation.contains("not closed cleanly") == true)
        _ = try RedoStore(crashed.path)
        let reader = try Environment(path: crashed.path, configuration: .init(mapSize: 8 << 20, readOnly: true))
        let value = try reader.withReadTransaction { txn in
            try txn.string("a", in: try #require(try txn.openDatabase("entries", create: false)))
        }
        #expect(value == "1")
    }
}

/// An environment with a redo log and one database, `entries`.
private final class RedoStore {
    let environment: Environment
    let database: Database

    init(_ path: String, settings: Environment.RedoLogSettings = .init()) throws {
        environment = try Environment(
            path: path, configuration: .init(mapSize: 8 << 20, maxDatabases: 8, redoLog: settings))
        database = try environment.withWriteTransaction { txn in try txn.openDatabase("entries", create: true)! }
    }

    func put(_ key: String, _ value: String) throws {
        try environment.withWriteTransaction { txn in try txn.put(bytes(value), for: bytes(key), in: database) }
    }

    func delete(_ key: String) throws {
        try environment.withWriteTransaction { txn in _ = try txn.delete(bytes(key), in: database) }
    }

    func contents() throws -> [String: String] {
        try environment.withReadTransaction { txn in try txn.strings(in: database) }
    }
}

/// The two files of an environment with a redo log, as bytes.
private struct RedoImage {
    var data: [UInt8]
    var log: [UInt8]
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    static func read(_ directory: String) throws -> RedoImage {
        RedoImage(
            data: Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/data.mdb"))),
            log: Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/redo.log"))))
    }

    /// Writes the two files into `directory`.
    func write(to directory: String) throws {
        try Data(data).write(to: URL(fileURLWithPath: directory + "/data.mdb"))
        try Data(log).write(to: URL(fileURLWithPath: directory + "/redo.log"))
    }

    var checkpoint: RedoFormat.Checkpoint? {
        let size = RedoFormat.slotSize(pageSize: Self.pageSize)
        return (0..<2).compactMap { index -> RedoFormat.Checkpoint? in
            guard log.count >= (index + 1) * size else { return nil }
            return RedoFormat.checkpoint(inSlot: Array(log[(index * size)..<((index + 1) * size)]))
        }.max { $0.generation < $1.generation }
    }

    /// How many records of its generation follow the checkpoint.
    var records: Int {
        guard let checkpoint else { return 0 }
        var offset = checkpoint.segmentStart(
            of: checkpoint.generation, recordsStart: 2 * RedoFormat.slotSize(pageSize: Self.pageSize))
        var count = 0
        while offset + 32 <= log.count, let header = RedoFormat.recordHeader(log[offset...]),
            header.generation == checkpoint.generation, header.sequence == UInt64(count + 1)
        {
            count += 1
            offset += 32 + header.payloadLength
        }
        return count
    }

    /// The pages of `other`'s data file that differ from this one's.
    func changedPages(in other: RedoImage) -> [Int] {
        let pages = (max(data.count, other.data.count) + Self.pageSize - 1) / Self.pageSize
        return (0..<pages).filter { page in
            let range = (page * Self.pageSize)..<((page + 1) * Self.pageSize)
            func slice(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
                bytes[min(range.lowerBound, bytes.count)..<min(range.upperBound, bytes.count)]
            }
            return slice(data) != slice(other.data)
        }
    }

    /// Takes these pages of the data file from `other`, as a write that reached the disk.
    mutating func take(pages: [Int], from other: RedoImage) {
        for page in pages {
            let range = (page * Self.pageSize)..<min((page + 1) * Self.pageSize, other.data.count)
            if data.count < range.upperBound { data += [UInt8](repeating: 0, count: range.upperBound - data.count) }
            data.replaceSubrange(range, with: other.data[range])
        }
    }
}

/// A small deterministic generator (SplitMix64).
private struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
