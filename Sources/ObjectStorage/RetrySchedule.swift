/// When to send a failed request again: exponential backoff with full jitter, a cap, a number of
/// attempts and an overall budget.
///
/// Pure: the caller gives the instant of each failure and a jitter fraction, and gets back the
/// instant to retry at, or ``Decision/giveUp``. The client draws the fraction at random and sleeps
/// with `Task.sleep(until:)`; tests give both explicitly.
///
/// After the *n*-th failed attempt the delay is `jitter × min(maximumDelay, base × 2ⁿ⁻¹)`, where
/// `base` is ``Configuration/baseDelay``, or ``Configuration/throttledBaseDelay`` when the service
/// asked to slow down (429, `SlowDown`). The schedule gives up once ``Configuration/maximumAttempts``
/// attempts have failed, or when the retry would start after ``Configuration/budget`` has passed
/// since the first attempt. It decides nothing about *which* failures may be retried: see
/// ``RetryableFailure``.
public struct RetrySchedule<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The schedule's limits.
    public struct Configuration: Sendable, Hashable {
        /// How many attempts in all, the first included. 1 means never retry.
        public var maximumAttempts: Int
        /// The delay scale for server errors and dropped connections.
        public var baseDelay: Duration
        /// The delay scale when the service asked to slow down.
        public var throttledBaseDelay: Duration
        /// No single delay is longer.
        public var maximumDelay: Duration
        /// No retry starts later than this after the first attempt; `nil` for no budget.
        public var budget: Duration?

        /// Creates limits; the defaults: 5 attempts, 100 ms (throttled 1 s) doubling, at most 20 s a delay, 2 min in all.
        public init(
            maximumAttempts: Int = 5, baseDelay: Duration = .milliseconds(100),
            throttledBaseDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(20),
            budget: Duration? = .seconds(120)
        ) {
            self.maximumAttempts = maximumAttempts
            self.baseDelay = baseDelay
            self.throttledBaseDelay = throttledBaseDelay
            self.maximumDelay = maximumDelay
            self.budget = budget
        }
    }

    /// What to do after a failure.
    public enum Decision: Sendable, Hashable {
        /// Send the request again at this instant.
        case retry(at: Instant)
        /// Stop and report the failure.
        case giveUp
    }

    /// The limits.
    public let configuration: Configuration
    /// When the first attempt started.
    public let start: Instant
    /// How many attempts have failed so far.
    public private(set) var failedAttempts = 0

    /// A schedule for a request whose first attempt starts at `start`.
    ///
    /// - Parameters:
    ///   - configuration: the limits.
    ///   - start: the instant of the first attempt.
    public init(_ configuration: Configuration = .init(), start: Instant) {
        self.configuration = configuration
        self.start = start
    }

    /// Records a failed attempt and decides whether and when to try again.
    ///
    /// - Parameters:
    ///   - failure: what went wrong.
    ///   - now: the instant the failure was seen.
    ///   - jitter: a fraction in `0...1` that scales the delay (random in the client; values outside are clamped).
    public mutating func next(after failure: RetryableFailure, at now: Instant, jitter: Double) -> Decision {
        failedAttempts += 1
        guard failedAttempts < configuration.maximumAttempts else { return .giveUp }
        let base = failure == .throttled ? configuration.throttledBaseDelay : configuration.baseDelay
        let exponent = min(failedAttempts - 1, 30)
        let ceiling = min(configuration.maximumDelay, base * (1 << exponent))
        let delay = ceiling * min(max(jitter, 0), 1)
        let retryAt = now.advanced(by: delay)
        if let budget = configuration.budget, start.duration(to: retryAt) > budget { return .giveUp }
        return .retry(at: retryAt)
    }
}

/// A failure that may be sent again, and how it came about; see ``RetrySchedule``.
public enum RetryableFailure: Sendable, Hashable {
    /// A 5xx answer other than a throttle (`InternalError`, 500, 502, 503, 504): the service failed, another try may not.
    case serverError
    /// 429, `SlowDown` and the like: the service asks for fewer requests.
    case throttled
    /// The connection broke or went silent after it was made, or the service timed out waiting for the
    /// body (`RequestTimeout`); the request may not have been seen.
    case connectionLost

    /// Which answers are retried: throttles, 5xx and `InternalError`, and `RequestTimeout`; `nil` for any other.
    ///
    /// - Parameters:
    ///   - status: the HTTP status.
    ///   - serviceCode: S3's error code, if the answer had one.
    public static func classify(status: Int, serviceCode: S3ErrorCode?) -> RetryableFailure? {
        if status == 429 || serviceCode.map(throttlingCodes.contains) == true { return .throttled }
        if serviceCode == .requestTimeout { return .connectionLost }
        if serviceCode == .internalError || [500, 502, 503, 504].contains(status) { return .serverError }
        return nil
    }

    private static let throttlingCodes: Set<S3ErrorCode> = [
        .slowDown, "Throttling", "ThrottlingException", "TooManyRequests", "TooManyRequestsException",
        "RequestLimitExceeded", "RequestThrottled", "ProvisionedThroughputExceededException",
    ]
}
