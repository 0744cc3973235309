/// Collects the changes of one write transaction for the redo log, in
/// ``RedoFormat``'s encoding, behind room for the record's header.
///
/// A transaction whose changes outgrow ``limit`` stops collecting: it is
/// made durable by a checkpoint instead of a record.
final class RedoRecorder {
    /// The record so far: a header's room, then the changes.
    private(set) var record = [UInt8](repeating: 0, count: RedoFormat.recordHeaderSize)
    /// Whether the changes outgrew the limit (and were dropped).
    private(set) var oversized = false
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Whether any change was recorded.
    var isEmpty: Bool { !oversized && record.count == RedoFormat.recordHeaderSize }

    func add(
        _ tag: RedoFormat.Tag, database: String, key: UnsafeRawBufferPointer? = nil,
        value: UnsafeRawBufferPointer? = nil
    ) {
        guard !oversized else { return }
        if record.count + 16 + database.utf8.count + (key?.count ?? 0) + (value?.count ?? 0) > limit {
            oversized = true
            record = []
            return
        }
        RedoFormat.append(tag, database: database, key: key, value: value, to: &record)
    }

    func add(_ tag: RedoFormat.Tag, database: String, key: [UInt8], value: UnsafeRawBufferPointer? = nil) {
        key.withUnsafeBytes { add(tag, database: database, key: $0, value: value) }
    }

    /// A point to roll back to (before a nested transaction).
    var mark: Int { oversized ? 0 : record.count }

    /// Drops what was recorded after `mark` (a nested transaction aborted).
    func rollBack(to mark: Int) {
        guard !oversized else { return }
        record.removeSubrange(mark...)
    }
}
