import Dispatch
import LMDB
import Logging
import StoreLayout
import Synchronization

/// The store's single writer: runs write transactions one at a time on a
/// dedicated queue, so callers await instead of blocking threads, and no
/// transaction is ever held across an `await`.
///
/// When LMDB reports a full map, the writer grows the map and runs the
/// transaction again; its body must therefore be free of side effects
/// outside the transaction. The map doubles (by at most ``maxGrowthStep``)
/// up to the configured limit, or grows by what the disk still holds when
/// that is less. Before it gives up, the writer reclaims the chunks of
/// deleted content still waiting for reclamation. At the limit, or when the
/// disk is full, the transaction is aborted and the caller gets
/// ``StoreError/Code/storeFull`` with nothing written.
///
/// Writes that free space (``Footprint/frees``: deletes, aborts,
/// reclamation) may grow the map into a small reserve of the disk that
/// other writes leave free, so that a full store can always be emptied.
///
/// Durable writes that wait for the writer together are committed together
/// (group commit): each runs in a nested transaction of one write
/// transaction, so each still succeeds or fails on its own, and one pair of
/// flushes makes them all durable before any caller hears back.
final class StoreWriter: Sendable {
    /// How durable a commit must be.
    enum Durability {
        /// Flushed to disk before the call returns.
        case durable
        /// The data pages are flushed but not the meta page: the store stays
        /// intact after a system crash, which may undo this commit. Used for
        /// appends and reclamation; the next durable commit covers them.
        case deferred
    }

    /// Whether a write adds to the store or frees space in it.
    enum Footprint {
        /// Grows the map only while the disk keeps its reserve free.
        case adds
        /// May grow the map into the disk's reserve, a little at a time:
        /// a delete must work on a full disk.
        case frees
    }

    let environment: Environment
    let mapSizeLimit: Int
    /// Disk space that writes adding content leave free (see ``Footprint``).
    let reservedBytes: Int
    /// Reclaims pending chunks now, on the writer queue; true when it freed any.
    private let reclaimer = Mutex<(@Sendable () throws -> Bool)?>(nil)
    /// Set while the reclaimer runs, so that its own writes do not call it again.
    private let reclaiming = Atomic<Bool>(false)
    private let queue = DispatchQueue(label: "cairn.store.writer", qos: .userInitiated)
    private let logger: Logger
    /// Durable writes waiting for the writer, oldest first.
    private let waiting = Mutex<[any GroupedWrite]>([])
    /// Writes handed to the writer and not yet begun (``queueDepth``).
    private let queued = Atomic<Int>(0)
    private let commitTimers = CommitTimers()

    /// The most durable writes one group commit holds.
    static let maxGroup = 64

    /// Durable writes waiting for the writer now.
    var waitingCount: Int { waiting.withLock { $0.count } }

    /// Writes handed to the writer (``perform(_:_:afterCommit:_:)``,
    /// ``enqueue(_:)``) that it has not begun yet.
    var queueDepth: Int { queued.load(ordering: .relaxed) }

    init(environment: Environment, mapSizeLimit: Int, reservedBytes: Int, logger: Logger) {
        self.environment = environment
        self.mapSizeLimit = mapSizeLimit
        self.reservedBytes = reservedBytes
        self.logger = logger
    }

    /// Sets what the writer runs before it refuses a write for want of
    /// room: reclamation of deleted content, which runs in the background
    /// and may not have caught up yet. Set once, before the store is shared.
    func setReclaimer(_ reclaim: @escaping @Sendable () throws -> Bool) {
        reclaimer.withLock { $0 = reclaim }
    }

