import SystemdProtocol
import Testing

@Suite struct ServiceNotificationTests {
    @Test func assignments() {
        #expect(ServiceNotification.ready.assignment == "READY=1")
        #expect(ServiceNotification.stopping.assignment == "STOPPING=1")
        #expect(ServiceNotification.watchdog.assignment == "WATCHDOG=1")
        #expect(ServiceNotification.mainProcessID(1234).assignment == "MAINPID=1234")
        #expect(
            ServiceNotification.status("serving on /run/cairn/cairn.sock").assignment
                == "STATUS=serving on /run/cairn/cairn.sock")
    }

    @Test func aStatusStaysOnOneLine() {
        #expect(ServiceNotification.status("a\nb\r\nc").assignment == "STATUS=a b  c")
    }

    @Test func oneMessageCarriesSeveralLines() {
        let message = ServiceNotification.message([.ready, .status("serving")])
        #expect(String(decoding: message, as: UTF8.self) == "READY=1\nSTATUS=serving")
    }
}
