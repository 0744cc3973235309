import NIOCore
import Synchronization

/// The open connections, so that a graceful shutdown can close idle ones at
/// once and let busy ones finish the request they are carrying out.
final class ConnectionRegistry: Sendable {
    final class Entry: Sendable {
        let channel: any Channel
        private let state = Mutex((busy: false, shuttingDown: false))

        init(channel: any Channel) { self.channel = channel }

        /// Busy from reading a request to writing its response; a
        /// shutdown waits for that and the connection then ends itself.
        func setBusy(_ busy: Bool) {
            state.withLock { $0.busy = busy }
        }

        var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

        /// Marks shutdown; closes the channel now unless a request is running.
        func shutDown() {
            let close = state.withLock { state -> Bool in
                state.shuttingDown = true
                return !state.busy
            }
            if close {
                channel.close(promise: nil)
            } else {
                // A request may finish, but a client that does not read must not hold the shutdown.
                let channel = self.channel
                channel.eventLoop.scheduleTask(in: .seconds(3)) { channel.close(promise: nil) }
            }
        }
    }

    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])
    private let shuttingDown = Atomic<Bool>(false)

    func register(_ channel: any Channel) -> Entry {
        let entry = Entry(channel: channel)
        entries.withLock { $0[ObjectIdentifier(entry)] = entry }
        if shuttingDown.load(ordering: .acquiring) { entry.shutDown() }
        return entry
    }

    func remove(_ entry: Entry) {
        _ = entries.withLock { $0.removeValue(forKey: ObjectIdentifier(entry)) }
    }

    func shutDownAll() {
        shuttingDown.store(true, ordering: .releasing)
        for entry in entries.withLock({ Array($0.values) }) { entry.shutDown() }
    }

    var count: Int { entries.withLock { $0.count } }
}
