import CairnStore
import Foundation
import Logging
import Synchronization

/// A store in a fresh temporary directory, removed when the fixture goes.
final class StoreFixture: Sendable {
    let directory: String
    let clock: TestClock
    private let opened: Mutex<ArtifactStore?>

    /// The store; the fixture must not have been closed.
    var store: ArtifactStore { opened.withLock { $0! } }
    /// The store, or `nil` once ``close()`` dropped it.
    var openStore: ArtifactStore? { opened.withLock { $0 } }

    init(configure: (inout ArtifactStore.Configuration) -> Void = { _ in }) throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-store-test-\(UUID().uuidString)").path
        clock = TestClock()
        var configuration = ArtifactStore.Configuration()
        let clock = self.clock
        configuration.clock = { clock.now }
        configure(&configuration)
        opened = Mutex(try ArtifactStore.open(directory: directory, configuration: configuration, logger: quietLogger))
    }

    /// Drops the fixture's reference to the store, which closes it once no
    /// one else holds it (one process opens a store for writing once).
    func close() {
        _ = opened.withLock { $0.take() }
    }

    /// Opens the same directory again; the first store must be closed
    /// (``close()``, and no other reference left).
    func reopen(configure: (inout ArtifactStore.Configuration) -> Void = { _ in }) throws -> ArtifactStore {
        var configuration = ArtifactStore.Configuration()
        let clock = self.clock
        configuration.clock = { clock.now }
        configure(&configuration)
        return try ArtifactStore.open(directory: directory, configuration: configuration, logger: quietLogger)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

/// A clock that moves only when told to.
final class TestClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

let alice = Actor("alice")
let bob = Actor("bob")

func tenant(_ name: String) -> TenantID { TenantID(name)! }
func provider(_ name: String) -> ProviderID { ProviderID(name)! }

/// Deterministic pseudo-random bytes.
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var words = [UInt64](repeating: 0, count: (count + 7) / 8)
    // A word at a time: a byte at a time is slow in a debug build.
    for index in words.indices {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        words[index] = state.littleEndian
    }
    return words.withUnsafeBytes { Array($0.prefix(count)) }
}

/// Store logs at warning and above only, so test output stays readable.
let quietLogger: Logger = {
    var logger = Logger(label: "cairn.store.test")
    logger.logLevel = .warning
    return logger
}()
