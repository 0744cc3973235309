/// When to ping the watchdog: a small state machine without a clock.
///
/// systemd advises a ping every half of the timeout. Before each ping the
/// service checks that it can still serve (`cairn serve` has its event
/// loop run a task); the ping goes out only when the check came back, so a
/// service stuck where it serves misses its pings and the manager acts.
/// The caller feeds the time in and performs the actions; tests move the
/// time by hand.
///
/// ```swift
/// var schedule = WatchdogSchedule(settings: settings, now: now)
/// while true {
///     switch schedule.next(now: clock.now) {
///     case .wait(let deadline): try await sleep(until: deadline)
///     case .check: checkThenPing(); schedule.pinged(now: clock.now)
///     }
/// }
/// ```
public struct WatchdogSchedule: Sendable {
    /// A point on a monotonic clock, in nanoseconds from any origin.
    public struct Instant: Comparable, Hashable, Sendable {
        /// Nanoseconds from the clock's origin.
        public var nanoseconds: Int64

        /// Creates an instant `nanoseconds` after the clock's origin.
        public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

        /// The instant `elapsed` after the clock's origin, saturating at the ends of the range.
        public init(elapsed: Duration) { self.nanoseconds = elapsed.nanoseconds }

        /// This instant moved by `duration`, saturating at the ends of the range.
        public func advanced(by duration: Duration) -> Instant {
            let (sum, overflow) = nanoseconds.addingReportingOverflow(duration.nanoseconds)
            return overflow ? Instant(nanoseconds: duration < .zero ? .min : .max) : Instant(nanoseconds: sum)
        }

        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    }

    /// What the caller does next.
    public enum Action: Equatable, Sendable {
        /// Nothing is due before this instant.
        case wait(until: Instant)
        /// A ping is due: check that the service can serve, then ping and call ``pinged(now:)``.
        case check
    }

    /// Half the timeout, as `sd_watchdog_enabled(3)` recommends.
    public let interval: Duration
    /// The timeout the manager enforces.
    public let timeout: Duration
    /// When the last ping went out (the start counts as one: the manager starts its timer at `READY=1`).
    public private(set) var lastPing: Instant
    /// When the next check is due.
    public private(set) var nextCheck: Instant
    /// How many pings went out.
    public private(set) var pings = 0

    /// Starts the schedule at `now`, right after `READY=1`.
    public init(settings: WatchdogSettings, now: Instant) {
        timeout = settings.timeout
        interval = settings.timeout / 2
        lastPing = now
        nextCheck = now.advanced(by: interval)
    }

    /// What is due at `now`.
    public func next(now: Instant) -> Action {
        now < nextCheck ? .wait(until: nextCheck) : .check
    }

    /// Records that a ping went out at `now`: the next is due an interval later.
    public mutating func pinged(now: Instant) {
        lastPing = now
        nextCheck = now.advanced(by: interval)
        pings += 1
    }

    /// Records that the check failed at `now`, so no ping went out: the
    /// next check is an interval later, and the manager's timer runs on
    /// from the last ping.
    public mutating func checkFailed(now: Instant) {
        nextCheck = now.advanced(by: interval)
    }

    /// Whether the manager has presumably given up on the service at `now`
    /// (no ping for a whole timeout): worth a log line, since the next ping
    /// comes too late.
    public func isOverdue(now: Instant) -> Bool {
        !(now < lastPing.advanced(by: timeout))
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at the ends of `Int64`.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowSum) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowSum ? (seconds < 0 ? .min : .max) : sum
    }
}
