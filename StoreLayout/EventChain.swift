import CairnDigest

/// The hash chain over each tenant's audit log (layout 4).
///
/// Every event records the chain hash of the tenant's event before it, so
/// removing, reordering or rewriting an event changes the hash every later
/// event depends on. The hash of event `seq` of `tenant` is the SHA-256 of
///
///     tenant (UTF-8) ‖ 0x00 ‖ seq (u64, big-endian) ‖ previous (32 bytes)
///       ‖ the event's fields encoded as in an EventRecord of format 1,
///         without the format byte: at i64, actor string, action string,
///         artifactId bytes?, sha256 bytes?, providerId string?, detail string?
///
/// that is, the event's key, the previous hash, and the record's fields; the
/// first event's previous hash is 32 zero bytes. `docs/auditing.md` shows
/// how to recompute it without Cairn.
public enum EventChain {
    /// The previous hash of a tenant's first event: 32 zero bytes.
    public static let origin = [UInt8](repeating: 0, count: 32)

    /// The chain hash of event `seq` of `tenant`, which follows an event
    /// whose chain hash is `previous`.
    public static func hash(tenant: String, seq: UInt64, previous: [UInt8], event: EventRecord) -> [UInt8] {
        var fields = RecordWriter(format: 1)
        event.writeFields(into: &fields)
        var hasher = SHA256Hasher()
        hasher.update(Keys.event(tenant: tenant, seq: seq))
        hasher.update(previous)
        fields.bytes.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[1...])) }
        return hasher.finalize().bytes
    }

    /// Splits an event key into its tenant and sequence number.
    public static func position(of key: [UInt8]) -> (tenant: String, seq: UInt64)? {
        guard key.count >= 10, key[key.count - 9] == 0, let seq = Keys.trailingSequence(of: key),
            let tenant = String(validating: key[..<(key.count - 9)], as: UTF8.self)
        else { return nil }
        return (tenant, seq)
    }
}