    /// Runs `body` in a write transaction on the writer queue; a durable
    /// one possibly with others (a group commit), in a nested transaction of
    /// its own.
    ///
    /// - Parameter afterCommit: runs on the writer queue once the
    ///   transaction is committed (and flushed, when durable), before
    ///   anything else is written: for what must be true the moment the
    ///   write is, such as an upload's last activity.
    func perform<R: Sendable>(
        _ durability: Durability = .durable,
        _ footprint: Footprint = .adds,
        afterCommit: (@Sendable (R) -> Void)? = nil,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> R
    ) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            queued.add(1, ordering: .relaxed)
            guard durability == .durable else {
                queue.async {
                    self.queued.subtract(1, ordering: .relaxed)
                    continuation.resume(
                        with: Result { try self.run(durability, footprint, body, afterCommit: afterCommit) })
                }
                return
            }
            waiting.withLock {
                $0.append(DurableWrite(body, footprint: footprint, afterCommit: afterCommit, continuation))
            }
            queue.async { self.commitWaitingGroup() }
        }
    }

    /// On the writer queue: commits the durable writes waiting now, up to
    /// ``maxGroup``, in one transaction. A write whose body throws leaves
    /// the others be; when LMDB itself fails (a full map or disk, a failed
    /// commit) every write of the group runs again on its own, so that each
    /// gets the writer's map growth and its own outcome.
    private func commitWaitingGroup() {
        let group: [any GroupedWrite] = waiting.withLock { waiting in
            let taken = Array(waiting.prefix(Self.maxGroup))
            waiting.removeFirst(taken.count)
            return taken
        }
        queued.subtract(group.count, ordering: .relaxed)
        guard group.count > 1 else {
            // One alone, or none: an earlier call took this one's write.
            group.first?.runAlone(on: self)
            return
        }
        do {
            try run(.durable, .adds) { txn in
                for write in group { try write.attempt(in: txn) }
            }
        } catch {
            logger.debug("group commit failed, writing one by one", metadata: ["error": "\(error)"])
            for write in group { write.runAlone(on: self) }
            return
        }
        for write in group { write.finish() }
    }

    /// Runs `body` synchronously; for start-up work before the store is shared.
    func performNow<R>(
        _ durability: Durability = .durable, _ footprint: Footprint = .adds,
        _ body: (borrowing Transaction) throws -> R
    ) throws -> R {
        try queue.sync { try run(durability, footprint, body) }
    }

    /// Runs `body` from work already on the writer queue (see ``enqueue(_:)``).
    func performNowOnQueue<R>(
        _ durability: Durability, _ footprint: Footprint = .adds, _ body: (borrowing Transaction) throws -> R
    ) throws -> R {
        try run(durability, footprint, body)
    }

    /// Runs `work` on the writer queue after everything already queued and
    /// waits for it; `work` writes with ``performNowOnQueue(_:_:_:)``.
    func onQueueNow<R>(_ work: () throws -> R) rethrows -> R {
        try queue.sync(execute: work)
    }

    /// Schedules `work` after everything already queued, without waiting.
    func enqueue(_ work: @escaping @Sendable () -> Void) {
        queued.add(1, ordering: .relaxed)
        queue.async {
            self.queued.subtract(1, ordering: .relaxed)
            work()
        }
    }

    /// Waits until everything queued so far has run.
    func drain() {
        queue.sync {}
    }

    /// ``run(_:_:)``, then `afterCommit` with what the body returned.
    fileprivate func run<R>(
        _ durability: Durability, _ footprint: Footprint, _ body: (borrowing Transaction) throws -> R,
        afterCommit: ((R) -> Void)?
    ) throws -> R {
        let result = try run(durability, footprint, body)
        afterCommit?(result)
        return result
    }

    fileprivate func run<R>(
        _ durability: Durability, _ footprint: Footprint, _ body: (borrowing Transaction) throws -> R
    ) throws -> R {
        dispatchPrecondition(condition: .onQueue(queue))
        var turnedOver = false
        var reclaimed = false
        var checkpointed = false
        while true {
            do {
                // Set before every attempt: a reclamation in between sets its own.
                try environment.setMetaSyncDeferred(durability == .deferred)
                let start = DispatchTime.now().uptimeNanoseconds
                let result = try environment.withWriteTransaction(body)
                commitTimers.record(durability, since: start)
                return result
            } catch let error as LMDBError where error.code == LMDBError.mapFull {
                // With a redo log, the pages of the state since the last
                // checkpoint are held back from reuse; a checkpoint frees them.
                if environment.hasRedoLog && !checkpointed {
                    checkpointed = true
                    try checkpointIfLogged()
                    continue
                }
                if try growMap(footprint) { continue }
                if !reclaimed {
                    reclaimed = true
                    if try reclaimPending() {
                        try checkpointIfLogged()
                        continue
                    }
                }
                // LMDB reuses pages freed by a commit only once a later commit
                // has happened; a failed write does not count. Commit an empty
                // transaction once so space freed just now becomes usable.
                guard !turnedOver else { throw StoreError.storeFull }
                turnedOver = true
                do {
                    try environment.withWriteTransaction { txn in
                        // A commit without changes is not a commit to LMDB: rewrite
                        // the layout version with its own value.
                        guard let meta = try txn.openDatabase(DatabaseName.meta.rawValue, create: false),
                            let version = try txn.get(MetaKey.layoutVersion, in: meta).map(Array.init)
                        else { return }
                        try txn.put(version, for: MetaKey.layoutVersion, in: meta)
                    }
                } catch let error as LMDBError where error.isOutOfSpace {
                    // Not even the pages of that commit are left: the store is full.
                    logger.warning("write refused, no space", metadata: ["error": "\(error)"])
                    throw StoreError.storeFull
                }
                try checkpointIfLogged()
            } catch let error as LMDBError where error.isOutOfSpace {
                logger.warning("write refused, no space", metadata: ["error": "\(error)"])
                throw StoreError.storeFull
            } catch let error as LMDBError {
                logger.error("write transaction failed", metadata: ["error": "\(error)"])
                throw StoreError(.internalError, .none, "the store failed: \(error.message)")
            } catch let error as StoreError {
                throw error
            } catch {
                logger.error("write transaction failed", metadata: ["error": "\(error)"])
                throw StoreError(.internalError, .none, "the store failed: \(error)")
            }
        }
    }

    /// With a redo log, LMDB reuses no page freed since the last checkpoint
    /// (its state is pinned): a write retried for space checkpoints first.
    private func checkpointIfLogged() throws {
        guard environment.hasRedoLog else { return }
        do { try environment.sync() } catch let error as LMDBError where error.isOutOfSpace {
            logger.warning("checkpoint refused, no space", metadata: ["error": "\(error)"])
            throw StoreError.storeFull
        } catch {
            logger.error("checkpoint failed", metadata: ["error": "\(error)"])
            throw StoreError(.internalError, .none, "the store failed: \(error)")
        }
    }

    /// The largest step by which the map grows at once. The map's size is
    /// allocated on disk, so growth stays in proportion.
    static let maxGrowthStep = 1 << 30

    /// The smallest growth worth making for a write that adds: 64 KiB.
    static let minimumGrowthStep = 64 << 10

    /// The step by which a write that frees space grows the map into the
    /// disk's reserve, as often as it needs: 16 KiB, four pages, so that the
    /// reserve lasts through many deletes on a store full to its last page.
    static let freeingGrowthStep = 16 << 10

    /// Grows the map: doubling it (by at most ``maxGrowthStep``), or by what
    /// the disk holds beside the reserve when that is less, or for a write
    /// that frees space by ``freeingGrowthStep`` from the reserve. False at
    /// the size limit or when not even that fits.
    private func growMap(_ footprint: Footprint) throws -> Bool {
        let current = environment.info.mapSize
        guard current < mapSizeLimit else {
            logger.warning("store size limit reached", metadata: ["limit": "\(mapSizeLimit)"])
            return false
        }
        let room = mapSizeLimit - current
        let step: Int
        let minimumStep: Int
        let reserve: Int
        switch footprint {
        case .adds:
            (step, minimumStep, reserve) = (
                min(room, current, Self.maxGrowthStep), min(room, Self.minimumGrowthStep), reservedBytes
            )
        case .frees:
            step = min(room, Self.freeingGrowthStep)
            (minimumStep, reserve) = (step, 0)
        }
        guard let grown = try environment.growMap(by: step, atLeast: minimumStep, leavingFree: reserve) else {
            logger.warning("store map cannot grow, no space", metadata: ["mapSize": "\(current)"])
            return false
        }
        logger.info("store map grown", metadata: ["from": "\(current)", "to": "\(grown)"])
        return true
    }

    /// Runs the reclaimer (see ``setReclaimer(_:)``) unless it is running
    /// already; true when it freed anything.
    private func reclaimPending() throws -> Bool {
        guard let reclaim = reclaimer.withLock({ $0 }) else { return false }
        guard !reclaiming.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        defer { reclaiming.store(false, ordering: .releasing) }
        return try reclaim()
    }
}

