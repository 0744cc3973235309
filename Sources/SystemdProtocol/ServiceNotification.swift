/// One state change a service reports to its service manager (`sd_notify(3)`).
///
/// A notification message is a datagram of `KEY=VALUE` lines sent to
/// `NOTIFY_SOCKET`; ``message(_:)`` writes one. Only what `cairn serve`
/// reports is modelled.
public enum ServiceNotification: Equatable, Sendable {
    /// `READY=1`: start-up is finished; the service accepts requests.
    case ready
    /// `STOPPING=1`: the service is shutting down.
    case stopping
    /// `STATUS=…`: one line of free text that `systemctl status` shows.
    case status(String)
    /// `WATCHDOG=1`: the keep-alive ping.
    case watchdog
    /// `MAINPID=…`: the process the manager should watch (for a service forked by a helper).
    case mainProcessID(Int32)

    /// The assignment for this notification, e.g. `READY=1`.
    ///
    /// A status keeps to one line: line breaks become spaces, since a line
    /// break would end the assignment.
    public var assignment: String {
        switch self {
        case .ready: "READY=1"
        case .stopping: "STOPPING=1"
        case .watchdog: "WATCHDOG=1"
        case .mainProcessID(let pid): "MAINPID=\(pid)"
        case .status(let text):
            "STATUS="
                + String(
                    String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : $0 }))
        }
    }

    /// The datagram that reports `notifications` at once: their assignments, one a line.
    public static func message(_ notifications: [ServiceNotification]) -> [UInt8] {
        Array(notifications.map(\.assignment).joined(separator: "\n").utf8)
    }
}
