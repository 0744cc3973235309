import Foundation
import Synchronization
import Testing

@testable import LMDB

@Suite struct TransactionGateTests {
    @Test func exclusiveBodyWaitsForActiveTransactionsToLeave() throws {
        let gate = TransactionGate()
        let ran = Atomic<Bool>(false)
        gate.enter()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            gate.exclusively { ran.store(true, ordering: .sequentiallyConsistent) }
            done.signal()
        }
        // While a transaction is active the resize must not run, however long it waits.
        let early = done.wait(timeout: .now() + 0.2)
        let ranEarly = ran.load(ordering: .sequentiallyConsistent)
        #expect(early == .timedOut)
        #expect(!ranEarly)
        gate.leave()
        if early == .timedOut {
            #expect(done.wait(timeout: .now() + 10) == .success)
        }
        let ranLater = ran.load(ordering: .sequentiallyConsistent)
        #expect(ranLater)
    }

    @Test func exclusiveBodyNeverOverlapsATransaction() throws {
        let gate = TransactionGate()
        let inside = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let resizes = Atomic<Int>(0)
        let errors = runOnThreads(5) { thread in
            if thread == 0 {
                for _ in 0..<200 {
                    gate.exclusively {
                        if inside.load(ordering: .sequentiallyConsistent) != 0 {
                            overlaps.add(1, ordering: .sequentiallyConsistent)
                        }
                        resizes.add(1, ordering: .relaxed)
                    }
                }
            } else {
                for _ in 0..<1_000 {
                    gate.enter()
                    inside.add(1, ordering: .sequentiallyConsistent)
                    usleep(20)
                    inside.subtract(1, ordering: .sequentiallyConsistent)
                    gate.leave()
                }
            }
        }
        #expect(errors == [], "gate deadlocked")
        #expect(overlaps.load(ordering: .sequentiallyConsistent) == 0)
        #expect(resizes.load(ordering: .relaxed) == 200)
    }

    /// Transactions on several threads that keep overlapping seldom let the
    /// count of active ones reach zero; a waiting resize must still get its
    /// turn, because new transactions wait behind it.
    @Test func waitingResizeIsNotStarvedByOverlappingTransactions() throws {
        let gate = TransactionGate()
        let stop = Atomic<Bool>(false)
        let waitedMilliseconds = Atomic<Int>(-1)
        let errors = runOnThreads(4) { thread in
            if thread == 0 {
                Thread.sleep(forTimeInterval: 0.05)
                let start = Date()
                gate.exclusively {
                    waitedMilliseconds.store(
                        Int(Date().timeIntervalSince(start) * 1000), ordering: .sequentiallyConsistent)
                }
                stop.store(true, ordering: .sequentiallyConsistent)
            } else {
                let deadline = Date().addingTimeInterval(8)
                while !stop.load(ordering: .sequentiallyConsistent) && Date() < deadline {
                    gate.enter()
                    usleep(2_000)
                    gate.leave()
                }
            }
        }
        #expect(errors == [])
        // Without the priority the resize waits until the transactions give up, 8 s on.
        let waited = waitedMilliseconds.load(ordering: .sequentiallyConsistent)
        #expect(waited >= 0 && waited < 4_000)
    }

    @Test func gateOpensAgainAfterTheExclusiveBodyThrows() throws {
        let gate = TransactionGate()
        #expect(throws: ResizeFailed.self) {
            try gate.exclusively { throw ResizeFailed() }
        }
        let errors = runOnThreads(1, timeout: 5) { _ in
            gate.enter()
            gate.leave()
            gate.exclusively {}
        }
        #expect(errors == [], "gate stayed closed after a throwing resize")
    }
}

private struct ResizeFailed: Error {}
