import CairnLogging
import Synchronization

/// The records a handler wrote, as text.
final class CollectedOutput: Sendable {
    private let records = Mutex<[String]>([])

    var output: LogOutput {
        LogOutput { bytes in self.records.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
    }

    var all: [String] { records.withLock { $0 } }
}
