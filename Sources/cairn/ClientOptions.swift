import ArgumentParser
import CairnClient
import CairnProtocol
import Foundation

/// The options every client subcommand takes: where the server listens and
/// how to print.
///
/// `--socket` defaults to `$CAIRN_SOCKET`, else the default data directory's
/// socket (see ``CairnClient/defaultSocketPath(environment:)``). `--json`
/// switches output to JSON for scripts; errors stay one human line on
/// standard error either way.
struct ClientOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The server's socket; $CAIRN_SOCKET, when set, replaces the default.", valueName: "path"))
    var socket: String = CairnClient.defaultSocketPath(
        environment: EnvironmentVariables.values(["CAIRN_SOCKET", "CAIRN_DATA_DIR", "HOME"]))

    @Flag(help: "Print machine-readable JSON instead of text.")
    var json = false

    /// Connects to the server, runs `body` with the client, and turns every
    /// client failure into the exit status documented on ``Cairn``, after
    /// printing one line about it on standard error.
    ///
    /// The connection does blocking I/O on the calling thread
    /// (``ConnectionIO/blockingSocket``): a one-shot command is one task, and
    /// it starts no event-loop threads and hops between none.
    ///
    /// Errors that are not ``CairnClientError`` (an ``ExitCode``, a
    /// ``LocalFailure``) pass through unchanged.
    func withClient<Result>(_ body: (CairnClient) async throws -> Result) async throws -> Result {
        do {
            return try await CairnClient.withConnection(socketPath: socket, io: .blockingSocket, body)
        } catch let error as CairnClientError {
            throw Failure.report(error, socket: socket)
        }
    }
}

/// The `--tenant` option of the subcommands that act on one tenant's data.
///
/// The tenant is `--tenant`, else `$CAIRN_TENANT`; without either, the
/// command is a usage error (exit status 2), as is a name the contract would
/// refuse.
struct TenantOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The tenant to act on (default: $CAIRN_TENANT).", valueName: "name"))
    var tenant: String?

    /// The tenant in effect; valid once parsing has succeeded.
    var name: String {
        tenant ?? Self.fromEnvironment ?? ""
    }

    private static var fromEnvironment: String? {
        EnvironmentVariables.value("CAIRN_TENANT").flatMap { $0.isEmpty ? nil : $0 }
    }

    func validate() throws {
        guard let name = tenant ?? Self.fromEnvironment else {
            throw ValidationError("no tenant: pass --tenant NAME or set CAIRN_TENANT")
        }
        guard Names.isTenant(name) else {
            throw ValidationError("'\(name)' is not a tenant name (^[a-z0-9][a-z0-9._-]{0,62}$)")
        }
    }
}

/// Environment variables read one by one (`getenv(3)`): the option defaults
/// above are evaluated at every start, and several times while the command
/// line is parsed, where a copy of the whole environment
/// (`ProcessInfo.environment`) costs more than the few names they need.
enum EnvironmentVariables {
    /// The variable's value, or `nil` when it is not set.
    static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The variables of `names` that are set.
    static func values(_ names: [String]) -> [String: String] {
        var found: [String: String] = [:]
        for name in names {
            if let value = value(name) { found[name] = value }
        }
        return found
    }
}

/// A usage error found only once the command runs (e.g. a field the provider does not have):
/// printed as `cairn: message`, exit status 2, like a usage error found while parsing.
struct UsageFailure: Error, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}

/// A failure on this side of the socket (a file that cannot be read or
/// written, a file that changed while it was uploaded): printed as
/// `cairn: message`, exit status 1.
struct LocalFailure: Error, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    /// A failed system call on `path`, with the reason from `errno`.
    static func system(_ what: String, _ path: String, errno code: Int32 = errno) -> LocalFailure {
        LocalFailure("\(what) \(path): \(String(cString: strerror(code)))")
    }

    var description: String { message }
}

/// How failures become a line on standard error and an exit status.
enum Failure {
    /// The exit statuses of every client subcommand.
    enum Status {
        static let refused = ExitCode(1)
        static let usage = ExitCode(2)
        static let unreachable = ExitCode(3)
        static let verification = ExitCode(4)
        /// `cairn providers readiness`: the configuration cannot run.
        static let blocked = ExitCode(5)
    }

    /// Prints one line about `error` and returns the exit status that goes with it.
    static func report(_ error: CairnClientError, socket: String) -> ExitCode {
        switch error {
        case .server(let rpc):
            Output.error("cairn: \(rpc.code.name): \(rpc.message)\(details(rpc.data, message: rpc.message))")
            return Status.refused
        case .cannotConnect(let path, let reason):
            Output.error(
                "cairn: cannot reach the server at \(path) (\(why(reason))); is `cairn serve` running? "
                    + "Name its socket with --socket PATH or CAIRN_SOCKET.")
            return Status.unreachable
        case .connectionClosed:
            Output.error(
                "cairn: the server at \(socket) closed the connection; try again, or check the server's log.")
            return Status.unreachable
        case .protocolViolation(let what):
            Output.error("cairn: the server at \(socket) does not speak the Cairn protocol: \(what)")
            return Status.unreachable
        case .digestMismatch(let expected, let actual):
            Output.error("cairn: DIGEST_MISMATCH: received bytes with sha256 \(actual), expected \(expected)")
            return Status.verification
        }
    }

    /// A connection failure in a few words: the system's reason, without the socket library's call syntax.
    static func why(_ reason: String) -> String {
        let known: [(String, String)] = [
            ("No such file or directory", "no socket there"), ("Connection refused", "nothing listens there"),
            ("Permission denied", "permission denied"), ("Not a directory", "no socket there"),
        ]
        return known.first { reason.contains($0.0) }?.1 ?? reason
    }

    /// The facts beside `data.code`, as ` (key value, …)`, or nothing. Facts the message already
    /// states as a word (NOT_FOUND's `what`, FORBIDDEN's tenant, INTEGRITY_ERROR's digest), and lists (ARTIFACT_IN_USE's
    /// references, PROVIDER_CONFIG_INVALID's issues: the message names them), are left out.
    static func details(_ data: JSONObject, message: String) -> String {
        let words = Set(message.split { !($0.isLetter || $0.isNumber || "._:-".contains($0)) }.map(String.init))
        let parts = data.keys.compactMap { key -> String? in
            guard key != "what", let value = data[key] else { return nil }
            switch value {
            case .array, .object: return nil  // the message says it in words
            default: break
            }
            let text = Output.text(value)
            if words.contains(text) { return nil }
            return "\(key) \(text)"
        }
        return parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))"
    }
}
