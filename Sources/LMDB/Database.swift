import CLMDB

/// A handle to a named database inside an ``Environment``.
///
/// Obtain one with ``Environment/openDatabase(_:in:create:)``. The handle is
/// a plain value, valid for the life of its environment.
public struct Database: Sendable, Hashable {
    let handle: MDB_dbi
    /// The database's name.
    public let name: String
}
