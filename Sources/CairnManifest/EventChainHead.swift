import CairnDigest

/// The end of a tenant's audit chain: its last event and that event's chain hash.
public struct EventChainHead: Sendable, Equatable {
    /// The last event's sequence number; 0 when the tenant has no events.
    public var seq: UInt64
    /// The last event's chain hash; `nil` when the tenant has no events.
    public var sha256: SHA256Digest?

    /// A chain head: event `seq` with chain hash `sha256` (`0` and `nil` for an empty log).
    public init(seq: UInt64, sha256: SHA256Digest?) {
        self.seq = seq
        self.sha256 = sha256
    }
}
