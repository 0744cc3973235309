import CairnProviders
import Testing

@Suite struct ReadinessTests {
    let oci = ProviderCatalog.ociOpenVEX
    let image = FieldValue.list(["ghcr.io/org/img:1.0"])

    func evaluate(
        _ values: [String: FieldValue], artifacts: [String: ArtifactState] = [:],
        definition: ProviderDefinition = ProviderCatalog.ociOpenVEX
    ) -> ReadinessReport {
        Readiness.evaluate(definition: definition, values: values, artifactStates: artifacts)
    }

    func keyless(_ extra: [String: FieldValue] = [:]) -> [String: FieldValue] {
        [
            "imageSubscriptions": image, "cosignIssuer": .scalar("https://token.actions.githubusercontent.com"),
            "cosignSubject": .scalar("https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"),
        ].merging(extra) { $1 }
    }

    func names(_ report: ReadinessReport) -> [String] { report.subCodes.map(\.name) }

    @Test func keylessSetupIsReady() {
        let report = evaluate(keyless())
        #expect(report.ready)
        #expect(report.state == "ready")
        #expect(report.code == nil)
        #expect(report.subCodes.isEmpty && report.issues.isEmpty)
    }

    @Test func keypairSetupIsReady() {
        let report = evaluate(
            ["imageSubscriptions": image, "cosignMode": .scalar("keypair"), "cosignKey": .artifactRef("k")],
            artifacts: ["k": .present])
        #expect(report.ready)
    }

    @Test func tufOfflineSetupIsReady() {
        let report = evaluate(
            keyless([
                "offline": .scalar("true"), "tufRoot": .artifactRef("t"), "offlineBundle": .artifactRef("b"),
            ]), artifacts: ["t": .present, "b": .present])
        #expect(report.ready)
    }

    @Test func privateRegistrySetupIsReady() {
        let https = evaluate(
            keyless([
                "registryEndpoint": .scalar("https://registry.internal:5000"),
                "registryUsername": .scalar("bot"), "registryPassword": .scalar("s3cret"),
                "registryCaCertificates": .artifactRefs(["c1", "c2"]),
            ]), artifacts: ["c1": .present, "c2": .present])
        #expect(https.ready)
        let http = evaluate(
            keyless(["registryEndpoint": .scalar("http://10.0.0.1:5000"), "allowHttpRegistry": .scalar("true")]))
        #expect(http.ready)
    }

