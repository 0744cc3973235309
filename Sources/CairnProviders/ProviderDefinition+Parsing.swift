import Foundation

extension ProviderDefinition {
    /// Parses a `providers.d/` file: one JSON object shaped like a `providers.list` entry.
    ///
    /// `providerId`, `displayName` and `fields` are required; each field needs
    /// `key` and `shape`, while `required` and `secret` default to `false`,
    /// `description` to `""` and `allowedValues` to none. Unknown members are
    /// refused so that misspellings surface. It reads no files itself.
    ///
    /// - Parameter bytes: The file's contents.
    /// - Throws: ``ProviderDefinitionError`` naming the first problem found.
    public static func parse(_ bytes: some Collection<UInt8>) throws(ProviderDefinitionError) -> ProviderDefinition {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw ProviderDefinitionError(.invalidJSON, "the provider definition is not valid JSON")
        }
        guard let root = object as? [String: Any] else {
            throw ProviderDefinitionError(.notAnObject, "the provider definition must be a JSON object")
        }
        try checkMembers(root, allowed: ["providerId", "displayName", "fields"], at: "the provider definition")
        let providerId = try string(root, "providerId", at: "the provider definition")
        guard isValidProviderId(providerId) else {
            throw ProviderDefinitionError(
                .invalidProviderId, "providerId \"\(providerId)\" does not match ^[a-z0-9][a-z0-9._:-]{0,127}$")
        }
        let displayName = try string(root, "displayName", at: "the provider definition")
        guard !displayName.isEmpty else {
            throw ProviderDefinitionError(.invalidDisplayName, "displayName must not be empty")
        }
        guard let rawFields = root["fields"] else {
            throw ProviderDefinitionError(.missingMember, "the provider definition has no \"fields\"")
        }
        guard let entries = rawFields as? [Any] else {
            throw ProviderDefinitionError(.wrongType, "\"fields\" must be an array")
        }
        var fields: [ProviderField] = []
        var seen: Set<String> = []
        for (index, entry) in entries.enumerated() {
            let field = try parseField(entry, index: index)
            guard seen.insert(field.key).inserted else {
                throw ProviderDefinitionError(.duplicateKey, "fields[\(index)]: key \"\(field.key)\" is declared twice")
            }
            fields.append(field)
        }
        return ProviderDefinition(providerId: providerId, displayName: displayName, fields: fields)
    }

    private static func parseField(_ entry: Any, index: Int) throws(ProviderDefinitionError) -> ProviderField {
        let place = "fields[\(index)]"
        guard let object = entry as? [String: Any] else {
            throw ProviderDefinitionError(.notAnObject, "\(place) must be a JSON object")
        }
        try checkMembers(
            object, allowed: ["key", "shape", "required", "secret", "description", "allowedValues"], at: place)
        let key = try string(object, "key", at: place)
        guard !key.isEmpty else { throw ProviderDefinitionError(.invalidKey, "\(place): key must not be empty") }
        let shapeName = try string(object, "shape", at: place)
        guard let shape = FieldShape(rawValue: shapeName) else {
            throw ProviderDefinitionError(
                .unknownShape,
                "\(place) (\(key)): unknown shape \"\(shapeName)\"; expected scalar, list<string>, artifactRef or list<artifactRef>"
            )
        }
        let required = try bool(object, "required", at: place)
        let secret = try bool(object, "secret", at: place)
        var description = ""
        if let raw = object["description"], !(raw is NSNull) {
            guard let text = raw as? String else {
                throw ProviderDefinitionError(.wrongType, "\(place): \"description\" must be a string")
            }
            description = text
        }
        var allowedValues: [String]?
        if let raw = object["allowedValues"], !(raw is NSNull) {
            guard let array = raw as? [Any], let values = array as? [String], values.count == array.count else {
                throw ProviderDefinitionError(.wrongType, "\(place): \"allowedValues\" must be an array of strings")
            }
            guard !values.isEmpty else {
                throw ProviderDefinitionError(.invalidAllowedValues, "\(place) (\(key)): allowedValues is empty")
            }
            guard Set(values).count == values.count else {
                throw ProviderDefinitionError(.invalidAllowedValues, "\(place) (\(key)): allowedValues repeats a value")
            }
            guard !shape.referencesArtifacts else {
                throw ProviderDefinitionError(
                    .invalidAllowedValues, "\(place) (\(key)): allowedValues cannot apply to shape \(shape.rawValue)")
            }
            allowedValues = values
        }
        return ProviderField(
            key: key, shape: shape, required: required, secret: secret, description: description,
            allowedValues: allowedValues)
    }

    private static func checkMembers(_ object: [String: Any], allowed: Set<String>, at place: String)
        throws(ProviderDefinitionError)
    {
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ProviderDefinitionError(.unknownMember, "\(place) has an unknown member \"\(unknown)\"")
        }
    }

    private static func string(_ object: [String: Any], _ name: String, at place: String)
        throws(ProviderDefinitionError) -> String
    {
        guard let raw = object[name], !(raw is NSNull) else {
            throw ProviderDefinitionError(.missingMember, "\(place) has no \"\(name)\"")
        }
        guard let value = raw as? String else {
            throw ProviderDefinitionError(.wrongType, "\(place): \"\(name)\" must be a string")
        }
        return value
    }

    private static func bool(_ object: [String: Any], _ name: String, at place: String)
        throws(ProviderDefinitionError) -> Bool
    {
        guard let raw = object[name], !(raw is NSNull) else { return false }
        // JSON true/false arrive as boolean NSNumbers (objCType "c"); 0 and 1 must not pass as booleans.
        guard let number = raw as? NSNumber, String(cString: number.objCType) == "c" else {
            throw ProviderDefinitionError(.wrongType, "\(place): \"\(name)\" must be true or false")
        }
        return number.boolValue
    }
}
