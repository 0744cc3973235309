/// A provider's identity and the fields it can be configured with.
///
/// A definition is plain data: the built-in ones come from ``ProviderCatalog``,
/// others are parsed from `providers.d/` files with ``parse(_:)``.
public struct ProviderDefinition: Sendable, Hashable {
    /// The provider id, matching `^[a-z0-9][a-z0-9._:-]{0,127}$`.
    public var providerId: String
    /// The name shown to people.
    public var displayName: String
    /// The fields in display order; keys are unique.
    public var fields: [ProviderField]

    /// Creates a definition without validating it (built-in definitions are trusted).
    ///
    /// - Parameters:
    ///   - providerId: The provider id.
    ///   - displayName: The name shown to people.
    ///   - fields: The fields in display order.
    public init(providerId: String, displayName: String, fields: [ProviderField]) {
        self.providerId = providerId
        self.displayName = displayName
        self.fields = fields
    }

    /// Returns the field with the given key, if the provider declares one.
    public func field(_ key: String) -> ProviderField? {
        fields.first { $0.key == key }
    }

    /// Whether a string is a valid provider id: `^[a-z0-9][a-z0-9._:-]{0,127}$`.
    public static func isValidProviderId(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        guard alnum(first) else { return false }
        return bytes.dropFirst().allSatisfy { alnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x3A || $0 == 0x2D }
    }
}
