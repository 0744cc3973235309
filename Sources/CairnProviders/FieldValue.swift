/// A stored configuration value, already read into its shape.
public enum FieldValue: Sendable, Hashable {
    /// A `scalar` value.
    case scalar(String)
    /// A `list<string>` value.
    case list([String])
    /// An `artifactRef` value: one artifact id.
    case artifactRef(String)
    /// A `list<artifactRef>` value: artifact ids.
    case artifactRefs([String])

    /// The shape this value has.
    public var shape: FieldShape {
        switch self {
        case .scalar: .scalar
        case .list: .listOfStrings
        case .artifactRef: .artifactRef
        case .artifactRefs: .listOfArtifactRefs
        }
    }

    /// The artifact ids this value references (empty for strings).
    public var artifactIds: [String] {
        switch self {
        case .artifactRef(let id): [id]
        case .artifactRefs(let ids): ids
        case .scalar, .list: []
        }
    }
}

/// What the store found for a referenced artifact.
public enum ArtifactState: Sendable, Hashable {
    /// The artifact exists and its bytes verify.
    case present
    /// The artifact is gone.
    case missing
    /// The artifact exists but its bytes fail verification.
    case corrupt
}
