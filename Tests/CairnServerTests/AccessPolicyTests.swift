import CairnProtocol
import Testing

@testable import CairnServer

@Suite struct AccessPolicyTests {
    @Test func defaultPolicyGrantsOnlyTheServerUserAndRoot() {
        let policy = AccessPolicy.defaultPolicy(serverUID: 1000)
        #expect(policy.allows(Peer(pid: 1, uid: 1000, gid: 1000), .admin, on: "acme"))
        #expect(policy.allows(Peer(pid: 1, uid: 0, gid: 0), .read, on: "other"))
        #expect(!policy.allows(Peer(pid: 1, uid: 1001, gid: 1000), .read, on: "acme"))
    }

    @Test func fileGrantsAreTheOnlyOnesThatCount() throws {
        let policy = try AccessPolicy.parse(
            Array(
                #"{"grants":[{"uid":1000,"tenants":["acme"],"scopes":["read","admin"]},{"gid":1001,"tenants":["*"],"scopes":["read"]}]}"#
                    .utf8))
        #expect(policy.allows(Peer(pid: 1, uid: 1000, gid: 5), .admin, on: "acme"))
        #expect(!policy.allows(Peer(pid: 1, uid: 1000, gid: 5), .admin, on: "beta"))
        #expect(policy.allows(Peer(pid: 1, uid: 4242, gid: 1001), .read, on: "beta"))
        #expect(!policy.allows(Peer(pid: 1, uid: 4242, gid: 1001), .admin, on: "beta"))
        #expect(!policy.allows(Peer(pid: 1, uid: 0, gid: 0), .read, on: "acme"))
    }

    @Test(arguments: [
        #"{}"#, #"{"grants":[{"tenants":["a"],"scopes":["read"]}]}"#,
        #"{"grants":[{"uid":1,"gid":2,"tenants":["a"],"scopes":["read"]}]}"#,
        #"{"grants":[{"uid":1,"tenants":["A"],"scopes":["read"]}]}"#,
        #"{"grants":[{"uid":1,"tenants":["a"],"scopes":["write"]}]}"#,
        #"{"grants":[{"uid":-1,"tenants":["a"],"scopes":["read"]}]}"#,
        #"{"grants":[{"user":"no-such-user-here","tenants":["a"],"scopes":["read"]}]}"#, "not json",
    ])
    func badPoliciesAreRefused(_ text: String) {
        #expect(throws: AccessPolicyError.self) { try AccessPolicy.parse(Array(text.utf8)) }
    }
}
