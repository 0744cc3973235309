import Foundation
import LMDB
import Synchronization
import Testing

@Suite struct EnvironmentTests {
    @Test func dataAndLockFilesAreReadableByTheOwnerOnly() throws {
        let fixture = try TemporaryEnvironment()
        #expect(try permissions(of: fixture.directory.path + "/data.mdb") == 0o600)
        #expect(try permissions(of: fixture.directory.path + "/lock.mdb") == 0o600)
    }

    @Test func committedDataSurvivesReopening() throws {
        let directory = try TemporaryDirectory()
        do {
            let environment = try Environment(path: directory.path)
            try environment.withWriteTransaction { transaction in
                let database = try #require(try transaction.openDatabase("entries", create: true))
                try transaction.put(bytes("v"), for: bytes("k"), in: database)
            }
        }
        let environment = try Environment(path: directory.path)
        let value = try environment.withReadTransaction { transaction in
            let database = try #require(try transaction.openDatabase("entries", create: false))
            return try transaction.string("k", in: database)
        }
        #expect(value == "v")
    }

    @Test func openingAMissingDirectoryFails() throws {
        let directory = try TemporaryDirectory()
        let error = #expect(throws: LMDBError.self) {
            try Environment(path: directory.path + "/missing")
        }
        #expect(error?.code == ENOENT)
        #expect(error?.operation.hasPrefix("mdb_env_open") == true)
    }

    @Test func openingAFileThatIsNotLMDBFails() throws {
        let directory = try TemporaryDirectory()
        let garbage = Data(repeating: 0x5A, count: 16 << 10)
        try garbage.write(to: URL(fileURLWithPath: directory.path + "/data.mdb"))
        let error = #expect(throws: LMDBError.self) {
            try Environment(path: directory.path)
        }
        #expect(error?.code == LMDBError.invalid)
    }

    @Test func readOnlyEnvironmentReadsButRefusesWrites() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.store([("k", "v")])
        let reader = try Environment(path: fixture.directory.path, configuration: .init(readOnly: true))
        #expect(reader.readOnly)
        let value = try reader.withReadTransaction { transaction in
            let database = try #require(try transaction.openDatabase("entries", create: true))
            return try transaction.string("k", in: database)
        }
        #expect(value == "v")
        let error = #expect(throws: LMDBError.self) {
            try reader.withWriteTransaction { _ in }
        }
        #expect(error?.code == EACCES)
    }

    /// A handle opened in a read transaction stays valid after it, as
    /// ``Database`` promises; a read-only environment has no other way to
    /// open one.
    @Test func databaseOpenedInAReadTransactionOutlivesIt() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.store([("k", "v")])
        let reader = try Environment(path: fixture.directory.path, configuration: .init(readOnly: true))
        let database = try reader.withReadTransaction { transaction in
            try #require(try transaction.openDatabase("entries", create: false))
        }
        let value = try reader.withReadTransaction { transaction in try transaction.string("k", in: database) }
        #expect(value == "v")
    }

    @Test func openDatabaseWithoutCreateThrowsNotFoundForAMissingDatabase() throws {
        let fixture = try TemporaryEnvironment()
        let error = #expect(throws: LMDBError.self) {
            try fixture.environment.withReadTransaction { transaction in
                _ = try fixture.environment.openDatabase("absent", in: transaction, create: false)
            }
        }
        #expect(error?.code == LMDBError.notFound)
        let created = try fixture.environment.withWriteTransaction { transaction in
            try fixture.environment.openDatabase("present", in: transaction, create: true)
        }
        #expect(created.name == "present")
    }

    @Test func infoReportsMapSizeAndCommits() throws {
        let fixture = try TemporaryEnvironment(mapSize: 1 << 20)
        let before = fixture.environment.info
        #expect(before.mapSize == 1 << 20)
        #expect(before.pageSize > 0)
        #expect(before.usedBytes > 0 && before.usedBytes <= before.mapSize)
        try fixture.store([("a", "1")])
        try fixture.store([("b", "2")])
        let after = fixture.environment.info
        #expect(after.lastTransactionID == before.lastTransactionID + 2)
        try fixture.environment.setMapSize(4 << 20)
        #expect(fixture.environment.info.mapSize == 4 << 20)
    }

    @Test func fullMapIsOutOfSpaceAndGrowingItLetsWritesContinue() throws {
        let fixture = try TemporaryEnvironment(mapSize: 64 << 10)
        let environment = fixture.environment
        let database = fixture.database
        try fixture.store([("sentinel", "kept")])
        let value = [UInt8](repeating: 0xAB, count: 1024)

        var committed = 0
        var failure: LMDBError?
        for index in 0..<1000 {
            do {
                try environment.withWriteTransaction { try $0.put(value, for: numberedKey(index), in: database) }
                committed += 1
            } catch let error as LMDBError {
                failure = error
                break
            }
        }
        let error = try #require(failure, "64 KiB never filled up")
        #expect(error.code == LMDBError.mapFull)
        #expect(error.isOutOfSpace)
        #expect(committed > 0)

        try environment.setMapSize(1 << 20)
        // The write that failed fits now, and so does much more than the old map held.
        for index in committed..<(committed + 200) {
            try environment.withWriteTransaction { try $0.put(value, for: numberedKey(index), in: database) }
        }
        try environment.withReadTransaction { transaction in
            #expect(try transaction.string("sentinel", in: database) == "kept")
            #expect(try transaction.count(of: database) == committed + 200 + 1)
            for index in 0..<(committed + 200) {
                let stored = try #require(try transaction.get(numberedKey(index), in: database))
                #expect(Array(stored) == value)
            }
        }
    }

    @Test func transactionThatFillsTheMapLeavesNothingBehind() throws {
        let fixture = try TemporaryEnvironment(mapSize: 64 << 10)
        try fixture.store([("sentinel", "kept")])
        let error = #expect(throws: LMDBError.self) {
            try fixture.environment.withWriteTransaction { transaction in
                for index in 0..<1000 {
                    try transaction.put(
                        [UInt8](repeating: 1, count: 1024), for: numberedKey(index), in: fixture.database)
                }
            }
        }
        #expect(error?.isOutOfSpace == true)
        #expect(try fixture.contents() == ["sentinel": "kept"])
        try fixture.store([("after", "ok")])
        #expect(try fixture.contents() == ["sentinel": "kept", "after": "ok"])
    }

    @Test func readersOnManyThreadsRunWhileTheMapIsResized() throws {
        let fixture = try TemporaryEnvironment(mapSize: 1 << 20)
        let environment = fixture.environment
        let database = fixture.database
        let expected = (0..<100).map { ("key-\($0)", "value-\($0)") }
        try fixture.store(expected)
        let expectedContents = Dictionary(uniqueKeysWithValues: expected)
        let readsDone = Atomic<Int>(0)

        let errors = runOnThreads(5) { thread in
            if thread == 0 {
                for step in 1...40 {
                    try environment.setMapSize((1 << 20) + step * (64 << 10))
                }
            } else if thread == 1 {
                for index in 0..<40 {
                    try environment.withWriteTransaction { transaction in
                        try transaction.put(bytes("w"), for: bytes("written-\(index)"), in: database)
                    }
                }
            } else {
                for _ in 0..<100 {
                    let seen = try environment.withReadTransaction { transaction in
                        try expected.map { pair in try transaction.string(pair.0, in: database) }
                    }
                    guard seen == expected.map(\.1) else { throw ReadMismatch() }
                    readsDone.add(1, ordering: .relaxed)
                }
            }
        }
        let finished = try #require(errors, "threads did not finish: deadlock")
        #expect(finished.isEmpty)
        #expect(readsDone.load(ordering: .relaxed) == 300)
        #expect(environment.info.mapSize == (1 << 20) + 40 * (64 << 10))
        let contents = try fixture.contents()
        #expect(contents.count == 140)
        #expect(expectedContents.allSatisfy { contents[$0.key] == $0.value })
    }

    @Test(arguments: [false, true])
    func copyOpensWithTheSameData(compact: Bool) throws {
        let fixture = try TemporaryEnvironment()
        let pairs = (0..<500).map { ("key-\($0)", String(repeating: "v\($0)", count: 20)) }
        try fixture.store(pairs)
        try fixture.environment.withWriteTransaction { transaction in
            for index in stride(from: 0, to: 500, by: 2) {
                try transaction.delete(bytes("key-\(index)"), in: fixture.database)
            }
        }
        let original = try fixture.contents()
        #expect(original.count == 250)

        let copyPath = try fixture.directory.subdirectory("copy")
        try fixture.environment.copy(to: copyPath, compact: compact)
        #expect(try permissions(of: copyPath + "/data.mdb") == 0o600)

        let copy = try Environment(path: copyPath)
        let copied = try copy.withReadTransaction { transaction in
            let database = try #require(try transaction.openDatabase("entries", create: false))
            return try transaction.strings(in: database)
        }
        #expect(copied == original)
        if compact {
            #expect(copy.info.usedBytes <= fixture.environment.info.usedBytes)
        }
    }

    @Test func copyRefusesADirectoryThatAlreadyHoldsAnEnvironment() throws {
        let fixture = try TemporaryEnvironment()
        let copyPath = try fixture.directory.subdirectory("copy")
        try fixture.environment.copy(to: copyPath, compact: false)
        let error = #expect(throws: LMDBError.self) {
            try fixture.environment.copy(to: copyPath, compact: false)
        }
        #expect(error?.code == EEXIST)
    }

    @Test func syncAndDeferredMetaSyncKeepCommitsReadable() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.environment.setMetaSyncDeferred(true)
        try fixture.store([("a", "1")])
        try fixture.environment.setMetaSyncDeferred(false)
        try fixture.store([("b", "2")])
        try fixture.environment.sync()
        #expect(try fixture.environment.clearStaleReaders() == 0)
        #expect(try fixture.contents() == ["a": "1", "b": "2"])
    }

    /// With `allocatesMap` the data file occupies the map on disk, and
    /// grows with it; without it, only what LMDB wrote.
    @Test func anAllocatedMapIsAllocatedOnDiskAndGrowsWithTheMap() throws {
        let directory = try TemporaryDirectory()
        let dataFile = directory.path + "/data.mdb"
        let environment = try Environment(
            path: directory.path, configuration: .init(mapSize: 8 << 20, allocatesMap: true))
        // Only where the file system promises the allocation (ext4, XFS, tmpfs).
        guard environment.allocatesMap else { return }
        #expect(try allocatedBytes(dataFile) >= 8 << 20)
        try environment.setMapSize(16 << 20)
        #expect(environment.info.mapSize == 16 << 20)
        #expect(try allocatedBytes(dataFile) >= 16 << 20)

        let plain = try TemporaryEnvironment(mapSize: 8 << 20)
        #expect(!plain.environment.allocatesMap)
        #expect(try allocatedBytes(plain.directory.path + "/data.mdb") < 1 << 20)
    }
}

private struct ReadMismatch: Error {}
