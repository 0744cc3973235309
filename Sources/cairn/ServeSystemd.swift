import ArgumentParser
import CairnLogging
import CairnServer
import Foundation
import Logging
import SystemdProtocol

/// How `cairn serve` writes its log (`--log-format`).
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    /// `journal` when standard error is the journal's stream (`JOURNAL_STREAM`), else `text`.
    case auto
    /// A timestamp, the level, the label and the message (swift-log's `StreamLogHandler`).
    case text
    /// One JSON object a line, for log shippers (``JSONLogHandler``).
    case json
    /// A syslog priority (`<N>`) before each line, no timestamp (``JournalLogHandler``).
    case journal

    /// What `auto` stands for in this process.
    func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) -> LogFormat {
        guard self == .auto else { return self }
        guard let stream = JournalStream.from(environment: environment) else { return .text }
        var info = stat()
        guard fstat(2, &info) == 0 else { return .text }
        return stream == JournalStream(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) ? .journal : .text
    }

    /// Makes every logger of the process write in this format, from `level` up.
    func bootstrap(level: Logger.Level) {
        let format = resolved()
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                switch format {
                case .json: JSONLogHandler(label: label)
                case .journal: JournalLogHandler(label: label)
                case .auto, .text: StreamLogHandler.standardError(label: label)
                }
            handler.logLevel = level
            return handler
        }
    }
}

/// What systemd gave `cairn serve`: the service manager to notify, and a
/// listening socket when the server was socket-activated.
struct SystemdServiceContext {
    let serviceManager: ServiceManager
    let inheritedSocket: InheritedSocket?

    /// Reads the variables, adopts a handed-over socket, and unsets
    /// `LISTEN_*` so that nothing the server starts takes the socket too.
    ///
    /// - Throws: ``SystemdEnvironmentError`` or ``ServerError`` with a message for the operator.
    init(logger: Logger) throws {
        let environment = ProcessInfo.processInfo.environment
        let processID = getpid()
        serviceManager = try ServiceManager(environment: environment, processID: processID, logger: logger)
        if let activation = try SocketActivation.from(environment: environment, processID: processID) {
            inheritedSocket = try InheritedSocket.adopt(activation)
            for variable in SocketActivation.variables { unsetenv(variable) }
        } else {
            inheritedSocket = nil
        }
    }
}
