import Dispatch
import LMDB
import Synchronization
import Testing

/// Read transactions reset and renewed instead of begun each time: every
/// renewal sees the latest commit, survives map growth, and serves many
/// threads at once.
@Suite struct ReusedReadTransactionTests {
    func read(_ fixture: TemporaryEnvironment, _ key: String) throws -> String? {
        try fixture.environment.withReusedReadTransaction { txn in try txn.string(key, in: fixture.database) }
    }

    @Test func aRenewedTransactionSeesTheLatestCommit() throws {
        let fixture = try TemporaryEnvironment()
        #expect(try read(fixture, "k") == nil)
        for round in 0..<50 {
            try fixture.store([("k", "v\(round)")])
            #expect(try read(fixture, "k") == "v\(round)")
        }
    }

    @Test func aThrowingBodyLeavesTheTransactionReusable() throws {
        struct Refusal: Error {}
        let fixture = try TemporaryEnvironment()
        try fixture.store([("k", "v")])
        for _ in 0..<10 {
            #expect(throws: Refusal.self) {
                try fixture.environment.withReusedReadTransaction { _ in throw Refusal() }
            }
        }
        #expect(try read(fixture, "k") == "v")
    }

    @Test func readsGoOnAcrossMapGrowth() throws {
        let fixture = try TemporaryEnvironment(mapSize: 1 << 20)
        try fixture.store([("k", "before")])
        #expect(try read(fixture, "k") == "before")
        try fixture.environment.setMapSize(4 << 20)
        try fixture.store([("k", "after")])
        #expect(try read(fixture, "k") == "after")
    }

    @Test func manyThreadsReadAtOnce() throws {
        let fixture = try TemporaryEnvironment()
        try fixture.store((0..<100).map { ("k\($0)", "v\($0)") })
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<2000 {
                let key = (worker * 7 + round) % 100
                if (try? read(fixture, "k\(key)")) != "v\(key)" { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
