import CairnStore
import Testing

/// Tenant names and provider ids: exactly the contract's patterns.
@Suite struct NamesTests {
    @Test func tenantNames() {
        let valid = ["a", "0", "acme", "a.b-c_d", "9lives", String(repeating: "a", count: 63)]
        for name in valid {
            #expect(TenantID(name)?.rawValue == name, "\(name) is a tenant name")
        }
        let invalid = [
            "", String(repeating: "a", count: 64), "Acme", "aB", "-a", ".a", "_a", "a b", "a:b", "a/b", "é", "a\u{0}",
            " a", "a\n",
        ]
        for name in invalid {
            #expect(TenantID(name) == nil, "\(name.debugDescription) is not a tenant name")
        }
        #expect(TenantID("acme")?.description == "acme")
    }

    @Test func providerIds() {
        let valid = ["p", "0", "excititor:oci-openvex", "a.b_c-d:e", String(repeating: "p", count: 128)]
        for id in valid {
            #expect(ProviderID(id)?.rawValue == id, "\(id) is a provider id")
        }
        let invalid = ["", String(repeating: "p", count: 129), ":p", "-p", "P", "p q", "p/q", "p\u{0}", "ü"]
        for id in invalid {
            #expect(ProviderID(id) == nil, "\(id.debugDescription) is not a provider id")
        }
        #expect(ProviderID("p:q")?.description == "p:q")
    }
}
