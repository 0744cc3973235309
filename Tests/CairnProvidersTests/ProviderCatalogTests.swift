import CairnProviders
import Testing

@Suite struct ProviderCatalogTests {
    let oci = ProviderCatalog.ociOpenVEX

    @Test func ociOpenVEXFieldsMatchTheContractTable() {
        let expected: [(String, FieldShape)] = [
            ("imageSubscriptions", .listOfStrings), ("cosignMode", .scalar), ("cosignIssuer", .scalar),
            ("cosignSubject", .scalar), ("cosignKey", .artifactRef), ("offline", .scalar), ("tufRoot", .artifactRef),
            ("offlineBundle", .artifactRef), ("registryEndpoint", .scalar), ("allowHttpRegistry", .scalar),
            ("registryUsername", .scalar), ("registryPassword", .scalar),
            ("registryCaCertificates", .listOfArtifactRefs),
        ]
        #expect(oci.providerId == "excititor:oci-openvex")
        #expect(oci.fields.map(\.key) == expected.map(\.0))
        #expect(oci.fields.map(\.shape) == expected.map(\.1))
        #expect(oci.fields.filter(\.required).map(\.key) == ["imageSubscriptions"])
        #expect(oci.fields.filter(\.secret).map(\.key) == ["registryPassword"])
        #expect(oci.field("cosignMode")?.allowedValues == ["keyless", "keypair"])
        #expect(oci.field("offline")?.allowedValues == ["true", "false"])
        #expect(oci.field("allowHttpRegistry")?.allowedValues == ["true", "false"])
        #expect(oci.fields.filter { $0.allowedValues != nil }.count == 3)
        #expect(oci.fields.allSatisfy { !$0.description.isEmpty })
    }

    @Test func shapesUseWireNames() {
        #expect(FieldShape.allCases.map(\.rawValue) == ["scalar", "list<string>", "artifactRef", "list<artifactRef>"])
    }

    @Test func catalogKeepsBuiltInFirstAndSkipsDuplicateIds() {
        let extra = ProviderDefinition(providerId: "acme:feed", displayName: "Acme", fields: [])
        let shadow = ProviderDefinition(providerId: "excititor:oci-openvex", displayName: "Fake", fields: [])
        let catalog = ProviderCatalog(additional: [extra, shadow])
        #expect(catalog.definitions.map(\.providerId) == ["excititor:oci-openvex", "acme:feed"])
        #expect(catalog.definition("excititor:oci-openvex")?.displayName == oci.displayName)
        #expect(catalog.definition("nope") == nil)
    }

    @Test(arguments: ["a", "excititor:oci-openvex", "0.x_y-z:w", String(repeating: "a", count: 128)])
    func validProviderIds(_ id: String) {
        #expect(ProviderDefinition.isValidProviderId(id))
    }

    @Test(arguments: ["", "A", "-a", ".a", "a b", "a/b", "Ab", String(repeating: "a", count: 129), "é"])
    func invalidProviderIds(_ id: String) {
        #expect(!ProviderDefinition.isValidProviderId(id))
    }
}
