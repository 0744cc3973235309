/// A JSON-RPC error as the contract shapes it: a numeric code, a message,
/// and `data` with the contract's `code` name plus facts.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The contract's `data.code` names.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// The JSON-RPC numeric code that goes with the name.
        public let number: Int

        public init(_ name: String, _ number: Int = -32000) {
            self.name = name
            self.number = number
        }

        public var description: String { name }

        public static let parseError = Code("PARSE_ERROR", -32700)
        public static let invalidRequest = Code("INVALID_REQUEST", -32600)
        public static let methodNotFound = Code("METHOD_NOT_FOUND", -32601)
        public static let invalidParams = Code("INVALID_PARAMS", -32602)
        public static let internalError = Code("INTERNAL", -32603)
        public static let requestTooLarge = Code("REQUEST_TOO_LARGE")
        public static let forbidden = Code("FORBIDDEN")
        public static let notFound = Code("NOT_FOUND")
        public static let quotaExceeded = Code("QUOTA_EXCEEDED")
        public static let tooLarge = Code("TOO_LARGE")
        public static let digestMismatch = Code("DIGEST_MISMATCH")
        public static let sizeMismatch = Code("SIZE_MISMATCH")
        public static let offsetMismatch = Code("OFFSET_MISMATCH")
        public static let artifactInUse = Code("ARTIFACT_IN_USE")
        public static let providerConfigInvalid = Code("PROVIDER_CONFIG_INVALID")
        public static let unknownProvider = Code("UNKNOWN_PROVIDER")
        public static let conflict = Code("CONFLICT")
        public static let storeFull = Code("STORE_FULL")
        public static let integrityError = Code("INTEGRITY_ERROR")

        /// Every code of the contract, for clients that map names back.
        public static let all: [Code] = [
            .parseError, .invalidRequest, .methodNotFound, .invalidParams, .internalError, .requestTooLarge,
            .forbidden, .notFound, .quotaExceeded, .tooLarge, .digestMismatch, .sizeMismatch, .offsetMismatch,
            .artifactInUse, .providerConfigInvalid, .unknownProvider, .conflict, .storeFull, .integrityError,
        ]

        /// The code with this name; unknown names keep the application number.
        public static func named(_ name: String) -> Code {
            all.first { $0.name == name } ?? Code(name)
        }
    }

    public let code: Code
    public let message: String
    /// Facts beside `data.code`, e.g. `field`, `limit`, `offset`.
    public let data: JSONObject

    public init(_ code: Code, _ message: String, data: JSONObject = JSONObject()) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "\(code.name): \(message)" }

    /// The JSON-RPC error object.
    public var json: JSONValue {
        var data = JSONObject([("code", .string(code.name))])
        for key in self.data.keys where key != "code" { data[key] = self.data[key] }
        return .object(
            JSONObject([
                ("code", .number(JSONNumber(code.number))),
                ("message", .string(message)),
                ("data", .object(data)),
            ]))
    }

    /// Reads an error object received from a server.
    public init?(json: JSONValue) {
        guard let object = json.objectValue, let message = object["message"]?.stringValue,
            let data = object["data"]?.objectValue, let name = data["code"]?.stringValue
        else { return nil }
        var extras = data
        extras["code"] = nil
        self.init(.named(name), message, data: extras)
    }

    /// INVALID_PARAMS naming the top-level param.
    public static func invalidParams(_ field: String, _ message: String) -> RPCError {
        RPCError(.invalidParams, message, data: JSONObject([("field", .string(field))]))
    }
}