    @Test func emptyConfigurationNeedsImagesIssuerAndSubject() {
        let report = evaluate([:])
        #expect(!report.ready)
        #expect(report.state == "blocked")
        #expect(report.code == .configRequired)
        #expect(
            names(report) == [
                "PROVIDER_CONFIG_MISSING_IMAGE_SUBSCRIPTIONS", "PROVIDER_CONFIG_MISSING_COSIGN_ISSUER",
                "PROVIDER_CONFIG_MISSING_COSIGN_SUBJECT",
            ])
        #expect(report.issues.map(\.field) == ["imageSubscriptions", "cosignIssuer", "cosignSubject"])
    }

    @Test func emptyListOrStringCountsAsMissing() {
        #expect(
            names(evaluate(keyless(["imageSubscriptions": .list([])]))) == [
                "PROVIDER_CONFIG_MISSING_IMAGE_SUBSCRIPTIONS"
            ])
        #expect(names(evaluate(keyless(["cosignSubject": .scalar("")]))) == ["PROVIDER_CONFIG_MISSING_COSIGN_SUBJECT"])
    }

    @Test func invalidImageReferenceIsReportedPerEntry() {
        let report = evaluate(keyless(["imageSubscriptions": .list(["ghcr.io/org/img", "Bad/Image", "x:-y"])]))
        #expect(report.code == .configInvalid)
        #expect(names(report) == ["PROVIDER_CONFIG_INVALID_IMAGE_REFERENCE"])
        #expect(report.issues.count == 2)
        #expect(report.issues[0].message.contains("Bad/Image"))
    }

    @Test func invalidCosignModeSkipsModeRules() {
        let report = evaluate(["imageSubscriptions": image, "cosignMode": .scalar("sometimes")])
        #expect(report.code == .configInvalid)
        #expect(names(report) == ["PROVIDER_CONFIG_INVALID_COSIGN_MODE"])
        #expect(report.issues.first?.field == "cosignMode")
    }

    @Test func keypairWithoutKey() {
        let report = evaluate(["imageSubscriptions": image, "cosignMode": .scalar("keypair")])
        #expect(report.code == .configRequired)
        #expect(names(report) == ["PROVIDER_CONFIG_MISSING_COSIGN_KEY"])
    }

    @Test func keylessOfflineWithoutTufRoot() {
        let report = evaluate(keyless(["offline": .scalar("true")]))
        #expect(report.code == .configRequired)
        #expect(names(report) == ["PROVIDER_CONFIG_MISSING_TUF_ROOT"])
        #expect(evaluate(keyless(["offline": .scalar("false")])).ready)
    }

    @Test func keypairOfflineNeedsNoTufRoot() {
        let report = evaluate(
            [
                "imageSubscriptions": image, "cosignMode": .scalar("keypair"), "cosignKey": .artifactRef("k"),
                "offline": .scalar("true"),
            ], artifacts: ["k": .present])
        #expect(report.ready)
    }

    @Test func httpRegistryIsBlockedUnlessAllowed() {
        for allow in [nil, "false", "maybe"] {
            var values = keyless(["registryEndpoint": .scalar("http://registry.local")])
            if let allow { values["allowHttpRegistry"] = .scalar(allow) }
            let report = evaluate(values)
            #expect(report.code == .configInvalid)
            #expect(report.subCodes.contains(.httpRegistryBlocked), "allowHttpRegistry=\(String(describing: allow))")
        }
    }

    @Test(arguments: ["ftp://registry", "registry.example.com", "https://", "http://", "https:// x"])
    func registryEndpointMustBeAnHTTPURL(_ endpoint: String) {
        let report = evaluate(keyless(["registryEndpoint": .scalar(endpoint), "allowHttpRegistry": .scalar("true")]))
        #expect(names(report) == ["PROVIDER_CONFIG_INVALID_VALUE"])
        #expect(report.issues.map(\.field) == ["registryEndpoint"])
    }

    @Test(arguments: ["http://issuer.example", "issuer.example", "https://", "ftp://x"])
    func issuerMustBeHTTPS(_ issuer: String) {
        let report = evaluate(keyless(["cosignIssuer": .scalar(issuer)]))
        #expect(report.code == .configInvalid)
        #expect(names(report) == ["PROVIDER_CONFIG_INVALID_VALUE"])
        #expect(report.issues.map(\.field) == ["cosignIssuer"])
    }

    @Test func booleanScalarsOutsideTrueFalseAreInvalid() {
        let report = evaluate(keyless(["offline": .scalar("maybe"), "allowHttpRegistry": .scalar("yes")]))
        #expect(names(report) == ["PROVIDER_CONFIG_INVALID_VALUE"])
        #expect(report.issues.map(\.field) == ["offline", "allowHttpRegistry"])
    }

    @Test func missingAndCorruptArtifacts() {
        let report = evaluate(
            keyless([
                "offlineBundle": .artifactRef("gone"),
                "registryCaCertificates": .artifactRefs(["ok", "bad", "unknown"]),
            ]), artifacts: ["gone": .missing, "ok": .present, "bad": .corrupt])
        #expect(report.code == .configInvalid)
        #expect(names(report) == ["PROVIDER_CONFIG_ARTIFACT_NOT_FOUND", "PROVIDER_CONFIG_ARTIFACT_CORRUPT"])
        #expect(report.issues.map(\.field) == ["offlineBundle", "registryCaCertificates", "registryCaCertificates"])
        #expect(report.issues.last?.message.contains("unknown") == true)
    }

    @Test func cosignKeyThatIsGoneBlocksKeypair() {
        let report = evaluate(
            ["imageSubscriptions": image, "cosignMode": .scalar("keypair"), "cosignKey": .artifactRef("k")],
            artifacts: ["k": .missing])
        #expect(names(report) == ["PROVIDER_CONFIG_ARTIFACT_NOT_FOUND"])
    }

    @Test func wrongShapeIsInvalidValue() {
        let report = evaluate(keyless(["imageSubscriptions": .scalar("ghcr.io/a/b"), "cosignKey": .list(["x"])]))
        #expect(names(report) == ["PROVIDER_CONFIG_INVALID_VALUE"])
        #expect(report.issues.map(\.field) == ["imageSubscriptions", "cosignKey"])
    }

    @Test func envelopeIsInvalidWhenAnyIssueIsInvalid() {
        let report = evaluate(["cosignMode": .scalar("keyless"), "offline": .scalar("maybe")])
        #expect(report.code == .configInvalid)
        #expect(
            names(report) == [
                "PROVIDER_CONFIG_MISSING_IMAGE_SUBSCRIPTIONS", "PROVIDER_CONFIG_MISSING_COSIGN_ISSUER",
                "PROVIDER_CONFIG_MISSING_COSIGN_SUBJECT", "PROVIDER_CONFIG_INVALID_VALUE",
            ])
    }

    @Test func subCodesAreUniqueInFirstSeenOrder() {
        let report = evaluate(
            keyless(["imageSubscriptions": .list(["A", "B"]), "registryCaCertificates": .artifactRefs(["x", "y"])]))
        #expect(names(report) == ["PROVIDER_CONFIG_INVALID_IMAGE_REFERENCE", "PROVIDER_CONFIG_ARTIFACT_NOT_FOUND"])
        #expect(report.issues.count == 4)
    }

    @Test func unknownKeysAreIgnored() {
        #expect(evaluate(keyless(["nonsense": .scalar("x")])).ready)
    }

    // MARK: Data-defined providers

    let custom = ProviderDefinition(
        providerId: "acme:feed", displayName: "Acme",
        fields: [
            ProviderField(key: "url", shape: .scalar, required: true, description: "Feed URL"),
            ProviderField(key: "level", shape: .scalar, description: "Level", allowedValues: ["low", "high"]),
            ProviderField(key: "tags", shape: .listOfStrings, description: "Tags", allowedValues: ["a", "b"]),
            ProviderField(key: "roots", shape: .listOfArtifactRefs, required: true, description: "Roots"),
        ])

    @Test func genericRequiredFieldsAreMissingField() {
        let report = evaluate([:], definition: custom)
        #expect(report.code == .configRequired)
        #expect(names(report) == ["PROVIDER_CONFIG_MISSING_FIELD"])
        #expect(report.issues.map(\.field) == ["url", "roots"])
    }

    @Test func genericAllowedValues() {
        let report = evaluate(
            [
                "url": .scalar("u"), "level": .scalar("medium"), "tags": .list(["a", "c"]),
                "roots": .artifactRefs(["r"]),
            ], artifacts: ["r": .present], definition: custom)
        #expect(report.code == .configInvalid)
        #expect(names(report) == ["PROVIDER_CONFIG_INVALID_VALUE"])
        #expect(report.issues.map(\.field) == ["level", "tags"])
    }

    @Test func genericReadyAndArtifactChecks() {
        let ready = evaluate(
            ["url": .scalar("u"), "level": .scalar("low"), "roots": .artifactRefs(["r"])], artifacts: ["r": .present],
            definition: custom)
        #expect(ready.ready)
        let corrupt = evaluate(
            ["url": .scalar("u"), "roots": .artifactRefs(["r"])], artifacts: ["r": .corrupt], definition: custom)
        #expect(names(corrupt) == ["PROVIDER_CONFIG_ARTIFACT_CORRUPT"])
        #expect(corrupt.code == .configInvalid)
    }

    @Test func genericRulesDoNotUseOCISubCodes() {
        let report = evaluate(["roots": .artifactRefs(["r"])], artifacts: ["r": .present], definition: custom)
        #expect(names(report) == ["PROVIDER_CONFIG_MISSING_FIELD"])
    }
}
