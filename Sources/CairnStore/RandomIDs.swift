import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Random (version 4) UUIDs for new artifacts and uploads, from the
/// kernel's CSPRNG in batches.
///
/// Foundation's `UUID()` asks the system for 16 random bytes every time
/// (on Linux, a read of `/dev/urandom` or a `getrandom(2)` call per id).
/// This fills a buffer of ``batchSize`` ids with one call and
/// hands them out under a lock; the bytes are as random, and ids are never
/// reused: a buffer is consumed once and refilled.
final class RandomIDs: Sendable {
    /// How many ids one `getrandom(2)` call provides.
    static let batchSize = 256

    private struct Buffer {
        var bytes = [UInt8](repeating: 0, count: 16 * RandomIDs.batchSize)
        /// The next unused id's index; a full batch is used up.
        var next = RandomIDs.batchSize
    }

    private let buffer = Mutex(Buffer())

    /// The ids of the process.
    static let shared = RandomIDs()

    /// A new random version 4 UUID.
    func next() -> UUID {
        let bytes: [UInt8] = buffer.withLock { buffer in
            if buffer.next == Self.batchSize {
                Self.fill(&buffer.bytes)
                buffer.next = 0
            }
            let start = buffer.next * 16
            buffer.next += 1
            let id = Array(buffer.bytes[start..<start + 16])
            // Not kept once handed out.
            for index in start..<start + 16 { buffer.bytes[index] = 0 }
            return id
        }
        var id = bytes
        id[6] = (id[6] & 0x0F) | 0x40  // version 4
        id[8] = (id[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(bytes: id)!
    }

    /// Fills `bytes` from the kernel's CSPRNG: glibc's `arc4random_buf`,
    /// one `getrandom(2)` for the whole buffer.
    private static func fill(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { raw in arc4random_buf(raw.baseAddress!, raw.count) }
    }
}