/// A durable write waiting for a group commit (``StoreWriter/perform(_:_:)``).
private protocol GroupedWrite: Sendable {
    /// Runs the body in a nested transaction of `txn` and keeps its outcome;
    /// throws only what LMDB itself reports, which fails the whole group.
    func attempt(in txn: borrowing Transaction) throws
    /// Runs the after-commit work and hands the kept outcome to the caller,
    /// once the group is committed (on the writer queue).
    func finish()
    /// Runs the body in a transaction of its own and hands over the outcome.
    func runAlone(on writer: StoreWriter)
}

private final class DurableWrite<R: Sendable>: GroupedWrite, @unchecked Sendable {
    private let body: @Sendable (borrowing Transaction) throws -> R
    private let footprint: StoreWriter.Footprint
    private let afterCommit: (@Sendable (R) -> Void)?
    private let continuation: CheckedContinuation<R, any Error>
    /// Touched only on the writer queue.
    private var outcome: Result<R, any Error>?

    init(
        _ body: @escaping @Sendable (borrowing Transaction) throws -> R, footprint: StoreWriter.Footprint,
        afterCommit: (@Sendable (R) -> Void)?, _ continuation: CheckedContinuation<R, any Error>
    ) {
        self.body = body
        self.footprint = footprint
        self.afterCommit = afterCommit
        self.continuation = continuation
    }

    func attempt(in txn: borrowing Transaction) throws {
        do {
            outcome = .success(try txn.withNestedTransaction(body))
        } catch let error as LMDBError {
            throw error
        } catch {
            outcome = .failure(error)
        }
    }

    func finish() {
        if case .success(let result) = outcome { afterCommit?(result) }
        continuation.resume(with: outcome!)
    }

    func runAlone(on writer: StoreWriter) {
        continuation.resume(with: Result { try writer.run(.durable, footprint, body, afterCommit: afterCommit) })
    }
}
