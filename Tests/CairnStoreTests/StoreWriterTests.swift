import Dispatch
import Foundation
import LMDB
import Testing

@testable import CairnStore

/// The writer's group commit: durable writes that wait together share one
/// transaction, and each still succeeds or fails on its own.
@Suite struct StoreWriterTests {
    struct Refused: Error, Equatable {
        let index: Int
    }

    /// A writer on a new environment with one database, `t`.
    func writer(_ directory: StoreDirectory) throws -> StoreWriter {
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        let environment = try Environment(path: directory.path)
        try environment.withWriteTransaction { txn in _ = try txn.openDatabase("t", create: true) }
        return StoreWriter(environment: environment, mapSizeLimit: 1 << 30, reservedBytes: 0, logger: quietLogger)
    }

    func key(_ index: Int) -> [UInt8] { Array("key-\(index)".utf8) }

    /// Starts `count` durable writes while the writer is held busy, so that
    /// they wait together, then lets it go; returns each write's outcome.
    func writeTogether(
        _ writer: StoreWriter, count: Int, _ body: @escaping @Sendable (Int, borrowing Transaction) throws -> Void
    ) async -> [Int: Result<Void, any Error>] {
        let hold = DispatchSemaphore(value: 0)
        writer.enqueue { hold.wait() }
        return await withTaskGroup(of: (Int, Result<Void, any Error>).self) { group in
            for index in 0..<count {
                group.addTask {
                    do {
                        try await writer.perform { txn in try body(index, txn) }
                        return (index, .success(()))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            // Let go once every write waits behind the hold (or after 30 s, and fail).
            let deadline = ContinuousClock.now + .seconds(30)
            while writer.waitingCount < count && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
            #expect(writer.waitingCount == count)
            hold.signal()
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
    }

    func stored(_ writer: StoreWriter, count: Int) throws -> [Int] {
        try writer.environment.withReadTransaction { txn in
            let table = try #require(try txn.openDatabase("t", create: false))
            return try (0..<count).filter { try txn.get(key($0), in: table) != nil }
        }
    }

    @Test func writesThatWaitTogetherCommitInOneTransactionAndFailAlone() async throws {
        let directory = StoreDirectory()
        let writer = try writer(directory)
        let before = writer.environment.info.lastTransactionID
        let outcomes = await writeTogether(writer, count: 20) { index, txn in
            let table = try #require(try txn.openDatabase("t", create: false))
            try txn.put(Array(repeating: UInt8(index), count: 100), for: key(index), in: table)
            if index % 3 == 0 { throw Refused(index: index) }
        }
        for index in 0..<20 {
            if index % 3 == 0 {
                #expect(throws: Refused(index: index)) { try outcomes[index]!.get() }
            } else {
                #expect(throws: Never.self) { try outcomes[index]!.get() }
            }
        }
        // What a refused write put is gone; the others' writes are there.
        #expect(try stored(writer, count: 20) == (0..<20).filter { $0 % 3 != 0 })
        #expect(writer.environment.info.lastTransactionID == before + 1)
    }

    @Test func whenLMDBFailsTheGroupIsWrittenOneByOne() async throws {
        let directory = StoreDirectory()
        let writer = try writer(directory)
        let outcomes = await writeTogether(writer, count: 6) { index, txn in
            let table = try #require(try txn.openDatabase("t", create: false))
            // A key over LMDB's limit (511 bytes) fails in LMDB itself.
            try txn.put([1], for: index == 4 ? Array(repeating: 7, count: 600) : key(index), in: table)
        }
        #expect((try? outcomes[4]!.get()) == nil)
        #expect(throws: StoreError.self) { try outcomes[4]!.get() }
        for index in [0, 1, 2, 3, 5] {
            #expect(throws: Never.self) { try outcomes[index]!.get() }
        }
        #expect(try stored(writer, count: 6) == [0, 1, 2, 3, 5])
    }
}
