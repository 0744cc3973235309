import SystemdProtocol
import Testing

private typealias Instant = WatchdogSchedule.Instant

/// The schedule with the time moved by hand: no sleeps.
@Suite struct WatchdogScheduleTests {
    private let start = Instant(nanoseconds: 1_000_000_000)

    @Test func pingsEveryHalfTimeout() {
        var schedule = WatchdogSchedule(settings: WatchdogSettings(timeout: .seconds(10)), now: start)
        #expect(schedule.interval == .seconds(5))
        #expect(schedule.next(now: start) == .wait(until: start.advanced(by: .seconds(5))))
        #expect(
            schedule.next(now: start.advanced(by: .milliseconds(4999))) == .wait(until: start.advanced(by: .seconds(5)))
        )
        #expect(schedule.next(now: start.advanced(by: .seconds(5))) == .check)

        // The check took 300 ms: the next ping is due half a timeout after this one went out.
        let pinged = start.advanced(by: .milliseconds(5300))
        schedule.pinged(now: pinged)
        #expect(schedule.pings == 1)
        #expect(schedule.next(now: pinged) == .wait(until: pinged.advanced(by: .seconds(5))))
    }

    @Test func aLateWakeUpPingsAtOnce() {
        var schedule = WatchdogSchedule(settings: WatchdogSettings(timeout: .seconds(2)), now: start)
        let late = start.advanced(by: .seconds(7))
        #expect(schedule.next(now: late) == .check)
        #expect(schedule.isOverdue(now: late))
        schedule.pinged(now: late)
        #expect(!schedule.isOverdue(now: late))
        #expect(schedule.next(now: late) == .wait(until: late.advanced(by: .seconds(1))))
    }

    @Test func aFailedCheckSendsNoPingAndTriesAgainAnIntervalLater() {
        var schedule = WatchdogSchedule(settings: WatchdogSettings(timeout: .seconds(10)), now: start)
        let due = start.advanced(by: .seconds(5))
        #expect(schedule.next(now: due) == .check)
        schedule.checkFailed(now: due)
        #expect(schedule.pings == 0)
        #expect(schedule.lastPing == start)
        #expect(schedule.next(now: due) == .wait(until: start.advanced(by: .seconds(10))))
        // The manager's timer ran on from the start: by the retry it has given up.
        #expect(schedule.isOverdue(now: start.advanced(by: .seconds(10))))
    }

    @Test func overdueOnlyAfterAWholeTimeout() {
        let schedule = WatchdogSchedule(settings: WatchdogSettings(timeout: .seconds(2)), now: start)
        #expect(!schedule.isOverdue(now: start.advanced(by: .milliseconds(1999))))
        #expect(schedule.isOverdue(now: start.advanced(by: .seconds(2))))
    }

    @Test func subMicrosecondTimeoutsAndFarFutures() {
        let schedule = WatchdogSchedule(settings: WatchdogSettings(timeout: .microseconds(1)), now: start)
        #expect(schedule.next(now: start) == .wait(until: Instant(nanoseconds: start.nanoseconds + 500)))
        let far = Instant(nanoseconds: .max - 10).advanced(by: .seconds(1))
        #expect(far == Instant(nanoseconds: .max))
    }
}
