/// A request read from a line: a call (with an id) or a notification.
public struct RPCRequest: Sendable, Equatable {
    /// The id to echo, with its JSON type; `nil` for a notification.
    public let id: JSONValue?
    public let method: String
    /// The params object (empty when the request had none).
    public let params: JSONObject

    public init(id: JSONValue?, method: String, params: JSONObject) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// Whether the sender expects no response.
    public var isNotification: Bool { id == nil }

    /// The request as a JSON line body (without the newline).
    public var json: JSONValue {
        var object = JSONObject([("jsonrpc", "2.0"), ("method", .string(method)), ("params", .object(params))])
        if let id { object["id"] = id }
        return .object(object)
    }
}

/// What one element of a line turned out to be.
public enum RPCEntry: Sendable, Equatable {
    /// A well-formed request, to be carried out.
    case request(RPCRequest)
    /// A malformed one, answered at once with this error (and `id`, when
    /// it was readable).
    case invalid(id: JSONValue, error: RPCError)
}

/// A whole line: one entry, or a batch of them.
public enum RPCLine: Sendable, Equatable {
    case single(RPCEntry)
    /// A non-empty batch; its responses go out as one array.
    case batch([RPCEntry])

    /// Parses one line per the contract's rules: unparsable → PARSE_ERROR
    /// with a null id; a non-object, a missing or wrong `jsonrpc`, a
    /// non-string `method`, an object or array `id`, or non-object `params`
    /// → INVALID_REQUEST, echoing the id when readable; an empty batch →
    /// one INVALID_REQUEST.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> RPCLine {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            return .single(
                .invalid(
                    id: .null, error: RPCError(.parseError, "parse error: \(error.reason) at byte \(error.offset)")))
        }
        if case .array(let elements) = value {
            guard !elements.isEmpty else {
                return .single(.invalid(id: .null, error: RPCError(.invalidRequest, "an empty batch")))
            }
            return .batch(elements.map(entry))
        }
        return .single(entry(value))
    }

    /// Parses one line held in an array.
    public static func parse(_ bytes: [UInt8]) -> RPCLine {
        bytes.withUnsafeBytes { parse($0) }
    }

    static func entry(_ value: JSONValue) -> RPCEntry {
        guard case .object(let object) = value else {
            return .invalid(id: .null, error: RPCError(.invalidRequest, "a request must be a JSON object"))
        }
        var id: JSONValue? = nil
        if let rawId = object["id"] {
            switch rawId {
            case .object, .array:
                return .invalid(id: .null, error: RPCError(.invalidRequest, "id must be a string, number or null"))
            case .bool:
                return .invalid(id: .null, error: RPCError(.invalidRequest, "id must be a string, number or null"))
            default:
                id = rawId
            }
        }
        let echo = id ?? .null
        guard object["jsonrpc"] == .string("2.0") else {
            return .invalid(id: echo, error: RPCError(.invalidRequest, #"jsonrpc must be "2.0""#))
        }
        guard case .string(let method)? = object["method"] else {
            return .invalid(id: echo, error: RPCError(.invalidRequest, "method must be a string"))
        }
        var params = JSONObject()
        switch object["params"] {
        case nil: break
        case .object(let given)?: params = given
        default:
            return .invalid(id: echo, error: RPCError(.invalidRequest, "params must be an object"))
        }
        return .request(RPCRequest(id: id, method: method, params: params))
    }
}

/// Building responses.
public enum RPCResponse {
    /// `{"jsonrpc":"2.0","id":…,"result":…}`
    public static func success(id: JSONValue, result: JSONValue) -> JSONValue {
        .object(JSONObject([("jsonrpc", "2.0"), ("id", id), ("result", result)]))
    }

    /// `{"jsonrpc":"2.0","id":…,"error":{…}}`
    public static func failure(id: JSONValue, error: RPCError) -> JSONValue {
        .object(JSONObject([("jsonrpc", "2.0"), ("id", id), ("error", error.json)]))
    }
}
