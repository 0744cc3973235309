import CairnProtocol
import CairnStore
import Foundation

/// Who may do what on which tenants: the `access.json` policy, or the
/// default when there is none.
///
/// Without a policy file, the server's own uid and root get both scopes on
/// every tenant and nobody else gets anything. With one, only its grants
/// count (root included).
public struct AccessPolicy: Sendable, Equatable {
    /// One grant: a uid or a gid, tenants (`*` for all), scopes.
    public struct Grant: Sendable, Equatable {
        public enum Subject: Sendable, Equatable {
            case uid(UInt32)
            case gid(UInt32)
        }

        public var subject: Subject
        public var tenants: [String]
        public var scopes: Set<Scope>
    }

    public var grants: [Grant]

    public init(grants: [Grant]) { self.grants = grants }

    /// The policy without a file: the server's uid and root, everything.
    public static func defaultPolicy(serverUID: UInt32) -> AccessPolicy {
        var grants = [Grant(subject: .uid(serverUID), tenants: ["*"], scopes: Set(Scope.allCases))]
        if serverUID != 0 { grants.append(Grant(subject: .uid(0), tenants: ["*"], scopes: Set(Scope.allCases))) }
        return AccessPolicy(grants: grants)
    }

    /// Loads the policy at `path`, or the default when the file does not exist.
    ///
    /// - Throws: ``AccessPolicyError`` naming the problem when the file exists
    ///   but is not a valid policy; the server refuses to start rather than
    ///   guess.
    public static func load(path: String, serverUID: UInt32) throws -> AccessPolicy {
        guard FileManager.default.fileExists(atPath: path) else { return defaultPolicy(serverUID: serverUID) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AccessPolicyError(path: path, problem: "cannot be read")
        }
        return try parse(Array(data), path: path)
    }

    /// Parses a policy document.
    public static func parse(_ bytes: [UInt8], path: String = "access.json") throws -> AccessPolicy {
        func fail(_ problem: String) -> AccessPolicyError { AccessPolicyError(path: path, problem: problem) }
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch { throw fail("is not valid JSON (\(error.reason))") }
        guard let grantsJSON = document["grants"]?.arrayValue else { throw fail(#"needs a "grants" array"#) }
        var grants: [Grant] = []
        for (index, entry) in grantsJSON.enumerated() {
            guard let object = entry.objectValue else { throw fail("grant \(index) is not an object") }
            var subjects: [Grant.Subject] = []
            if let uid = object["uid"] {
                guard case .number(let n) = uid, let v = n.int64, (0...Int64(UInt32.max)).contains(v) else {
                    throw fail("grant \(index): uid must be a non-negative integer")
                }
                subjects.append(.uid(UInt32(v)))
            }
            if let gid = object["gid"] {
                guard case .number(let n) = gid, let v = n.int64, (0...Int64(UInt32.max)).contains(v) else {
                    throw fail("grant \(index): gid must be a non-negative integer")
                }
                subjects.append(.gid(UInt32(v)))
            }
            if let user = object["user"] {
                guard let name = user.stringValue else { throw fail("grant \(index): user must be a string") }
                guard let uid = userID(named: name) else { throw fail("grant \(index): no user named \(name)") }
                subjects.append(.uid(uid))
            }
            if let group = object["group"] {
                guard let name = group.stringValue else { throw fail("grant \(index): group must be a string") }
                guard let gid = groupID(named: name) else { throw fail("grant \(index): no group named \(name)") }
                subjects.append(.gid(gid))
            }
            guard subjects.count == 1 else {
                throw fail("grant \(index) must name exactly one of uid, gid, user, group")
            }
            guard let tenantsJSON = object["tenants"]?.arrayValue, !tenantsJSON.isEmpty else {
                throw fail("grant \(index) needs a non-empty tenants array")
            }
            let tenants = try tenantsJSON.map { value -> String in
                guard let name = value.stringValue, name == "*" || TenantID(name) != nil else {
                    throw fail("grant \(index): tenants must be tenant names or \"*\"")
                }
                return name
            }
            guard let scopesJSON = object["scopes"]?.arrayValue, !scopesJSON.isEmpty else {
                throw fail("grant \(index) needs a non-empty scopes array")
            }
            let scopes = try scopesJSON.map { value -> Scope in
                guard let name = value.stringValue, let scope = Scope(rawValue: name) else {
                    throw fail("grant \(index): scopes are \"read\", \"admin\" and \"backup\"")
                }
                return scope
            }
            grants.append(Grant(subject: subjects[0], tenants: tenants, scopes: Set(scopes)))
        }
        return AccessPolicy(grants: grants)
    }

    /// Whether `peer` has `scope` on `tenant`.
    public func allows(_ peer: Peer, _ scope: Scope, on tenant: String) -> Bool {
        grants.contains { grant in
            applies(grant, to: peer) && grant.scopes.contains(scope)
                && (grant.tenants.contains("*") || grant.tenants.contains(tenant))
        }
    }

    /// Whether `peer` has `scope` on every tenant: a grant of it on `*`.
    public func allowsEverywhere(_ peer: Peer, _ scope: Scope) -> Bool {
        grants.contains { grant in
            applies(grant, to: peer) && grant.scopes.contains(scope) && grant.tenants.contains("*")
        }
    }

    /// The peer's grants per tenant, as `system.hello` shows them.
    public func grants(of peer: Peer) -> [(tenant: String, scopes: [Scope])] {
        var byTenant: [String: Set<Scope>] = [:]
        var order: [String] = []
        for grant in grants where applies(grant, to: peer) {
            for tenant in grant.tenants {
                if byTenant[tenant] == nil { order.append(tenant) }
                byTenant[tenant, default: []].formUnion(grant.scopes)
            }
        }
        return order.map { tenant in (tenant, Scope.allCases.filter { byTenant[tenant]!.contains($0) }) }
    }

    private func applies(_ grant: Grant, to peer: Peer) -> Bool {
        switch grant.subject {
        case .uid(let uid): uid == peer.uid
        case .gid(let gid): peer.groups.contains(gid)
        }
    }
}

/// A policy file that cannot be used.
public struct AccessPolicyError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "access policy \(path) \(problem)" }
}
