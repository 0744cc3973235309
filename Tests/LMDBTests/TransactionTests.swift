import Foundation
import LMDB
import Testing

@Suite struct TransactionTests {
    @Test func putGetDeleteRoundTrip() throws {
        let fixture = try TemporaryEnvironment()
        let database = fixture.database
        try fixture.environment.withWriteTransaction { transaction in
            try transaction.put(bytes("one"), for: bytes("a"), in: database)
            try transaction.put(bytes("two"), for: bytes("b"), in: database)
            #expect(try transaction.string("a", in: database) == "one")
        }
        try fixture.environment.withReadTransaction { (transaction) throws in
            let readOnly = transaction.readOnly
            #expect(readOnly)
            #expect(try transaction.string("a", in: database) == "one")
            #expect(try transaction.string("b", in: database) == "two")
            #expect(try transaction.get(bytes("c"), in: database) == nil)
            #expect(try transaction.count(of: database) == 2)
        }
        try fixture.environment.withWriteTransaction { (transaction) throws in
            let readOnly = transaction.readOnly
            #expect(!readOnly)
            #expect(try transaction.delete(bytes("a"), in: database))
            #expect(try transaction.delete(bytes("a"), in: database) == false)
            #expect(try transaction.delete(bytes("never"), in: database) == false)
        }
        #expect(try fixture.contents() == ["b": "two"])
    }

