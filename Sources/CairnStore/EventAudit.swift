import CairnDigest
import Foundation
import LMDB
import Logging
import StoreLayout

/// What checking a tenant's audit chain found.
public struct EventChainReport: Sendable, Equatable {
    /// One place where the log is not what was written.
    public struct Problem: Sendable, Equatable {
        /// The event at (or after) which the problem shows.
        public var seq: UInt64
        /// One line for people.
        public var message: String
    }

    /// How many events were read.
    public var checkedEvents: UInt64
    /// The chain head as the log stands now.
    public var head: EventChainHead
    /// Empty when the chain is intact.
    public var problems: [Problem]
}

extension ArtifactStore {
    /// Checks the tenant's audit log against its hash chain (see
    /// ``EventChain``): every event from 1 to the last the tenant counted is
    /// there, readable, and records the chain hash of the event before it.
    ///
    /// The chain alone cannot tell that its last events were rewritten or
    /// that the whole log was recomputed; an `anchor` (a chain head recorded
    /// earlier, e.g. in a backup's manifest) can: the event at `anchor.seq`
    /// must still have that hash.
    public func verifyEventChain(tenant: TenantID, anchor: EventChainHead? = nil) throws -> EventChainReport {
        try read { txn in
            let counted =
                (try txn.record(TenantRecord.self, Keys.tenant(tenant.rawValue), in: tables.tenants)
                ?? TenantRecord()).nextEventSeq - 1
            var problems: [EventChainReport.Problem] = []
            var checked: UInt64 = 0
            var expected: UInt64 = 1
            var previous: [UInt8]? = EventChain.origin
            var anchorSeen = false
            try txn.scan(tables.events, prefix: Keys.tenant(tenant.rawValue)) { key, value in
                let seq = Keys.trailingSequence(of: key) ?? 0
                checked += 1
                defer { expected = seq + 1 }
                if seq != expected {
                    problems.append(
                        .init(seq: seq, message: "events \(expected)…\(seq - 1) are missing: they were removed"))
                    previous = nil
                }
                let record: EventRecord
                do {
                    record = try EventRecord(decoding: value)
                } catch {
                    problems.append(.init(seq: seq, message: "event \(seq) is damaged: \(error)"))
                    previous = nil
                    return true
                }
                guard let recorded = record.previous else {
                    problems.append(.init(seq: seq, message: "event \(seq) carries no chain hash"))
                    previous = nil
                    return true
                }
                if let previous, previous != recorded {
                    problems.append(
                        .init(
                            seq: seq,
                            message:
                                "event \(seq) does not follow event \(seq - 1): event \(seq - 1) was changed, or events before \(seq) were removed or reordered"
                        ))
                }
                let hash = EventChain.hash(tenant: tenant.rawValue, seq: seq, previous: recorded, event: record)
                if let anchor, anchor.seq == seq {
                    anchorSeen = true
                    if anchor.sha256?.bytes != hash {
                        problems.append(
                            .init(
                                seq: seq,
                                message:
                                    "event \(seq) is not the event the anchor recorded: it, or an event before it, was changed"
                            ))
                    }
                }
                previous = hash
                return true
            }
            let last = expected - 1
            if last < counted {
                problems.append(
                    .init(
                        seq: last + 1,
                        message:
                            "the log ends at event \(last) but the tenant counted \(counted): the last events were removed"
                    ))
            } else if last > counted {
                problems.append(
                    .init(seq: counted + 1, message: "events after \(counted) were added that the tenant never counted")
                )
            }
            if let anchor, anchor.seq > 0, !anchorSeen {
                problems.append(
                    .init(seq: anchor.seq, message: "event \(anchor.seq), the anchor's chain head, is missing"))
            }
            let head = EventChainHead(seq: last, sha256: last == 0 ? nil : previous.flatMap { SHA256Digest(bytes: $0) })
            return EventChainReport(checkedEvents: checked, head: head, problems: problems)
        }
    }

    /// The chain hash of event `seq` of `tenant`: the origin for seq 0.
    ///
    /// An event that is missing or cannot be read (the log was tampered
    /// with) chains its successor to the origin, so writes go on and
    /// ``verifyEventChain(tenant:anchor:)`` reports the break.
    func chainHash(_ txn: borrowing Transaction, tenant: TenantID, seq: UInt64) throws -> [UInt8] {
        guard seq > 0 else { return EventChain.origin }
        guard
            let record = try? txn.record(
                EventRecord.self, Keys.event(tenant: tenant.rawValue, seq: seq), in: tables.events)
        else {
            logger.error("audit event missing or damaged", metadata: ["tenant": "\(tenant)", "seq": "\(seq)"])
            return EventChain.origin
        }
        return EventChain.hash(
            tenant: tenant.rawValue, seq: seq, previous: record.previous ?? EventChain.origin, event: record)
    }

    /// The tenant's chain head, from its last event.
    func chainHead(_ txn: borrowing Transaction, tenant: TenantID, usage: TenantRecord) throws -> EventChainHead {
        let last = usage.nextEventSeq - 1
        guard last > 0 else { return EventChainHead(seq: 0, sha256: nil) }
        return EventChainHead(seq: last, sha256: SHA256Digest(bytes: try chainHash(txn, tenant: tenant, seq: last)))
    }
}
