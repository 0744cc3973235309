import SystemdProtocol
import Testing

@Suite struct WatchdogSettingsTests {
    @Test func timeoutInMicroseconds() throws {
        let settings = try WatchdogSettings.from(environment: ["WATCHDOG_USEC": "30000000"], processID: 7)
        #expect(settings?.timeout == .seconds(30))
    }

    @Test func forThisProcessOnly() throws {
        let environment = ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "7"]
        #expect(try WatchdogSettings.from(environment: environment, processID: 7)?.timeout == .seconds(2))
        #expect(try WatchdogSettings.from(environment: environment, processID: 8) == nil)
    }

    @Test func noWatchdogWithoutTheVariable() throws {
        #expect(try WatchdogSettings.from(environment: ["WATCHDOG_PID": "7"], processID: 7) == nil)
    }

    @Test(arguments: ["0", "-5", "soon", "18446744073709551615"])
    func malformedTimeoutIsRefused(value: String) {
        #expect(throws: SystemdEnvironmentError(variable: "WATCHDOG_USEC", reason: "not a positive number: \(value)")) {
            try WatchdogSettings.from(environment: ["WATCHDOG_USEC": value], processID: 7)
        }
    }

    @Test func malformedProcessIDIsRefused() {
        #expect(throws: SystemdEnvironmentError(variable: "WATCHDOG_PID", reason: "not a process id: me")) {
            try WatchdogSettings.from(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "me"], processID: 7)
        }
    }
}
