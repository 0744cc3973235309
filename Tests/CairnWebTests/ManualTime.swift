import CairnWeb
import Synchronization

/// A clock the test moves by hand: sessions expire when it says, never by waiting.
final class ManualTime: Sendable {
    private let current = Mutex<Duration>(.zero)

    /// The clock the console reads.
    var clock: ConsoleClock { ConsoleClock { self.current.withLock { $0 } } }

    /// Moves the time forward.
    func advance(by duration: Duration) {
        current.withLock { $0 += duration }
    }
}
