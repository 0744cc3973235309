/// The provider definitions Cairn knows, built-in first.
///
/// The catalog only holds definitions; loading `providers.d/` files is the
/// caller's job (parse each with ``ProviderDefinition/parse(_:)`` and pass them in).
public struct ProviderCatalog: Sendable {
    /// The definitions in listing order; provider ids are unique.
    public let definitions: [ProviderDefinition]

    /// Creates a catalog of the built-in definitions followed by `additional` ones.
    ///
    /// An additional definition whose providerId is already taken is skipped.
    ///
    /// - Parameter additional: Data-defined providers, e.g. parsed from `providers.d/`.
    public init(additional: [ProviderDefinition] = []) {
        var seen: Set<String> = []
        definitions = (Self.builtIn + additional).filter { seen.insert($0.providerId).inserted }
    }

    /// Returns the definition with the given providerId, or `nil` (UNKNOWN_PROVIDER).
    public func definition(_ providerId: String) -> ProviderDefinition? {
        definitions.first { $0.providerId == providerId }
    }

    /// The definitions compiled into Cairn.
    public static let builtIn: [ProviderDefinition] = [ociOpenVEX]

    /// The providerId of the built-in OCI OpenVEX connector.
    public static let ociOpenVEXProviderId = "excititor:oci-openvex"

    /// The built-in `excititor:oci-openvex` connector: OpenVEX attestations on OCI images, verified with cosign.
    public static let ociOpenVEX = ProviderDefinition(
        providerId: ociOpenVEXProviderId,
        displayName: "OCI OpenVEX attestations",
        fields: [
            ProviderField(
                key: "imageSubscriptions", shape: .listOfStrings, required: true,
                description: "OCI image references (name[:tag][@digest]) whose attestations are followed."),
            ProviderField(
                key: "cosignMode", shape: .scalar,
                description: "How signatures are verified: keyless (Fulcio certificate) or keypair (public key).",
                allowedValues: ["keyless", "keypair"]),
            ProviderField(
                key: "cosignIssuer", shape: .scalar,
                description: "HTTPS URL of the OIDC issuer the signing certificate must name (keyless mode)."),
            ProviderField(
                key: "cosignSubject", shape: .scalar,
                description: "Identity (e-mail or URI) the signing certificate must carry (keyless mode)."),
            ProviderField(
                key: "cosignKey", shape: .artifactRef,
                description: "Artifact holding the PEM public key that signed the attestations (keypair mode)."),
            ProviderField(
                key: "offline", shape: .scalar,
                description: "Whether verification runs without network access.",
                allowedValues: ["true", "false"]),
            ProviderField(
                key: "tufRoot", shape: .artifactRef,
                description: "Artifact holding the Sigstore trusted root JSON (needed for keyless offline runs)."),
            ProviderField(
                key: "offlineBundle", shape: .artifactRef,
                description: "Artifact holding a pre-fetched attestation bundle for offline runs."),
            ProviderField(
                key: "registryEndpoint", shape: .scalar,
                description: "Base URL of the registry to pull from, starting with https:// or http://."),
            ProviderField(
                key: "allowHttpRegistry", shape: .scalar,
                description: "Set to true to permit a plain http:// registry endpoint.",
                allowedValues: ["true", "false"]),
            ProviderField(
                key: "registryUsername", shape: .scalar,
                description: "User name for a private registry."),
            ProviderField(
                key: "registryPassword", shape: .scalar, secret: true,
                description: "Password or token for a private registry; never shown again once set."),
            ProviderField(
                key: "registryCaCertificates", shape: .listOfArtifactRefs,
                description: "Artifacts holding PEM CA bundles that a private registry's certificate chains to."),
        ])
}
