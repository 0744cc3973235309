/// The keep-alive the service manager expects (`sd_watchdog_enabled(3)`).
///
/// With `WatchdogSec=` in the unit, systemd sets `WATCHDOG_USEC` (the
/// timeout in microseconds) and `WATCHDOG_PID` (the process it expects the
/// pings from). Without it there is nothing to do.
public struct WatchdogSettings: Equatable, Sendable {
    /// The time after which the service manager acts on a service that did not ping.
    public let timeout: Duration

    /// Creates settings for a watchdog with this timeout.
    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Reads the watchdog's settings from `environment`.
    ///
    /// - Parameters:
    ///   - environment: the process's environment.
    ///   - processID: this process's id, compared with `WATCHDOG_PID` when set.
    /// - Returns: `nil` when no watchdog is expected of this process: no
    ///   `WATCHDOG_USEC`, or `WATCHDOG_PID` names another process.
    /// - Throws: ``SystemdEnvironmentError`` when `WATCHDOG_USEC` is not a
    ///   positive number, or `WATCHDOG_PID` is not a process id.
    public static func from(environment: [String: String], processID: Int32) throws(SystemdEnvironmentError)
        -> WatchdogSettings?
    {
        guard let text = environment["WATCHDOG_USEC"] else { return nil }
        if let expected = try environment.processID("WATCHDOG_PID"), expected != processID { return nil }
        guard let microseconds = UInt64(text), microseconds > 0, microseconds <= UInt64(Int64.max) else {
            throw SystemdEnvironmentError(variable: "WATCHDOG_USEC", reason: "not a positive number: \(text)")
        }
        return WatchdogSettings(timeout: .microseconds(Int64(microseconds)))
    }
}
