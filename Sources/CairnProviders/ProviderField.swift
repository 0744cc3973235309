/// One configurable field of a provider, as listed by `providers.list`.
///
/// A field declares its key, shape and the generic rules readiness applies to
/// it (required, allowed values). Provider-specific rules live in ``Readiness``.
public struct ProviderField: Sendable, Hashable {
    /// The configuration key, unique within its provider.
    public var key: String
    /// The shape a value of this field must have.
    public var shape: FieldShape
    /// Whether readiness reports the field as missing when it is unset.
    public var required: Bool
    /// Whether the value is never echoed back (snapshots show `{"set": true}`).
    public var secret: Bool
    /// A human-readable explanation of the field.
    public var description: String
    /// The only values a scalar (or each list item) may take, or `nil` for any value.
    public var allowedValues: [String]?

    /// Creates a field declaration.
    ///
    /// - Parameters:
    ///   - key: The configuration key.
    ///   - shape: The value shape.
    ///   - required: Whether an unset value blocks readiness as missing.
    ///   - secret: Whether the value is hidden in snapshots.
    ///   - description: A human-readable explanation.
    ///   - allowedValues: The closed set of permitted values, if any.
    public init(
        key: String, shape: FieldShape, required: Bool = false, secret: Bool = false, description: String,
        allowedValues: [String]? = nil
    ) {
        self.key = key
        self.shape = shape
        self.required = required
        self.secret = secret
        self.description = description
        self.allowedValues = allowedValues
    }
}
