import Dispatch
import LMDB
import Logging
import StoreLayout
import Synchronization

/// The store's single writer: runs write transactions one at a time on a
/// dedicated queue, so callers await instead of blocking threads, and no
/// transaction is ever held across an `await`.
///
/// When LMDB reports a full map, the writer grows the map (doubling, up to
/// the configured limit) and runs the transaction again; its body must
/// therefore be free of side effects outside the transaction. At the limit,
/// or when the disk is full, the transaction is aborted and the caller gets
/// ``StoreError/Code/storeFull`` with nothing written.
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

    let environment: Environment
    let mapSizeLimit: Int
    private let queue = DispatchQueue(label: "cairn.store.writer", qos: .userInitiated)
    private let logger: Logger
    /// Durable writes waiting for the writer, oldest first.
    private let waiting = Mutex<[any GroupedWrite]>([])

    /// The most durable writes one group commit holds.
    static let maxGroup = 64

    /// Durable writes waiting for the writer now.
    var waitingCount: Int { waiting.withLock { $0.count } }

    init(environment: Environment, mapSizeLimit: Int, logger: Logger) {
        self.environment = environment
        self.mapSizeLimit = mapSizeLimit
        self.logger = logger
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
        afterCommit: (@Sendable (R) -> Void)? = nil,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> R
    ) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            guard durability == .durable else {
                queue.async {
                    continuation.resume(with: Result { try self.run(durability, body, afterCommit: afterCommit) })
                }
                return
            }
            waiting.withLock { $0.append(DurableWrite(body, afterCommit: afterCommit, continuation)) }
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
        guard group.count > 1 else {
            // One alone, or none: an earlier call took this one's write.
            group.first?.runAlone(on: self)
            return
        }
        do {
            try run(.durable) { txn in
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
    func performNow<R>(_ durability: Durability = .durable, _ body: (borrowing Transaction) throws -> R) throws -> R {
        try queue.sync { try run(durability, body) }
    }

    /// Runs `body` from work already on the writer queue (see ``enqueue(_:)``).
    func performNowOnQueue<R>(_ durability: Durability, _ body: (borrowing Transaction) throws -> R) throws -> R {
        try run(durability, body)
    }

    /// Schedules `work` after everything already queued, without waiting.
    func enqueue(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }

    /// Waits until everything queued so far has run.
    func drain() {
        queue.sync {}
    }

    /// ``run(_:_:)``, then `afterCommit` with what the body returned.
    fileprivate func run<R>(
        _ durability: Durability, _ body: (borrowing Transaction) throws -> R, afterCommit: ((R) -> Void)?
    ) throws -> R {
        let result = try run(durability, body)
        afterCommit?(result)
        return result
    }

    fileprivate func run<R>(_ durability: Durability, _ body: (borrowing Transaction) throws -> R) throws -> R {
        dispatchPrecondition(condition: .onQueue(queue))
        try environment.setMetaSyncDeferred(durability == .deferred)
        var turnedOver = false
        while true {
            do {
                return try environment.withWriteTransaction(body)
            } catch let error as LMDBError where error.code == LMDBError.mapFull {
                if try growMap() { continue }
                // LMDB reuses pages freed by a commit only once a later commit
                // has happened; a failed write does not count. Commit an empty
                // transaction once so space freed just now becomes usable.
                guard !turnedOver else { throw StoreError.storeFull }
                turnedOver = true
                try environment.withWriteTransaction { txn in
                    // A commit without changes is not a commit to LMDB: rewrite
                    // the layout version with its own value.
                    guard let meta = try txn.openDatabase(DatabaseName.meta.rawValue, create: false),
                        let version = try txn.get(MetaKey.layoutVersion, in: meta).map(Array.init)
                    else { return }
                    try txn.put(version, for: MetaKey.layoutVersion, in: meta)
                }
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

    /// The largest step by which the map grows at once. The map's size is
    /// allocated on disk, so growth stays in proportion.
    static let maxGrowthStep = 1 << 30

    /// Doubles the map (by at most ``maxGrowthStep``) up to the limit; false
    /// when it is already there.
    private func growMap() throws -> Bool {
        let current = environment.info.mapSize
        guard current < mapSizeLimit else {
            logger.warning("store size limit reached", metadata: ["limit": "\(mapSizeLimit)"])
            return false
        }
        let next = min(mapSizeLimit, current + min(current, Self.maxGrowthStep))
        do {
            try environment.setMapSize(next)
        } catch let error as LMDBError where error.isOutOfSpace {
            // The map is allocated on disk before it grows; no room for that
            // is a full store, with the map as it was.
            logger.warning("store map cannot grow, no space", metadata: ["error": "\(error)"])
            return false
        }
        logger.info("store map grown", metadata: ["from": "\(current)", "to": "\(next)"])
        return true
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
    private let afterCommit: (@Sendable (R) -> Void)?
    private let continuation: CheckedContinuation<R, any Error>
    /// Touched only on the writer queue.
    private var outcome: Result<R, any Error>?

    init(
        _ body: @escaping @Sendable (borrowing Transaction) throws -> R, afterCommit: (@Sendable (R) -> Void)?,
        _ continuation: CheckedContinuation<R, any Error>
    ) {
        self.body = body
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
        continuation.resume(with: Result { try writer.run(.durable, body, afterCommit: afterCommit) })
    }
}
