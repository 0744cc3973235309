import CairnDigest

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The wire forms of ids and digests, read strictly, each failing with
/// `INVALID_PARAMS` naming the param.
extension Params {
    /// A UUID in its 36-character hyphenated form, any case.
    public func uuid(_ key: String) throws(RPCError) -> UUID {
        let text = try string(key)
        guard text.utf8.count == 36, let id = UUIDText.parse(text) else {
            throw .invalidParams(key, "\(key) must be a UUID")
        }
        return id
    }

    /// The `length` of a read: at most `maxChunkBytes` (`TOO_LARGE` with
    /// the limit beyond), that when absent or null.
    public func chunkLength(_ context: ParamsContext) throws(RPCError) -> UInt64 {
        let length = try optionalInteger("length") ?? UInt64(context.maxChunkBytes)
        guard length <= UInt64(context.maxChunkBytes) else {
            throw RPCError(
                .tooLarge, "length is over maxChunkBytes",
                data: JSONObject([("limit", .number(JSONNumber(context.maxChunkBytes)))]))
        }
        return length
    }

    /// ``uuid(_:)``, or `nil` when absent or null.
    public func optionalUUID(_ key: String) throws(RPCError) -> UUID? {
        try optionalString(key) == nil ? nil : try uuid(key)
    }

    /// A SHA-256: 64 hex digits, optionally prefixed with `sha256:`, any case.
    public func sha256(_ key: String) throws(RPCError) -> SHA256Digest {
        guard let digest = try optionalSHA256(key) else { throw .invalidParams(key, "\(key) is required") }
        return digest
    }

    /// ``sha256(_:)``, or `nil` when absent or null.
    public func optionalSHA256(_ key: String) throws(RPCError) -> SHA256Digest? {
        guard let text = try optionalString(key) else { return nil }
        guard let digest = SHA256Digest(parsing: text) else {
            throw .invalidParams(key, "\(key) must be 64 hex digits, optionally prefixed with sha256:")
        }
        return digest
    }

    /// An XXH3-128 as 32 hex digits (as `xxhsum -H2` prints it), or `nil`.
    public func optionalXXH128(_ key: String) throws(RPCError) -> XXH3Hash128? {
        guard let text = try optionalString(key) else { return nil }
        guard let checksum = XXH3Hash128(hex: text) else {
            throw .invalidParams(key, "\(key) must be 32 hex digits (an XXH3-128, as xxhsum -H2 prints it)")
        }
        return checksum
    }

    /// A provider id of the form the context accepts.
    func providerID(_ key: String, _ context: ParamsContext) throws(RPCError) -> String {
        let text = try string(key)
        guard context.isProviderID(text) else {
            throw .invalidParams(key, "\(key) must match ^[a-z0-9][a-z0-9._:-]{0,127}$")
        }
        return text
    }

    /// A provider id that the catalog knows; `UNKNOWN_PROVIDER` otherwise.
    func knownProviderID(_ key: String, _ context: ParamsContext) throws(RPCError) -> String {
        let providerId = try providerID(key, context)
        guard context.knowsProvider(providerId) else {
            throw RPCError(
                .unknownProvider, "no provider \(providerId) in the catalog",
                data: JSONObject([("providerId", .string(providerId))]))
        }
        return providerId
    }

    /// A page size: 1 to the context's largest page, 100 when absent.
    func pageLimit(_ key: String, _ context: ParamsContext) throws(RPCError) -> Int {
        let limit = try optionalInteger(key) ?? 100
        guard (1...UInt64(context.maxPageSize)).contains(limit) else {
            throw .invalidParams(key, "\(key) must be between 1 and \(context.maxPageSize)")
        }
        return Int(limit)
    }
}

/// Building params objects: only the values that are set.
struct ParamsBuilder {
    private(set) var object = JSONObject()

    mutating func set(_ key: String, _ value: String?) {
        if let value { object[key] = .string(value) }
    }

    mutating func set(_ key: String, _ value: UInt64?) {
        if let value { object[key] = .number(JSONNumber(value)) }
    }

    mutating func set(_ key: String, _ value: Int?) {
        if let value { object[key] = .number(JSONNumber(value)) }
    }

    mutating func set(_ key: String, _ value: Bool?) {
        if let value { object[key] = .bool(value) }
    }

    mutating func set(_ key: String, _ value: UUID?) {
        if let value { object[key] = .string(UUIDText.lowercase(value)) }
    }

    mutating func set(_ key: String, _ value: SHA256Digest?) {
        if let value { object[key] = .string(value.hex) }
    }

    mutating func set(_ key: String, _ value: JSONValue?) {
        if let value { object[key] = value }
    }

    mutating func set(_ key: String, _ value: Nullable<UInt64>) {
        switch value {
        case .absent: break
        case .null: object[key] = .null
        case .value(let limit): object[key] = .number(JSONNumber(limit))
        }
    }
}
