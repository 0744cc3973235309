import CairnProtocol

/// Typed calls of the `providers.*` methods. Results are the contract's JSON
/// objects (see docs/protocol.md): a provider entry, a configuration
/// snapshot, a readiness report.
extension CairnClient {
    /// `providers.list`: every provider definition in the server's catalog, built-in first.
    public func providers() async throws -> [JSONValue] {
        try await call("providers.list").result["providers"]?.arrayValue ?? []
    }

    /// `providers.config.get`: the configuration snapshot of `providerId` in `tenant` (revision 0 when never set).
    public func providerConfiguration(tenant: String, providerId: String) async throws -> JSONValue {
        try await call(
            "providers.config.get", JSONObject([("tenant", .string(tenant)), ("providerId", .string(providerId))])
        ).result
    }

    /// `providers.config.set`: merges `values` (a `null` value clears its key) and clears `clear`, in one change.
    ///
    /// - Parameter expectedRevision: when given, the server refuses with CONFLICT unless the
    ///   configuration is still at this revision.
    /// - Returns: the new snapshot.
    public func setProviderConfiguration(
        tenant: String, providerId: String, values: JSONObject = JSONObject(), clear: [String] = [],
        expectedRevision: UInt64? = nil
    ) async throws -> JSONValue {
        var params = JSONObject([("tenant", .string(tenant)), ("providerId", .string(providerId))])
        if !values.keys.isEmpty { params["values"] = .object(values) }
        if !clear.isEmpty { params["clear"] = .array(clear.map(JSONValue.string)) }
        if let expectedRevision { params["expectedRevision"] = .number(JSONNumber(expectedRevision)) }
        return try await call("providers.config.set", params).result
    }

    /// `providers.readiness`: whether the configuration can run, with every sub-code.
    public func readiness(tenant: String, providerId: String) async throws -> JSONValue {
        try await call(
            "providers.readiness", JSONObject([("tenant", .string(tenant)), ("providerId", .string(providerId))])
        ).result
    }
}
