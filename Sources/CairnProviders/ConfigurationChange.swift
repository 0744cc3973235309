import Foundation

/// A change to one field of a stored configuration.
public enum FieldChange: Sendable, Hashable {
    /// Store this value.
    case set(FieldValue)
    /// Remove the field's value.
    case clear
}

/// A `config.set` value as it arrived, before it is read into a shape.
///
/// The server maps its JSON values onto this, so that the rules of which
/// input fits which shape stay pure and independent of the wire format.
public indirect enum ConfigInput: Sendable, Hashable {
    case null
    case string(String)
    case array([ConfigInput])
    /// Any other JSON value; `kind` names it in messages (`a number`, `a boolean`, `an object`).
    case other(kind: String)
}

/// Reads the `values` and `clear` of a `providers.config.set` into changes,
/// or the issues that make it impossible to store.
///
/// Only what can never be stored is refused here: an unknown key, a key both
/// set and cleared, a value of the wrong shape, an artifact reference that is
/// not an artifact id. Whether referenced artifacts exist is the store's
/// check (in its transaction); whether the configuration is complete and
/// consistent is ``Readiness``'s.
public enum ConfigurationChange {
    /// The result: changes by field key, or the issues, in the order the keys were given.
    public typealias Outcome = Result<[String: FieldChange], Refusal>

    /// The issues of a refused change.
    public struct Refusal: Error, Sendable, Hashable {
        public let issues: [ReadinessReport.Issue]
    }

    /// Reads `values` (in their given order) and `clear` against `definition`.
    ///
    /// Empty values clear a field: an empty `scalar` string, and a list with no
    /// items (after a string holding a list is split). `list<string>` accepts a
    /// JSON array of strings, or one string holding a JSON array or
    /// newline-separated items. Artifact ids are answered in lowercase
    /// canonical form.
    public static func parse(
        definition: ProviderDefinition, values: [(key: String, value: ConfigInput)], clear: [String]
    ) -> Outcome {
        var changes: [String: FieldChange] = [:]
        var issues: [ReadinessReport.Issue] = []
        func refuse(_ key: String, _ message: String) {
            issues.append(.init(field: key, subCode: .invalidValue, message: message))
        }
        let clearing = Set(clear)
        for (key, input) in values {
            guard let field = definition.field(key) else {
                refuse(key, "\(definition.providerId) has no field \"\(key)\"")
                continue
            }
            guard changes[key] == nil else {
                refuse(key, "\(key) is given twice")
                continue
            }
            if clearing.contains(key) {
                refuse(key, "\(key) is both set and cleared")
                continue
            }
            switch read(input, as: field) {
            case .success(let change): changes[key] = change
            case .failure(let message): refuse(key, message.text)
            }
        }
        for key in clear {
            guard definition.field(key) != nil else {
                refuse(key, "\(definition.providerId) has no field \"\(key)\"")
                continue
            }
            if changes[key] == nil { changes[key] = .clear }
        }
        return issues.isEmpty ? .success(changes) : .failure(Refusal(issues: issues))
    }

    /// Why a value does not fit its field.
    struct Misfit: Error {
        let text: String
    }

    static func read(_ input: ConfigInput, as field: ProviderField) -> Result<FieldChange, Misfit> {
        if input == .null { return .success(.clear) }
        let key = field.key
        switch field.shape {
        case .scalar:
            guard case .string(let text) = input else {
                return .failure(Misfit(text: "\(key) takes a string, not \(input.kind)"))
            }
            return .success(text.isEmpty ? .clear : .set(.scalar(text)))
        case .listOfStrings:
            let items: [String]?
            switch input {
            case .string(let text): items = ListValue.parse(text: text)
            case .array(let elements): items = strings(elements)
            default: items = nil
            }
            guard let items else {
                return .failure(
                    Misfit(text: "\(key) takes an array of strings, or a string holding a JSON array or lines"))
            }
            return .success(items.isEmpty ? .clear : .set(.list(items)))
        case .artifactRef:
            guard case .string(let text) = input else {
                return .failure(Misfit(text: "\(key) takes an artifact id string, not \(input.kind)"))
            }
            guard let id = canonicalArtifactId(text) else {
                return .failure(Misfit(text: "\(key): \"\(text)\" is not an artifact id"))
            }
            return .success(.set(.artifactRef(id)))
        case .listOfArtifactRefs:
            guard case .array(let elements) = input, let texts = strings(elements) else {
                return .failure(Misfit(text: "\(key) takes an array of artifact id strings"))
            }
            var ids: [String] = []
            for text in texts {
                guard let id = canonicalArtifactId(text) else {
                    return .failure(Misfit(text: "\(key): \"\(text)\" is not an artifact id"))
                }
                ids.append(id)
            }
            return .success(ids.isEmpty ? .clear : .set(.artifactRefs(ids)))
        }
    }

    static func strings(_ elements: [ConfigInput]) -> [String]? {
        var items: [String] = []
        for element in elements {
            guard case .string(let item) = element else { return nil }
            items.append(item)
        }
        return items
    }

    /// The lowercase canonical form of a UUID, or `nil` when `text` is not one.
    public static func canonicalArtifactId(_ text: String) -> String? {
        guard text.utf8.count == 36, let uuid = UUID(uuidString: text) else { return nil }
        return uuid.uuidString.lowercased()
    }
}

extension ConfigInput {
    /// What kind of JSON value this is, for messages.
    public var kind: String {
        switch self {
        case .null: "null"
        case .string: "a string"
        case .array: "an array"
        case .other(let kind): kind
        }
    }
}
