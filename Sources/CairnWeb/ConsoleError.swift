import CairnClient
import CairnProtocol

/// A refusal or failure the console answers with: an HTTP status, a code
/// and one line for people.
///
/// The server's errors keep the contract's `data.code` (`CONFLICT`,
/// `ARTIFACT_IN_USE`, …) and `data`; the console's own refusals have codes
/// starting `WEB_` (see docs/web.md). The body is
/// `{"error": {"code", "message", "data"}}`.
public struct ConsoleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status.
    public let status: Int
    /// The contract's `data.code`, or a `WEB_` code of the console.
    public let code: String
    /// One line for people.
    public let message: String
    /// The contract's `data`, for server errors.
    public let data: JSONObject

    /// A refusal with HTTP `status`, `code` and `message`, and the contract's `data` when it has some.
    public init(status: Int, code: String, _ message: String, data: JSONObject = JSONObject()) {
        self.status = status
        self.code = code
        self.message = message
        self.data = data
    }

    /// `CODE: message`.
    public var description: String { "\(code): \(message)" }

    /// The JSON body.
    public var json: JSONValue {
        var error = JSONObject([("code", .string(code)), ("message", .string(message))])
        error["data"] = .object(data)
        return .object(JSONObject([("error", .object(error))]))
    }

    // MARK: The console's own refusals

    /// The `Host` header is not the address the console listens on (DNS rebinding).
    public static func foreignHost(_ host: String?) -> ConsoleError {
        ConsoleError(
            status: 421, code: "WEB_FOREIGN_HOST",
            "requests must name the console's own address as Host, not \(host.map { "'\($0)'" } ?? "nothing")")
    }

    /// No session cookie.
    public static let loginRequired = ConsoleError(
        status: 401, code: "WEB_LOGIN_REQUIRED", "no session: open the URL `cairn web` printed, with its token")
    /// The session timed out.
    public static let sessionExpired = ConsoleError(
        status: 401, code: "WEB_SESSION_EXPIRED", "the session has expired: restart `cairn web` for a new URL")
    /// The session cookie names no session.
    public static let unknownSession = ConsoleError(
        status: 401, code: "WEB_LOGIN_REQUIRED", "no such session: open the URL `cairn web` printed, with its token")
    /// Not the token.
    public static let wrongToken = ConsoleError(
        status: 403, code: "WEB_TOKEN_INVALID", "the token is not this console's")
    /// The token was already exchanged.
    public static let spentToken = ConsoleError(
        status: 403, code: "WEB_TOKEN_SPENT", "the token was already used; restart `cairn web` for a new URL")
    /// A change from another origin.
    public static func crossOrigin(_ origin: String) -> ConsoleError {
        ConsoleError(status: 403, code: "WEB_CROSS_ORIGIN", "a change from another origin ('\(origin)') is refused")
    }
    /// A change without the session's CSRF token.
    public static let csrfTokenMissing = ConsoleError(
        status: 403, code: "WEB_CSRF_TOKEN", "a change must carry the session's X-Cairn-CSRF header")

    // MARK: Failures of the socket

    /// The error of a call through ``CairnClient``, as the page shows it.
    public static func from(_ error: any Error) -> ConsoleError {
        if let error = error as? ConsoleError { return error }
        guard let error = error as? CairnClientError else {
            return ConsoleError(status: 500, code: "INTERNAL", "\(error)")
        }
        switch error {
        case .server(let rpc):
            return ConsoleError(status: status(of: rpc.code), code: rpc.code.name, rpc.message, data: rpc.data)
        case .cannotConnect(let path, let reason):
            return ConsoleError(
                status: 502, code: "WEB_SERVER_UNREACHABLE", "cannot reach cairn serve at \(path): \(reason)")
        case .connectionClosed:
            return ConsoleError(status: 502, code: "WEB_SERVER_UNREACHABLE", "cairn serve closed the connection")
        case .protocolViolation(let what):
            return ConsoleError(status: 502, code: "WEB_PROTOCOL", "cairn serve broke the protocol: \(what)")
        case .digestMismatch(let expected, let actual):
            return ConsoleError(
                status: 502, code: "DIGEST_MISMATCH", "received bytes with sha256 \(actual), expected \(expected)")
        }
    }

    /// The HTTP status that goes with a contract error.
    static func status(of code: RPCError.Code) -> Int {
        switch code {
        case .forbidden: 403
        case .notFound, .unknownProvider: 404
        case .conflict, .artifactInUse, .offsetMismatch: 409
        case .tooLarge, .requestTooLarge: 413
        case .quotaExceeded, .storeFull: 507
        case .internalError: 500
        case .integrityError: 502
        default: 400
        }
    }
}
