/// A precise reason a provider is not ready, carried inside the readiness envelope.
///
/// Each sub-code is either a *missing* one (a value that must be set is unset)
/// or an *invalid* one (a value is wrong); the kind decides the envelope code.
public struct ReadinessSubCode: Sendable, Hashable, CustomStringConvertible {
    /// The wire name, e.g. `PROVIDER_CONFIG_MISSING_COSIGN_KEY`.
    public let name: String
    /// Whether this sub-code reports a missing value rather than a wrong one.
    public let isMissing: Bool

    private init(_ name: String, missing: Bool) {
        self.name = name
        self.isMissing = missing
    }

    /// The wire name.
    public var description: String { name }

    /// A required field of a data-defined provider is unset.
    public static let missingField = Self("PROVIDER_CONFIG_MISSING_FIELD", missing: true)
    /// imageSubscriptions is unset or empty.
    public static let missingImageSubscriptions = Self("PROVIDER_CONFIG_MISSING_IMAGE_SUBSCRIPTIONS", missing: true)
    /// Keyless mode without cosignIssuer.
    public static let missingCosignIssuer = Self("PROVIDER_CONFIG_MISSING_COSIGN_ISSUER", missing: true)
    /// Keyless mode without cosignSubject.
    public static let missingCosignSubject = Self("PROVIDER_CONFIG_MISSING_COSIGN_SUBJECT", missing: true)
    /// Keypair mode without cosignKey.
    public static let missingCosignKey = Self("PROVIDER_CONFIG_MISSING_COSIGN_KEY", missing: true)
    /// Keyless offline mode without tufRoot.
    public static let missingTufRoot = Self("PROVIDER_CONFIG_MISSING_TUF_ROOT", missing: true)
    /// An imageSubscriptions entry is not a valid OCI reference.
    public static let invalidImageReference = Self("PROVIDER_CONFIG_INVALID_IMAGE_REFERENCE", missing: false)
    /// cosignMode is neither keyless nor keypair.
    public static let invalidCosignMode = Self("PROVIDER_CONFIG_INVALID_COSIGN_MODE", missing: false)
    /// An http:// registryEndpoint while allowHttpRegistry is not `true`.
    public static let httpRegistryBlocked = Self("PROVIDER_CONFIG_HTTP_REGISTRY_BLOCKED", missing: false)
    /// A value outside its allowed values or otherwise malformed.
    public static let invalidValue = Self("PROVIDER_CONFIG_INVALID_VALUE", missing: false)
    /// A referenced artifact is gone.
    public static let artifactNotFound = Self("PROVIDER_CONFIG_ARTIFACT_NOT_FOUND", missing: false)
    /// A referenced artifact fails verification.
    public static let artifactCorrupt = Self("PROVIDER_CONFIG_ARTIFACT_CORRUPT", missing: false)
}
