#if canImport(Glibc)
    import Glibc
#endif

/// Lets many transactions run at once but lets a map resize wait until none
/// is running, and keeps new ones out while it waits.
///
/// LMDB requires that `mdb_env_set_mapsize` is called with no transaction
/// active in the process. The gate makes that a property of the layer, not a
/// rule for callers to remember.
final class TransactionGate: @unchecked Sendable {
    // pthread objects must not move: they live in their own allocations.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var active = 0
    private var resizing = false
    private var resizersWaiting = 0

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func enter() {
        pthread_mutex_lock(mutex)
        while resizing || resizersWaiting > 0 { pthread_cond_wait(condition, mutex) }
        active += 1
        pthread_mutex_unlock(mutex)
    }

    func leave() {
        pthread_mutex_lock(mutex)
        active -= 1
        if active == 0 { pthread_cond_broadcast(condition) }
        pthread_mutex_unlock(mutex)
    }

    /// Runs `body` while no transaction is active.
    func exclusively<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        resizersWaiting += 1
        while active > 0 || resizing { pthread_cond_wait(condition, mutex) }
        resizersWaiting -= 1
        resizing = true
        pthread_mutex_unlock(mutex)
        defer {
            pthread_mutex_lock(mutex)
            resizing = false
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        return try body()
    }
}
