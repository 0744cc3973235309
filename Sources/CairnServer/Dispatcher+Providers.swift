import CairnProtocol
import CairnProviders
import CairnStore
import Foundation

/// The `providers.*` methods: the catalog, configurations and readiness.
extension Dispatcher {
    static let providerMethods: Set<String> = [
        "providers.list", "providers.config.get", "providers.config.set", "providers.readiness",
    ]

    func routeProviders(_ method: String, _ params: Params, peer: Peer, actor: Actor) async throws -> Reply {
        switch method {
        case "providers.list":
            // The catalog is the same for every peer and says nothing about any tenant: no grant needed.
            return .result(
                .object(JSONObject([("providers", .array(catalog.catalog.definitions.map(Wire.definition)))])))

        case "providers.config.get":
            let tenant = try authorize(params, peer, .read)
            let definition = try providerDefinition(params)
            let configuration = try store.providerConfiguration(
                tenant: tenant, providerId: ProviderID(definition.providerId)!)
            return .result(try snapshot(configuration, definition))

        case "providers.config.set":
            let tenant = try authorize(params, peer, .admin)
            let definition = try providerDefinition(params)
            let changes = try configurationChanges(params, definition)
            let expectedRevision = try params.optionalInteger("expectedRevision")
            let configuration = try await store.setProviderConfiguration(
                tenant: tenant, providerId: ProviderID(definition.providerId)!, changes: changes,
                expectedRevision: expectedRevision, actor: actor)
            return .result(try snapshot(configuration, definition))

        case "providers.readiness":
            let tenant = try authorize(params, peer, .read)
            let definition = try providerDefinition(params)
            let configuration = try store.providerConfiguration(
                tenant: tenant, providerId: ProviderID(definition.providerId)!)
            return .result(Wire.readiness(definition.providerId, try readiness(configuration, definition)))

        default:
            throw RPCError(.methodNotFound, "no method \(method)")
        }
    }

    /// The definition named by `providerId`: INVALID_PARAMS when malformed, UNKNOWN_PROVIDER when not in the catalog.
    private func providerDefinition(_ params: Params) throws -> ProviderDefinition {
        let providerId = try providerID(params)
        guard let definition = catalog.catalog.definition(providerId.rawValue) else {
            throw RPCError(
                .unknownProvider, "no provider \(providerId.rawValue) in the catalog",
                data: JSONObject([("providerId", .string(providerId.rawValue))]))
        }
        return definition
    }

    /// Reads `values`, `clear` into changes, refusing what can never be stored with PROVIDER_CONFIG_INVALID.
    private func configurationChanges(_ params: Params, _ definition: ProviderDefinition) throws -> [String:
        FieldChange]
    {
        var values: [(key: String, value: ConfigInput)] = []
        switch params.object["values"] {
        case nil, .null?: break
        case .object(let object)?:
            for key in object.keys { values.append((key, Self.configInput(object[key]!))) }
        case _?: throw RPCError.invalidParams("values", "values must be an object")
        }
        var clear: [String] = []
        switch params.object["clear"] {
        case nil, .null?: break
        case .array(let keys)?:
            for key in keys {
                guard case .string(let name) = key else {
                    throw RPCError.invalidParams("clear", "clear must be an array of field keys")
                }
                clear.append(name)
            }
        case _?: throw RPCError.invalidParams("clear", "clear must be an array of field keys")
        }
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
