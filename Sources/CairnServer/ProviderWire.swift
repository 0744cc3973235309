import CairnProtocol
import CairnProviders
import CairnStore
import Foundation

/// The contract's JSON shapes of provider definitions, configurations and readiness.
extension Wire {
    /// A `providers.list` entry (also the shape of a `providers.d/` file).
    static func definition(_ definition: ProviderDefinition) -> JSONValue {
        let fields: [JSONValue] = definition.fields.map { field in
            var object = JSONObject([
                ("key", .string(field.key)), ("shape", .string(field.shape.rawValue)),
                ("required", .bool(field.required)), ("secret", .bool(field.secret)),
                ("description", .string(field.description)),
            ])
            if let allowed = field.allowedValues { object["allowedValues"] = .array(allowed.map(JSONValue.string)) }
            return .object(object)
        }
        return .object(
            JSONObject([
                ("providerId", .string(definition.providerId)), ("displayName", .string(definition.displayName)),
                ("fields", .array(fields)),
            ]))
    }

    /// A stored value as JSON: a string, or an array of strings (as `providers.config.get` shows it).
    public static func value(_ value: FieldValue) -> JSONValue {
        switch value {
        case .scalar(let text), .artifactRef(let text): .string(text)
        case .list(let items), .artifactRefs(let items): .array(items.map(JSONValue.string))
        }
    }

    /// A configuration snapshot: every field of the definition in its order,
    /// secret values shown only as `{"set": true}`, referenced artifacts' metas.
    static func snapshot(
        _ configuration: ProviderConfiguration, definition: ProviderDefinition, metas: [String: ArtifactMeta],
        readiness report: ReadinessReport
    ) -> JSONValue {
        let fields: [JSONValue] = definition.fields.map { field in
            let stored = configuration.values[field.key]
            var object = JSONObject([("key", .string(field.key)), ("shape", .string(field.shape.rawValue))])
            switch stored {
            case nil: object["value"] = .null
            case _? where field.secret: object["value"] = ["set": true]
            case let stored?: object["value"] = value(stored)
            }
            if field.shape.referencesArtifacts {
                let ids = stored?.artifactIds ?? []
                object["artifacts"] = .array(ids.compactMap { metas[$0].map { meta($0).encoded } })
            }
            return .object(object)
        }
        return .object(
            JSONObject([
                ("tenant", .string(configuration.tenant.rawValue)),
                ("providerId", .string(configuration.providerId.rawValue)),
                ("revision", number(configuration.revision)),
                ("updatedAt", configuration.updatedAt.map(time) ?? .null),
                ("updatedBy", configuration.updatedBy.map(JSONValue.string) ?? .null),
                ("fields", .array(fields)),
                ("readiness", readiness(configuration.providerId.rawValue, report)),
            ]))
    }

    static func readiness(_ providerId: String, _ report: ReadinessReport) -> JSONValue {
        .object(
            JSONObject([
                ("providerId", .string(providerId)), ("ready", .bool(report.ready)), ("state", .string(report.state)),
                ("code", report.code.map { .string($0.rawValue) } ?? .null),
                ("subCodes", .array(report.subCodes.map { .string($0.name) })),
                ("issues", issues(report.issues)),
            ]))
    }

    static func issues(_ issues: [ReadinessReport.Issue]) -> JSONValue {
        .array(
            issues.map {
                .object(
                    JSONObject([
                        ("field", .string($0.field)), ("subCode", .string($0.subCode.name)),
                        ("message", .string($0.message)),
                    ]))
            })
    }
}
