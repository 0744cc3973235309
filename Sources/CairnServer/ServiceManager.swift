import Foundation
import Logging
import Synchronization
import SystemdProtocol

/// The service manager `cairn serve` reports to: systemd's notification
/// socket and watchdog (`sd_notify(3)`), or nobody.
///
/// Under `Type=notify` the server says `READY=1` once the store is open and
/// its socket accepts, `STATUS=` lines as it goes, and `STOPPING=1` when a
/// graceful shutdown begins; with `WatchdogSec=` it pings every half
/// timeout while its event loop still runs tasks. Without `NOTIFY_SOCKET`
/// every call does nothing. A failed send is logged (once until a send
/// works again), never fatal: the service still serves.
public final class ServiceManager: Sendable {
    let socket: NotifySocket?
    /// The keep-alive expected of this process, when `WatchdogSec=` is set.
    public let watchdog: WatchdogSettings?
    private let logger: Logger
    private let failing = Mutex(false)

    /// A manager that hears nothing: for a server not run by systemd.
    public static func none(logger: Logger) -> ServiceManager {
        ServiceManager(address: nil, watchdog: nil, logger: logger)
    }

    /// The manager named by `environment` (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
    ///
    /// - Throws: ``SystemdEnvironmentError`` when a variable is set but unusable.
    public convenience init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        processID: Int32 = ProcessInfo.processInfo.processIdentifier, logger: Logger
    ) throws(SystemdEnvironmentError) {
        let address = try NotifySocketAddress.from(environment: environment)
        // A watchdog nobody can be told about is no watchdog.
        let watchdog = address == nil ? nil : try WatchdogSettings.from(environment: environment, processID: processID)
        self.init(address: address, watchdog: watchdog, logger: logger)
    }

    init(address: NotifySocketAddress?, watchdog: WatchdogSettings?, logger: Logger) {
        socket = address.map(NotifySocket.init)
        self.watchdog = watchdog
        self.logger = logger
    }

    /// Whether a manager listens (`NOTIFY_SOCKET` was set).
    public var isListening: Bool { socket != nil }

    /// Reports `notifications` in one datagram; does nothing without a manager.
    public func notify(_ notifications: ServiceNotification...) {
        guard let socket else { return }
        do {
            try socket.send(ServiceNotification.message(notifications))
            if failing.withLock({
                let was = $0; $0 = false; return was
            }) {
                logger.notice("notifying the service manager works again")
            }
        } catch {
            if !failing.withLock({
                let was = $0; $0 = true; return was
            }) {
                logger.warning("cannot notify the service manager", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Pings the watchdog every half timeout until the task is cancelled;
    /// returns at once when no watchdog is expected.
    ///
    /// Call it once the service is ready (systemd starts the watchdog's timer
    /// at `READY=1`). Before each ping, `check` must come back: a service
    /// that cannot run it misses its pings, and the manager acts.
    ///
    /// - Parameter check: proof that the service can still serve; a throw skips the ping.
    public func runWatchdog(check: @Sendable () async throws -> Void) async {
        guard let watchdog, socket != nil else { return }
        let clock = ContinuousClock()
        let origin = clock.now
        func now() -> WatchdogSchedule.Instant {
            WatchdogSchedule.Instant(elapsed: clock.now - origin)
        }
        var schedule = WatchdogSchedule(settings: watchdog, now: now())
        logger.debug("watchdog", metadata: ["timeout": "\(watchdog.timeout)", "interval": "\(schedule.interval)"])
        while !Task.isCancelled {
            switch schedule.next(now: now()) {
            case .wait(let deadline):
                let target = origin.advanced(by: .nanoseconds(deadline.nanoseconds))
                do { try await clock.sleep(until: target) } catch { return }
            case .check:
                do {
                    try await check()
                } catch {
                    guard !Task.isCancelled else { return }
                    logger.warning("watchdog check failed; not pinging", metadata: ["error": "\(error)"])
                    schedule.checkFailed(now: now())
                    continue
                }
                if schedule.isOverdue(now: now()) {
                    logger.warning("watchdog ping late", metadata: ["timeout": "\(watchdog.timeout)"])
                }
                notify(.watchdog)
                schedule.pinged(now: now())
            }
        }
    }
}
