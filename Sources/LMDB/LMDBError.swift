import CLMDB

#if canImport(Glibc)
    import Glibc
#endif

/// An error reported by LMDB: the return code, LMDB's own message, and the
/// operation that failed.
///
/// Codes are LMDB's negative `MDB_*` values or positive `errno` values (for
/// example `ENOSPC` when the disk is full). Compare with the static members,
/// e.g. `error.code == LMDBError.mapFull`.
public struct LMDBError: Error, Sendable, CustomStringConvertible, Equatable {
    /// LMDB's return code.
    public let code: Int32
    /// The LMDB call that failed, e.g. `mdb_txn_commit`.
    public let operation: String

    /// Wraps a return code.
    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// LMDB's message for the code (`mdb_strerror`).
    public var message: String { String(cString: mdb_strerror(code)) }

    public var description: String { "\(operation): \(message) (\(code))" }

    /// `MDB_MAP_FULL`: the environment's map size is reached.
    public static let mapFull: Int32 = MDB_MAP_FULL
    /// `MDB_NOTFOUND`.
    public static let notFound: Int32 = MDB_NOTFOUND
    /// `MDB_KEYEXIST`.
    public static let keyExists: Int32 = MDB_KEYEXIST
    /// `MDB_MAP_RESIZED`: another process grew the map.
    public static let mapResized: Int32 = MDB_MAP_RESIZED
    /// `MDB_READERS_FULL`.
    public static let readersFull: Int32 = MDB_READERS_FULL
    /// `MDB_TXN_FULL`: too many dirty pages in one transaction.
    public static let transactionFull: Int32 = MDB_TXN_FULL
    /// `MDB_CORRUPTED`.
    public static let corrupted: Int32 = MDB_CORRUPTED
    /// `MDB_INVALID`: the file is not an LMDB environment.
    public static let invalid: Int32 = MDB_INVALID
    /// `ENOSPC`: the disk is full.
    public static let diskFull: Int32 = ENOSPC
    /// `EDQUOT`: a filesystem quota is reached.
    public static let diskQuota: Int32 = EDQUOT
    /// `EUCLEAN`: a read-only open found the store left by a crash; its
    /// writer must open it first to recover it from its redo log.
    public static let needsRecovery: Int32 = EUCLEAN

    /// True when the failure means "no room": the map size, the disk, a
    /// filesystem quota, or a transaction too big to hold.
    public var isOutOfSpace: Bool {
        code == Self.mapFull || code == Self.diskFull || code == Self.diskQuota || code == Self.transactionFull
    }
}

@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if rc != MDB_SUCCESS { throw LMDBError(code: rc, operation: operation()) }
}
