/// Typed access to a request's params, failing with INVALID_PARAMS that
/// names the param.
///
/// Integers must be JSON integers (no fraction, no exponent, not a
/// boolean) within 0…2^63-1 unless stated; strings must be strings.
public struct Params: Sendable {
    public let object: JSONObject

    public init(_ object: JSONObject) { self.object = object }

    /// Whether the key is present (even as `null`).
    public func has(_ key: String) -> Bool { object[key] != nil }

    public func string(_ key: String) throws(RPCError) -> String {
        guard let value = try optionalString(key) else { throw .invalidParams(key, "\(key) is required") }
        return value
    }

    public func optionalString(_ key: String) throws(RPCError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw .invalidParams(key, "\(key) must be a string")
        }
    }

    public func integer(_ key: String) throws(RPCError) -> UInt64 {
        guard let value = try optionalInteger(key) else { throw .invalidParams(key, "\(key) is required") }
        return value
    }

    /// A non-negative integer up to 2^63-1, or `nil` when absent or null.
    public func optionalInteger(_ key: String) throws(RPCError) -> UInt64? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let number)?:
            guard number.isInteger else { throw .invalidParams(key, "\(key) must be an integer") }
            guard let value = number.int64 else { throw .invalidParams(key, "\(key) is out of range (0…2^63-1)") }
            guard value >= 0 else { throw .invalidParams(key, "\(key) must not be negative") }
            return UInt64(value)
        default: throw .invalidParams(key, "\(key) must be an integer")
        }
    }

    /// For keys where `null` means something (e.g. remove a quota):
    /// `.absent`, `.null`, or the value.
    public func nullableInteger(_ key: String) throws(RPCError) -> Nullable<UInt64> {
        switch object[key] {
        case nil: return .absent
        case .null?: return .null
        default: return .value(try integer(key))
        }
    }

    public func optionalBool(_ key: String) throws(RPCError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw .invalidParams(key, "\(key) must be a boolean")
        }
    }

    /// Standard, padded base64 decoded strictly.
    public func base64(_ key: String) throws(RPCError) -> [UInt8] {
        let text = try string(key)
        guard let bytes = Base64.decode(text) else {
            throw .invalidParams(key, "\(key) must be standard padded base64")
        }
        return bytes
    }
}

/// A value that may be absent, explicitly null, or present.
public enum Nullable<Value: Sendable & Equatable>: Sendable, Equatable {
    case absent
    case null
    case value(Value)
}
