import CairnProtocol

/// Typed calls of the `providers.*` methods. Results are the contract's JSON
/// objects (see docs/protocol.md): a provider entry, a configuration
/// snapshot, a readiness report.
extension CairnClient {
    /// `providers.list`: every provider definition in the server's catalog, built-in first.
    public func providers() async throws -> [JSONValue] {
        try await call(Methods.providersList, NoParams())["providers"]?.arrayValue ?? []
    }

    /// `providers.config.get`: the configuration snapshot of `providerId` in `tenant` (revision 0 when never set).
    public func providerConfiguration(tenant: String, providerId: String) async throws -> JSONValue {
        try await call(Methods.providersConfigGet, ProviderParams(tenant: tenant, providerId: providerId)).json
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
        let params = ConfigureProviderParams(
            tenant: tenant, providerId: providerId, values: values.keys.map { ($0, values[$0]!) }, clear: clear,
            expectedRevision: expectedRevision)
        return try await call(Methods.providersConfigSet, params).json
    }

    /// `providers.readiness`: whether the configuration can run, with every sub-code.
    public func readiness(tenant: String, providerId: String) async throws -> JSONValue {
        try await call(Methods.providersReadiness, ProviderParams(tenant: tenant, providerId: providerId)).json
    }
}
