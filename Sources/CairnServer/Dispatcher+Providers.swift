import CairnProtocol
import CairnProviders
import CairnStore
import Foundation

/// The `providers.*` methods: the catalog, configurations and readiness.
extension Dispatcher {
    /// `providers.list`. The catalog is the same for every peer and says nothing about any tenant: no grant needed.
    func providersList(_ params: NoParams, _ call: Call) throws -> JSONDocument {
        JSONDocument(.object(JSONObject([("providers", .array(catalog.catalog.definitions.map(Wire.definition)))])))
    }

    /// `providers.config.get`. Snapshots and readiness re-read and verify every referenced artifact: not on the connection's thread.
    func providersConfigGet(_ params: ProviderParams, _ call: Call) async throws -> JSONDocument {
        let definition = providerDefinition(params.providerId)
        let configuration = try store.providerConfiguration(
            tenant: call.grantedTenant, providerId: ProviderID(definition.providerId)!)
        return JSONDocument(try snapshot(configuration, definition))
    }

    func providersConfigSet(_ params: ConfigureProviderParams, _ call: Call) async throws -> JSONDocument {
        let definition = providerDefinition(params.providerId)
        let changes = try configurationChanges(params, definition)
        let configuration = try await store.setProviderConfiguration(
            tenant: call.grantedTenant, providerId: ProviderID(definition.providerId)!, changes: changes,
            expectedRevision: params.expectedRevision, actor: call.actor)
        return JSONDocument(try snapshot(configuration, definition))
    }

    func providersReadiness(_ params: ProviderParams, _ call: Call) async throws -> JSONDocument {
        let definition = providerDefinition(params.providerId)
        let configuration = try store.providerConfiguration(
            tenant: call.grantedTenant, providerId: ProviderID(definition.providerId)!)
        return JSONDocument(Wire.readiness(definition.providerId, try readiness(configuration, definition)))
    }

    /// The catalog's definition of a provider the params already found there.
    private func providerDefinition(_ providerId: String) -> ProviderDefinition {
        guard let definition = catalog.catalog.definition(providerId) else {
            preconditionFailure("\(providerId) passed the catalog check but is not in the catalog")
        }
        return definition
    }

    private func configurationChanges(_ params: ConfigureProviderParams, _ definition: ProviderDefinition) throws
        -> [String: FieldChange]
    {
        let values = params.values.map { (key: $0.key, value: Self.configInput($0.value)) }
        let clear = params.clear
        switch ConfigurationChange.parse(definition: definition, values: values, clear: clear) {
        case .success(let changes):
            return changes
        case .failure(let refusal):
            throw Wire.error(
                StoreError(
                    .providerConfigInvalid, .issues(refusal.issues),
                    "the configuration cannot be stored: "
                        + refusal.issues.map(\.message).joined(separator: "; ")))
        }
    }

    private static func configInput(_ value: JSONValue) -> ConfigInput {
        switch value {
        case .null: .null
        case .string(let text): .string(text)
        case .array(let elements): .array(elements.map(configInput))
        case .bool: .other(kind: "a boolean")
        case .number: .other(kind: "a number")
        case .object: .other(kind: "an object")
        }
    }

    /// Evaluates readiness, re-reading and verifying every referenced artifact.
    private func readiness(_ configuration: ProviderConfiguration, _ definition: ProviderDefinition) throws
        -> ReadinessReport
    {
        let declared = Set(definition.fields.map(\.key))
        let ids = configuration.values.filter { declared.contains($0.key) }.flatMap(\.value.artifactIds)
        let states = try store.artifactStates(tenant: configuration.tenant, ids: ids)
        return Readiness.evaluate(definition: definition, values: configuration.values, artifactStates: states)
    }

    private func snapshot(_ configuration: ProviderConfiguration, _ definition: ProviderDefinition) throws
        -> JSONValue
    {
        let ids = configuration.values.values.flatMap(\.artifactIds)
        let metas = try store.artifactMetas(tenant: configuration.tenant, ids: ids)
        return Wire.snapshot(
            configuration, definition: definition, metas: metas,
            readiness: try readiness(configuration, definition))
    }
}
