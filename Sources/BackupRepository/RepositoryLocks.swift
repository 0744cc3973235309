/// Who may work on a repository beside whom: the pure rule behind `locks/`.
///
/// Backups take shared locks: any number may run at once, from any host. A prune takes an
/// exclusive lock: it runs only when no other lock is live, and no backup starts while it
/// is. A lock is live until its `expires`, which its holder pushes forward while it works
/// (``RepositoryLocks/lease`` ahead, renewed every ``RepositoryLocks/renewal``); a holder that dies leaves a lock that
/// lapses on its own.
///
/// Both sides write their own lock first and then look at the others, so of two that start at
/// once at least one sees the other: a prune never deletes what a backup that began before it
/// looked may reference. A prune that finds a backup gives up at once; a backup that finds a
/// prune keeps its lock and looks again (``waits(_:)``), so of a backup and a prune that
/// start together the backup always runs: either the prune saw its lock and gave up, or the
/// prune was past its look and the backup waits for it to end.
public enum RepositoryLocks {
    /// How far ahead a lock is valid.
    public static let lease: Int64 = 600
    /// How often a holder renews its lock.
    public static let renewal: Duration = .seconds(120)
    /// How often a holder that waits looks again.
    public static let retry: Duration = .seconds(2)

    /// Whether a holder of `kind` that finds a lock in its way waits for it, keeping its own
    /// lock, rather than giving up: a backup waits (only a prune is ever in its way); a prune
    /// gives way.
    public static func waits(_ kind: String) -> Bool { kind != "prune" }

    /// What a process that holds the lock `mine` (of kind `kind`) should do, given every lock
    /// listed at `now` (seconds since 1970).
    ///
    /// - Returns: `nil` to go on, or the live lock in the way.
    public static func conflict(
        for kind: String, mine: String, among locks: [(name: String, record: LockRecord)], now: Int64
    ) -> (name: String, record: LockRecord)? {
        locks.first { lock in
            lock.name != mine && lock.record.expires > now && (kind == "prune" || lock.record.kind == "prune")
        }
    }
}
