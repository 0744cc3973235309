import Foundation
import LMDB
import Testing

@Suite struct CursorTests {
    /// Keys `b`, `d`, `f`, … `r`, each with the value `value-<key>`.
    private func letteredFixture() throws -> TemporaryEnvironment {
        let fixture = try TemporaryEnvironment()
        try fixture.store(letters.map { ($0, "value-\($0)") })
        return fixture
    }

    private let letters = ["b", "d", "f", "h", "j", "l", "n", "p", "r"]

    @Test func firstAndNextWalkInKeyOrder() throws {
        let fixture = try letteredFixture()
        let walked = try fixture.environment.withReadTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { cursor in
                var keys: [String] = []
                var entry = try cursor.first()
                while let current = entry {
                    keys.append(text(current.key))
                    #expect(text(current.value) == "value-" + text(current.key))
                    entry = try cursor.next()
                }
                #expect(try cursor.next() == nil)
                return keys
            }
        }
        #expect(walked == letters)
    }

    @Test func keysSortAsUnsignedBytes() throws {
        let fixture = try TemporaryEnvironment()
        let keys: [[UInt8]] = [[0xFF], [0x00, 0x01], [0x7F], [0x00], [0x80, 0x00]]
        try fixture.environment.withWriteTransaction { transaction in
            for key in keys { try transaction.put(key, for: key, in: fixture.database) }
        }
        let walked = try fixture.environment.withReadTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { cursor in
                var result: [[UInt8]] = []
                var entry = try cursor.first()
                while let current = entry {
                    result.append(Array(current.key))
                    entry = try cursor.next()
                }
                return result
            }
        }
        #expect(walked == [[0x00], [0x00, 0x01], [0x7F], [0x80, 0x00], [0xFF]])
    }

    @Test func seekFindsTheFirstKeyAtOrAfter() throws {
        let fixture = try letteredFixture()
        try fixture.environment.withReadTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { (cursor) throws in
                #expect(try cursor.seek(atOrAfter: bytes("h")).map { text($0.key) } == "h")
                #expect(try cursor.seek(atOrAfter: bytes("i")).map { text($0.key) } == "j")
                #expect(try cursor.seek(atOrAfter: bytes("a")).map { text($0.key) } == "b")
                #expect(try cursor.seek(atOrAfter: bytes("hzzz")).map { text($0.key) } == "j")
                #expect(try cursor.next().map { text($0.key) } == "l")
                #expect(try cursor.seek(atOrAfter: bytes("s")) == nil)
            }
        }
    }

    @Test func lastAndPreviousWalkBackwards() throws {
        let fixture = try letteredFixture()
        let walked = try fixture.environment.withReadTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { cursor in
                var keys: [String] = []
                var entry = try cursor.last()
                while let current = entry {
                    keys.append(text(current.key))
                    entry = try cursor.previous()
                }
                return keys
            }
        }
        #expect(walked == letters.reversed())
    }

    @Test func previousAfterSeekAndNextMovesBothWays() throws {
        let fixture = try letteredFixture()
        try fixture.environment.withReadTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { (cursor) throws in
                #expect(try cursor.seek(atOrAfter: bytes("k")).map { text($0.key) } == "l")
                #expect(try cursor.previous().map { text($0.key) } == "j")
                #expect(try cursor.next().map { text($0.key) } == "l")
                #expect(try cursor.first().map { text($0.key) } == "b")
                #expect(try cursor.previous() == nil)
            }
        }
    }

    @Test func emptyDatabaseHasNoEntries() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.environment.withReadTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { (cursor) throws in
                #expect(try cursor.first() == nil)
                #expect(try cursor.last() == nil)
                #expect(try cursor.seek(atOrAfter: bytes("a")) == nil)
            }
        }
    }

    @Test func deleteCurrentThenNextReachesTheFollowingEntry() throws {
        let fixture = try letteredFixture()
        try fixture.environment.withWriteTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { cursor in
                #expect(try cursor.seek(atOrAfter: bytes("f")).map { text($0.key) } == "f")
                try cursor.deleteCurrent()
                #expect(try cursor.next().map { text($0.key) } == "h")
            }
        }
        #expect(try fixture.contents().keys.sorted() == letters.filter { $0 != "f" })
    }

    @Test func deleteCurrentWhileWalkingRemovesExactlyTheChosenEntries() throws {
        let fixture = try TemporaryEnvironment()
        // Enough entries to span several pages, so deletes cross page boundaries.
        let count = 2_000
        try fixture.environment.withWriteTransaction { transaction in
            for index in 0..<count {
                try transaction.put(
                    bytes(String(repeating: "x", count: 40)), for: numberedKey(index), in: fixture.database)
            }
        }
        let visited = try fixture.environment.withWriteTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { cursor in
                var visited = 0
                var index = 0
                var entry = try cursor.first()
                while let current = entry {
                    #expect(Array(current.key) == numberedKey(index))
                    visited += 1
                    if index % 3 != 0 { try cursor.deleteCurrent() }
                    index += 1
                    entry = try cursor.next()
                }
                return visited
            }
        }
        #expect(visited == count)
        let remaining = try fixture.environment.withReadTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { cursor in
                var keys: [[UInt8]] = []
                var entry = try cursor.first()
                while let current = entry {
                    keys.append(Array(current.key))
                    entry = try cursor.next()
                }
                return keys
            }
        }
        #expect(remaining == stride(from: 0, to: count, by: 3).map(numberedKey))
    }

    @Test func deletingTheLastEntryLeavesNothingAfterIt() throws {
        let fixture = try letteredFixture()
        try fixture.environment.withWriteTransaction { transaction in
            try transaction.withCursor(on: fixture.database) { cursor in
                #expect(try cursor.last().map { text($0.key) } == "r")
                try cursor.deleteCurrent()
                #expect(try cursor.next() == nil)
                #expect(try cursor.last().map { text($0.key) } == "p")
            }
        }
        #expect(try fixture.contents().count == letters.count - 1)
    }

    @Test func deleteCurrentInAReadTransactionFails() throws {
        let fixture = try letteredFixture()
        let error = #expect(throws: LMDBError.self) {
            try fixture.environment.withReadTransaction { transaction in
                try transaction.withCursor(on: fixture.database) { cursor in
                    _ = try cursor.first()
                    try cursor.deleteCurrent()
                }
            }
        }
        #expect(error?.code == EACCES)
        #expect(try fixture.contents().count == letters.count)
    }

    @Test func errorThrownByTheBodyPassesThrough() throws {
        let fixture = try letteredFixture()
        #expect(throws: StopWalking.self) {
            try fixture.environment.withReadTransaction { transaction in
                try transaction.withCursor(on: fixture.database) { cursor in
                    _ = try cursor.first()
                    throw StopWalking()
                }
            }
        }
    }
}

private struct StopWalking: Error {}

private func text(_ buffer: UnsafeRawBufferPointer) -> String { String(decoding: buffer, as: UTF8.self) }