    @Test func putReplacesTheValue() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.store([("k", "first")])
        try fixture.store([("k", "second, longer than the first")])
        #expect(try fixture.contents() == ["k": "second, longer than the first"])
    }

    @Test func putFromARawBufferAndAnEmptyValue() throws {
        let fixture = try TemporaryEnvironment()
        let payload: [UInt8] = [0, 1, 2, 255]
        try fixture.environment.withWriteTransaction { transaction in
            try payload.withUnsafeBytes { try transaction.put($0, for: bytes("raw"), in: fixture.database) }
            try transaction.put([], for: bytes("empty"), in: fixture.database)
        }
        try fixture.environment.withReadTransaction { (transaction) throws in
            #expect(try transaction.get(bytes("raw"), in: fixture.database).map(Array.init) == payload)
            #expect(try transaction.get(bytes("empty"), in: fixture.database)?.count == 0)
        }
    }

    @Test func writeTransactionReturnsTheBodysResult() throws {
        let fixture = try TemporaryEnvironment()
        let result = try fixture.environment.withWriteTransaction { transaction in
            try transaction.put(bytes("v"), for: bytes("k"), in: fixture.database)
            return 42
        }
        #expect(result == 42)
    }

    @Test func throwingBodyAbortsAndItsErrorPassesThroughUnchanged() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.store([("kept", "yes")])
        #expect(throws: BodyError.refused) {
            try fixture.environment.withWriteTransaction { transaction in
                try transaction.put(bytes("lost"), for: bytes("new"), in: fixture.database)
                try transaction.put(bytes("changed"), for: bytes("kept"), in: fixture.database)
                try transaction.delete(bytes("kept"), in: fixture.database)
                throw BodyError.refused
            }
        }
        #expect(try fixture.contents() == ["kept": "yes"])
        // The environment is usable afterwards: the writer lock was released.
        try fixture.store([("next", "ok")])
        #expect(try fixture.contents() == ["kept": "yes", "next": "ok"])
    }

    @Test func emptyRemovesEveryEntryButKeepsTheDatabase() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.store((0..<50).map { ("k\($0)", "v") })
        try fixture.environment.withWriteTransaction { try $0.empty(fixture.database) }
        try fixture.environment.withReadTransaction { (transaction) throws in
            #expect(try transaction.count(of: fixture.database) == 0)
            #expect(try transaction.openDatabase("entries", create: false) != nil)
        }
        try fixture.store([("again", "v")])
        #expect(try fixture.contents() == ["again": "v"])
    }

    @Test func databasesAreSeparateNamespaces() throws {
        let fixture = try TemporaryEnvironment()
        let other = try fixture.environment.withWriteTransaction { transaction in
            let other = try #require(try transaction.openDatabase("other", create: true))
            try transaction.put(bytes("in other"), for: bytes("k"), in: other)
            try transaction.put(bytes("in entries"), for: bytes("k"), in: fixture.database)
            return other
        }
        try fixture.environment.withReadTransaction { (transaction) throws in
            #expect(try transaction.string("k", in: other) == "in other")
            #expect(try transaction.string("k", in: fixture.database) == "in entries")
            #expect(try transaction.openDatabase("absent", create: false) == nil)
            // A read transaction never creates a database.
            #expect(try transaction.openDatabase("absent", create: true) == nil)
        }
    }

    @Test func readTransactionRefusesWrites() throws {
        let fixture = try TemporaryEnvironment()
        let error = #expect(throws: LMDBError.self) {
            try fixture.environment.withReadTransaction { transaction in
                try transaction.put(bytes("v"), for: bytes("k"), in: fixture.database)
            }
        }
        #expect(error?.code == EACCES)
        #expect(error?.operation == "mdb_put(entries)")
    }

    @Test func emptyKeyIsRejectedByLMDB() throws {
        let fixture = try TemporaryEnvironment()
        #expect(throws: LMDBError.self) {
            try fixture.environment.withWriteTransaction { transaction in
                try transaction.put(bytes("v"), for: [], in: fixture.database)
            }
        }
        #expect(try fixture.contents().isEmpty)
    }

    @Test func readTransactionSeesASnapshot() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.store([("k", "old")])
        try fixture.environment.withReadTransaction { (transaction) throws in
            // A writer on another thread commits while this snapshot is open.
            let errors = runOnThreads(1) { _ in try fixture.store([("k", "new"), ("added", "x")]) }
            #expect(errors == [])
            #expect(try transaction.string("k", in: fixture.database) == "old")
            #expect(try transaction.get(bytes("added"), in: fixture.database) == nil)
        }
        #expect(try fixture.contents() == ["k": "new", "added": "x"])
    }

    @Test func reserveLetsTheCallerFillTheValueInPlace() throws {
        let fixture = try TemporaryEnvironment()
        let count = 10_000
        let pattern = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try fixture.environment.withWriteTransaction { transaction in
            try transaction.reserve(count: count, for: bytes("big"), in: fixture.database) { buffer in
                #expect(buffer.count == count)
                buffer.copyBytes(from: pattern)
            }
            try transaction.reserve(count: 3, for: bytes("small"), in: fixture.database) { buffer in
                buffer.copyBytes(from: [7, 8, 9])
            }
        }
        try fixture.environment.withReadTransaction { (transaction) throws in
            #expect(try transaction.get(bytes("big"), in: fixture.database).map(Array.init) == pattern)
            #expect(try transaction.get(bytes("small"), in: fixture.database).map(Array.init) == [7, 8, 9])
        }
    }

    @Test func nestedTransactionThatThrowsIsDiscardedAndTheParentGoesOn() throws {
        let fixture = try TemporaryEnvironment()
        let database = fixture.database
        try fixture.store([("existing", "before")])
        try fixture.environment.withWriteTransaction { transaction in
            try transaction.put(bytes("parent"), for: bytes("p"), in: database)
            #expect(throws: BodyError.refused) {
                try transaction.withNestedTransaction { child in
                    try child.put(bytes("child"), for: bytes("c"), in: database)
                    try child.put(bytes("overwritten"), for: bytes("p"), in: database)
                    try child.delete(bytes("existing"), in: database)
                    #expect(try child.string("c", in: database) == "child")
                    throw BodyError.refused
                }
            }
            #expect(try transaction.string("p", in: database) == "parent")
            #expect(try transaction.get(bytes("c"), in: database) == nil)
            #expect(try transaction.string("existing", in: database) == "before")
        }
        #expect(try fixture.contents() == ["existing": "before", "p": "parent"])
    }

    @Test func nestedTransactionThatReturnsBecomesPartOfTheParent() throws {
        let fixture = try TemporaryEnvironment()
        let database = fixture.database
        let result = try fixture.environment.withWriteTransaction { transaction in
            let inner = try transaction.withNestedTransaction { child in
                try child.put(bytes("child"), for: bytes("c"), in: database)
                return "inner"
            }
            #expect(try transaction.string("c", in: database) == "child")
            return inner
        }
        #expect(result == "inner")
        #expect(try fixture.contents() == ["c": "child"])

        // ... and goes with the parent when the parent aborts.
        #expect(throws: BodyError.refused) {
            try fixture.environment.withWriteTransaction { transaction in
                try transaction.withNestedTransaction { child in
                    try child.put(bytes("gone"), for: bytes("d"), in: database)
                }
                throw BodyError.refused
            }
        }
        #expect(try fixture.contents() == ["c": "child"])
    }

    @Test func nestedTransactionInsideAReadTransactionFails() throws {
        let fixture = try TemporaryEnvironment()
        #expect(throws: LMDBError.self) {
            try fixture.environment.withReadTransaction { transaction in
                try transaction.withNestedTransaction { _ in }
            }
        }
    }
}

private enum BodyError: Error {
    case refused
}
