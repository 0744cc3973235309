import CairnProtocol

/// The reply a test gives to a request handed on by the connection state
/// machine in place of a real dispatcher, made from the request's position
/// alone so that the checker can tell which reply each response carries.
///
/// Results and errors name the position (`dispatch`); every seventh reply
/// and every reply to a binary `artifacts.read` carries raw bytes, so the
/// machine's handling of binary results (after a single response; turned
/// into base64 `data` inside a batch) is exercised too.
public enum CannedReply: Sendable, Equatable {
    case result(JSONValue)
    /// A result whose raw bytes follow the response line.
    case binary(JSONValue, [UInt8])
    case error(RPCError)

    /// The reply to the request handed on at position `index`.
    public static func reply(toDispatch index: Int, method: String, params: JSONObject) -> CannedReply {
        let tag = JSONObject([("dispatch", .number(JSONNumber(index))), ("method", .string(method))])
        if index % 4 == 1 {
            let code = RPCError.Code.all[index % RPCError.Code.all.count]
            return .error(RPCError(code, "canned error \(index)", data: tag))
        }
        let binaryRead =
            RequestGrammar.grammar(named: method)?.mayAnswerWithAttachment == true && params["binary"] == .bool(true)
        if binaryRead || index % 7 == 3 {
            let bytes = (0..<(index % 70)).map { UInt8(truncatingIfNeeded: index &+ $0) }
            var result = tag
            result["dataLength"] = .number(JSONNumber(bytes.count))
            return .binary(.object(result), bytes)
        }
        return .result(.object(tag))
    }

    /// The response's `result` or `error` member inside a batch, where raw
    /// bytes are sent as base64 `data` instead.
    var batchMember: (key: String, value: JSONValue) {
        switch self {
        case .result(let result):
            return ("result", result)
        case .binary(.object(var result), let bytes):
            result["dataLength"] = nil
            result["data"] = .string(Base64.encode(bytes))
            return ("result", .object(result))
        case .binary(let result, _):
            return ("result", result)
        case .error(let error):
            return ("error", error.json)
        }
    }

    /// The response's `result` or `error` member on its own line.
    var singleMember: (key: String, value: JSONValue) {
        switch self {
        case .result(let result), .binary(let result, _): ("result", result)
        case .error(let error): ("error", error.json)
        }
    }
}
