/// The shape of a provider configuration value, as named on the wire.
///
/// A shape says how a value is written in `providers.config.set` and how it is
/// checked; it says nothing about what the value means to the provider.
public enum FieldShape: String, Sendable, Hashable, CaseIterable {
    /// A single string (booleans and enumerations are strings such as `"true"`).
    case scalar
    /// A list of strings: a JSON array, or one string holding a JSON array or newline-separated items.
    case listOfStrings = "list<string>"
    /// The id of one artifact staged for the same tenant and provider.
    case artifactRef
    /// A list of artifact ids staged for the same tenant and provider.
    case listOfArtifactRefs = "list<artifactRef>"

    /// Whether values of this shape point at artifacts in the store.
    public var referencesArtifacts: Bool {
        self == .artifactRef || self == .listOfArtifactRefs
    }
}
