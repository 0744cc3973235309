import Testing

@testable import ObjectStorage

/// An instant that is only an offset from a start, moved by hand.
struct TestInstant: InstantProtocol {
    var offset: Duration

    static let zero = TestInstant(offset: .zero)

    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
}

extension TestInstant {
    static func at(_ milliseconds: Int) -> TestInstant { TestInstant(offset: .milliseconds(milliseconds)) }
}

@Suite struct RetryScheduleTests {
    let configuration = RetrySchedule<TestInstant>.Configuration(
        maximumAttempts: 5, baseDelay: .milliseconds(100), throttledBaseDelay: .seconds(1),
        maximumDelay: .milliseconds(500), budget: .seconds(10))

    @Test func delaysDoubleUpToTheCapScaledByTheJitter() {
        var schedule = RetrySchedule(configuration, start: .zero)
        #expect(schedule.next(after: .serverError, at: .at(50), jitter: 1) == .retry(at: .at(150)))
        #expect(schedule.next(after: .serverError, at: .at(1000), jitter: 1) == .retry(at: .at(1200)))
        #expect(schedule.next(after: .connectionLost, at: .at(2000), jitter: 0.5) == .retry(at: .at(2200)))
        // 800 ms would be next: the cap holds it at 500.
        #expect(schedule.next(after: .serverError, at: .at(3000), jitter: 1) == .retry(at: .at(3500)))
        #expect(schedule.failedAttempts == 4)
    }

    @Test func fullJitterMayRetryAtOnceAndClampsItsFraction() {
        var schedule = RetrySchedule(configuration, start: .zero)
        #expect(schedule.next(after: .serverError, at: .at(10), jitter: 0) == .retry(at: .at(10)))
        #expect(schedule.next(after: .serverError, at: .at(20), jitter: 7) == .retry(at: .at(220)))
        #expect(schedule.next(after: .serverError, at: .at(30), jitter: -1) == .retry(at: .at(30)))
    }

    @Test func throttlingBacksOffFromALargerBase() {
        var schedule = RetrySchedule(
            RetrySchedule<TestInstant>.Configuration(
                maximumAttempts: 4, baseDelay: .milliseconds(100), throttledBaseDelay: .seconds(1),
                maximumDelay: .seconds(20), budget: nil),
            start: .zero)
        #expect(schedule.next(after: .throttled, at: .at(0), jitter: 1) == .retry(at: .at(1000)))
        #expect(schedule.next(after: .throttled, at: .at(1000), jitter: 1) == .retry(at: .at(3000)))
        #expect(schedule.next(after: .serverError, at: .at(3000), jitter: 1) == .retry(at: .at(3400)))
    }

    @Test func givesUpAfterTheLastAttempt() {
        var schedule = RetrySchedule(configuration, start: .zero)
        for attempt in 1...4 {
            #expect(schedule.next(after: .serverError, at: .at(attempt * 1000), jitter: 0) != .giveUp)
        }
        #expect(schedule.next(after: .serverError, at: .at(5000), jitter: 0) == .giveUp)
        var never = RetrySchedule(RetrySchedule<TestInstant>.Configuration(maximumAttempts: 1), start: .zero)
        #expect(never.next(after: .serverError, at: .zero, jitter: 0) == .giveUp)
    }

    @Test func givesUpWhenTheRetryWouldStartPastTheBudget() {
        var schedule = RetrySchedule(configuration, start: .at(1000))
        #expect(schedule.next(after: .serverError, at: .at(10_900), jitter: 1) == .retry(at: .at(11_000)))
        #expect(schedule.next(after: .serverError, at: .at(10_900), jitter: 1) == .giveUp)
    }

    @Test func whichAnswersAreRetried() {
        #expect(RetryableFailure.classify(status: 503, serviceCode: .slowDown) == .throttled)
        #expect(RetryableFailure.classify(status: 429, serviceCode: nil) == .throttled)
        #expect(RetryableFailure.classify(status: 400, serviceCode: "Throttling") == .throttled)
        #expect(RetryableFailure.classify(status: 500, serviceCode: .internalError) == .serverError)
        #expect(RetryableFailure.classify(status: 502, serviceCode: nil) == .serverError)
        #expect(RetryableFailure.classify(status: 503, serviceCode: .serviceUnavailable) == .serverError)
        #expect(RetryableFailure.classify(status: 400, serviceCode: .requestTimeout) == .connectionLost)
        #expect(RetryableFailure.classify(status: 0, serviceCode: .internalError) == .serverError)
        for (status, code) in [
            (403, S3ErrorCode.signatureDoesNotMatch), (404, .noSuchKey), (400, .badDigest), (412, .preconditionFailed),
            (501, "NotImplemented"),
        ] {
            #expect(RetryableFailure.classify(status: status, serviceCode: code) == nil)
        }
    }
}
