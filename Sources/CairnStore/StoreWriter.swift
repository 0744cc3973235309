import Dispatch
import LMDB
import Logging
import StoreLayout

/// The store's single writer: runs write transactions one at a time on a
/// dedicated queue, so callers await instead of blocking threads, and no
/// transaction is ever held across an `await`.
///
/// When LMDB reports a full map, the writer grows the map (doubling, up to
/// the configured limit) and runs the transaction again; its body must
/// therefore be free of side effects outside the transaction. At the limit,
/// or when the disk is full, the transaction is aborted and the caller gets
/// ``StoreError/Code/storeFull`` with nothing written.
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

    init(environment: Environment, mapSizeLimit: Int, logger: Logger) {
        self.environment = environment
        self.mapSizeLimit = mapSizeLimit
        self.logger = logger
    }

    /// Runs `body` in a write transaction on the writer queue.
    func perform<R: Sendable>(
        _ durability: Durability = .durable,
        _ body: @escaping @Sendable (borrowing Transaction) throws -> R
    ) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.run(durability, body) })
            }
        }
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

    private func run<R>(_ durability: Durability, _ body: (borrowing Transaction) throws -> R) throws -> R {
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
