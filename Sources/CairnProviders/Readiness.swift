/// Decides whether a provider configuration can run, as a pure function of its values.
///
/// Readiness never touches the store: the caller looks up each referenced
/// artifact and passes what it found in `artifactStates`. Every provider gets
/// the generic rules (shape, referenced artifacts, and for data-defined
/// providers required fields and allowed values); the built-in
/// `excititor:oci-openvex` provider gets its own sub-codes instead of the
/// generic required/allowed-value ones. Keys the definition does not declare
/// are ignored, since `providers.config.set` never stores them.
public enum Readiness {
    /// Evaluates a configuration against its provider definition.
    ///
    /// - Parameters:
    ///   - definition: The provider's definition.
    ///   - values: The stored values by field key; an absent key, an empty string or an empty list is unset.
    ///   - artifactStates: What the store found for each referenced artifact id; an id absent here counts as missing.
    /// - Returns: The report, with issues in the definition's field order.
    public static func evaluate(
        definition: ProviderDefinition, values: [String: FieldValue], artifactStates: [String: ArtifactState]
    ) -> ReadinessReport {
        var check = Check(definition: definition, values: values)
        check.applyShapeAndArtifactRules(artifactStates: artifactStates)
        if definition.providerId == ProviderCatalog.ociOpenVEXProviderId {
            check.applyOCIOpenVEXRules()
        } else {
            check.applyGenericRules()
        }
        return ReadinessReport(issues: check.orderedIssues())
    }
}

/// The working state of one evaluation: the inputs and the issues found per field.
private struct Check {
    let definition: ProviderDefinition
    let values: [String: FieldValue]
    var issuesByField: [String: [ReadinessReport.Issue]] = [:]
    var wrongShape: Set<String> = []

    init(definition: ProviderDefinition, values: [String: FieldValue]) {
        self.definition = definition
        self.values = values
    }

    mutating func report(_ field: String, _ subCode: ReadinessSubCode, _ message: String) {
        issuesByField[field, default: []].append(
            ReadinessReport.Issue(field: field, subCode: subCode, message: message))
    }

    func orderedIssues() -> [ReadinessReport.Issue] {
        definition.fields.flatMap { issuesByField[$0.key] ?? [] }
    }

    /// Whether a field is absent or empty; a value of the wrong shape counts as set (it is reported on its own).
    func isUnset(_ key: String) -> Bool {
        switch values[key] {
        case nil: true
        case .scalar(let text)?: text.isEmpty
        case .list(let items)?: items.isEmpty
        case .artifactRef(let id)?: id.isEmpty
        case .artifactRefs(let ids)?: ids.isEmpty
        }
    }

    /// The scalar value of a field, or `nil` when unset or not a scalar.
    func scalar(_ key: String) -> String? {
        guard case .scalar(let text)? = values[key], !text.isEmpty else { return nil }
        return text
    }

    mutating func applyShapeAndArtifactRules(artifactStates: [String: ArtifactState]) {
        for field in definition.fields {
            guard let value = values[field.key] else { continue }
            guard value.shape == field.shape else {
                wrongShape.insert(field.key)
                report(
                    field.key, .invalidValue,
                    "\(field.key) holds a \(value.shape.rawValue) value but expects \(field.shape.rawValue)")
                continue
            }
            for id in value.artifactIds {
                switch artifactStates[id] ?? .missing {
                case .present:
                    break
                case .missing:
                    report(field.key, .artifactNotFound, "\(field.key) references artifact \(id), which is gone")
                case .corrupt:
                    report(
                        field.key, .artifactCorrupt, "\(field.key) references artifact \(id), which fails verification")
                }
            }
        }
    }

    mutating func applyGenericRules() {
        for field in definition.fields where !wrongShape.contains(field.key) {
            if field.required, isUnset(field.key) {
                report(field.key, .missingField, "\(field.key) is required but not set")
                continue
            }
            guard let allowed = field.allowedValues else { continue }
            let items: [String] =
                switch values[field.key] {
                case .scalar(let text)?: text.isEmpty ? [] : [text]
                case .list(let list)?: list
                default: []
                }
            for item in items where !allowed.contains(item) {
                // A secret value is never repeated back, not even in a message.
                let shown = field.secret ? "set to a value that is not allowed" : "\"\(item)\""
                report(
                    field.key, .invalidValue,
                    "\(field.key) is \(shown) but must be one of \(allowed.joined(separator: ", "))")
            }
        }
    }

    /// Reads a `true`/`false` scalar with a default, reporting anything else as INVALID_VALUE (read as `false`).
    mutating func boolean(_ key: String, default fallback: Bool) -> Bool {
        guard !wrongShape.contains(key), let text = scalar(key) else { return fallback }
        switch text {
        case "true": return true
        case "false": return false
        default:
            report(key, .invalidValue, "\(key) is \"\(text)\" but must be true or false")
            return false
        }
    }

    mutating func applyOCIOpenVEXRules() {
        if isUnset("imageSubscriptions") {
            report(
                "imageSubscriptions", .missingImageSubscriptions, "imageSubscriptions must list at least one image")
        } else if case .list(let images)? = values["imageSubscriptions"] {
            for image in images where OCIReference.parse(image) == nil {
                report(
                    "imageSubscriptions", .invalidImageReference, "\"\(image)\" is not a valid OCI image reference")
            }
        }

        var mode: String? = "keyless"
        if !wrongShape.contains("cosignMode"), let text = scalar("cosignMode") {
            if text == "keyless" || text == "keypair" {
                mode = text
            } else {
                mode = nil
                report("cosignMode", .invalidCosignMode, "cosignMode is \"\(text)\" but must be keyless or keypair")
            }
        }
        let offline = boolean("offline", default: false)
        let allowHttp = boolean("allowHttpRegistry", default: false)

        if mode == "keyless" {
            if isUnset("cosignIssuer") {
                report("cosignIssuer", .missingCosignIssuer, "keyless verification needs cosignIssuer")
            }
            if isUnset("cosignSubject") {
                report("cosignSubject", .missingCosignSubject, "keyless verification needs cosignSubject")
            }
            if offline, isUnset("tufRoot") {
                report("tufRoot", .missingTufRoot, "keyless verification offline needs a tufRoot artifact")
            }
        } else if mode == "keypair", isUnset("cosignKey") {
            report("cosignKey", .missingCosignKey, "keypair verification needs a cosignKey artifact")
        }
        if let issuer = scalar("cosignIssuer"), !URLCheck.hasHost(issuer, scheme: "https") {
            report("cosignIssuer", .invalidValue, "cosignIssuer \"\(issuer)\" is not an https:// URL")
        }

        if let endpoint = scalar("registryEndpoint") {
            if URLCheck.hasHost(endpoint, scheme: "https") {
                // Always allowed.
            } else if URLCheck.hasHost(endpoint, scheme: "http") {
                if !allowHttp {
                    report(
                        "registryEndpoint", .httpRegistryBlocked,
                        "registryEndpoint \"\(endpoint)\" is plain http; set allowHttpRegistry to true to permit it")
                }
            } else {
                report(
                    "registryEndpoint", .invalidValue,
                    "registryEndpoint \"\(endpoint)\" must start with https:// or http:// and name a host")
            }
        }
    }
}

/// Minimal URL checks that need no Foundation.
private enum URLCheck {
    /// Whether `text` is `<scheme>://host…` (scheme case-insensitive) with a non-empty host and no whitespace.
    static func hasHost(_ text: String, scheme: String) -> Bool {
        let prefix = scheme + "://"
        guard text.lowercased().hasPrefix(prefix), !text.contains(where: \.isWhitespace) else { return false }
        let rest = text.dropFirst(prefix.count)
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return !host.isEmpty && !host.hasPrefix(":") && !host.hasPrefix("@")
    }
}
