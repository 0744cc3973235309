import CairnClient
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Identity and authorization over the socket: peers of another uid, the
/// access policy, and what one tenant can learn about another.
@Suite(.timeLimit(.minutes(2)))
struct AuthEndToEndTests {
    /// `nobody` on Debian: a uid that is neither root nor the server's.
    static let otherUID: UInt32 = 65534
    static let otherGID: UInt32 = 65534
    static let needsRoot = ConditionTrait.enabled(
        if: runningAsRoot, "runs a client as uid 65534, which needs root (setpriv or setuid); skipped when not root")

    @Test(needsRoot, .timeLimit(.minutes(2)))
    func policyGrantsAnotherUserReadOnOneTenant() async throws {
        let policy =
            #"{"grants":[{"uid":0,"tenants":["*"],"scopes":["read","admin"]},"#
            + #"{"uid":\#(Self.otherUID),"tenants":["shared"],"scopes":["read"]}]}"#
        let server = try await Self.startReachable(policy: policy)
        let root = try RawSocket(path: server.socketPath)

        // As root: content in "shared" and "private", and an open upload.
        let content = Payload.random(5000)
        let shared = try await root.result(
            "artifacts.upload", ["tenant": "shared", "providerId": "p", "mimeType": "x/y"], attachment: content)
        let sharedId = try #require(shared["artifactId"])
        let secret = try await root.result(
            "artifacts.upload", ["tenant": "private", "providerId": "p", "mimeType": "x/y"],
            attachment: Payload.random(100))
        let secretId = try #require(secret["artifactId"])
        let open = try await root.result("uploads.begin", ["tenant": "shared", "providerId": "p", "mimeType": "x/y"])
        let openId = try #require(open["uploadId"])
        _ = try await root.result("uploads.append", ["uploadId": openId, "offset": 0], attachment: [1, 2, 3])
        let unknownId = JSONValue.string(UUID().uuidString.lowercased())
        let smuggled = RobustnessEndToEndTests.smuggled

        // As uid 65534, over the raw protocol.
        let requests: [(JSONValue, String, JSONValue, [UInt8]?)] = [
            (1, "system.hello", [:], nil),
            (2, "system.health", [:], nil),
            (3, "artifacts.meta", ["tenant": "shared", "artifactId": sharedId], nil),
            (4, "artifacts.read", ["tenant": "shared", "artifactId": sharedId], nil),
            (5, "artifacts.list", ["tenant": "shared"], nil),
            (6, "tenants.usage", ["tenant": "shared"], nil),
            (7, "blobs.stat", ["tenant": "shared", "sha256": shared["sha256"]!], nil),
            (8, "events.list", ["tenant": "shared"], nil),
            // Writes on "shared" need admin.
            (10, "artifacts.upload", ["tenant": "shared", "providerId": "p", "mimeType": "x/y", "data": "AAAA"], nil),
            (11, "artifacts.upload", ["tenant": "shared", "providerId": "p", "mimeType": "x/y"], smuggled),
            (12, "artifacts.delete", ["tenant": "shared", "artifactId": sharedId], nil),
            (13, "tenants.setQuota", ["tenant": "shared", "maxBytes": 1], nil),
            (14, "uploads.begin", ["tenant": "shared", "providerId": "p", "mimeType": "x/y"], nil),
            (15, "blobs.verify", ["tenant": "shared"], nil),
            (16, "providers.config.set", ["tenant": "shared", "providerId": "p", "values": ["k": "v"]], nil),
            // Another tenant, whether it exists or not.
            (20, "artifacts.list", ["tenant": "private"], nil),
            (21, "artifacts.list", ["tenant": "ghost"], nil),
            (22, "artifacts.meta", ["tenant": "private", "artifactId": secretId], nil),
            (23, "artifacts.meta", ["tenant": "ghost", "artifactId": secretId], nil),
            (24, "artifacts.upload", ["tenant": "private", "providerId": "p", "mimeType": "x/y"], smuggled),
            (25, "tenants.usage", ["tenant": "ghost"], nil),
            (26, "providers.config.get", ["tenant": "private", "providerId": "excititor:oci-openvex"], nil),
            (27, "providers.readiness", ["tenant": "ghost", "providerId": "nope"], nil),
            // Another tenant's artifact named in a granted tenant: not found, like a random id.
            (30, "artifacts.meta", ["tenant": "shared", "artifactId": secretId], nil),
            (31, "artifacts.meta", ["tenant": "shared", "artifactId": unknownId], nil),
            // Root's upload: not found for another peer, like a random one; attachment dropped.
            (40, "uploads.status", ["uploadId": openId], nil),
            (41, "uploads.status", ["uploadId": unknownId], nil),
            (42, "uploads.append", ["uploadId": openId, "offset": 3], smuggled),
            (43, "uploads.commit", ["uploadId": openId], nil),
            (44, "uploads.abort", ["uploadId": openId], nil),
            (45, "system.hello", [:], nil),
            // The catalog needs no grant; reading a granted tenant's configuration needs read.
            (50, "providers.list", [:], nil),
            (51, "providers.config.get", ["tenant": "shared", "providerId": "excititor:oci-openvex"], nil),
            (52, "providers.readiness", ["tenant": "shared", "providerId": "excititor:oci-openvex"], nil),
        ]
        var bytes: [UInt8] = []
        for (id, method, params, attachment) in requests {
            var params = params
            if let attachment, var object = params.objectValue {
                object["dataLength"] = .int(attachment.count)
                params = .object(object)
            }
            bytes += line(rpc(id, method, params)) + (attachment ?? [])
        }
        let responses = try await Self.rawExchange(server.socketPath, bytes, expecting: requests.count)
        try #require(responses.count == requests.count, "\(responses)")
        let byId = Dictionary(responses.map { ($0["id"]?.intValue ?? -1, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(
            responses.compactMap { $0["id"]?.intValue } == requests.compactMap { $0.0.intValue }, "answered in order")

        let hello = expectResult(byId[1]!, id: 1)
        #expect(hello["peer"] == ["uid": .int(Int(Self.otherUID)), "gid": .int(Int(Self.otherGID))], "\(hello)")
        #expect(hello["grants"] == [["tenant": "shared", "scopes": ["read"]]], "\(hello)")
        #expect(expectResult(byId[2]!, id: 2)["status"] != nil)
        #expect(expectResult(byId[3]!, id: 3) == shared.removing(["deduplicated"]))
        #expect(expectResult(byId[4]!, id: 4)["data"] == .string(Base64.encode(content)))
        #expect(expectResult(byId[5]!, id: 5)["artifacts"]?.arrayValue?.count == 1)
        #expect(expectResult(byId[6]!, id: 6)["artifactCount"] == 1)
        #expect(expectResult(byId[7]!, id: 7)["artifactIds"] == [sharedId])
        #expect(expectResult(byId[8]!, id: 8)["events"]?.arrayValue?.isEmpty == false)
        for id in 10...16 {
            let data = expectError(byId[id]!, "FORBIDDEN", id: .int(id))
            #expect(data["tenant"] == "shared" && data["scope"] == "admin", "\(byId[id]!)")
        }
        for (id, tenant, scope) in [
            (20, "private", "read"), (21, "ghost", "read"), (22, "private", "read"), (23, "ghost", "read"),
            (24, "private", "admin"), (25, "ghost", "read"), (26, "private", "read"), (27, "ghost", "read"),
        ] {
            let data = expectError(byId[id]!, "FORBIDDEN", id: .int(id))
            #expect(data["tenant"] == .string(tenant) && data["scope"] == .string(scope), "\(byId[id]!)")
        }
        // Existing or not, another tenant looks the same.
        #expect(Self.withoutTenant(byId[20]!["error"]) == Self.withoutTenant(byId[21]!["error"]))
        #expect(Self.withoutTenant(byId[22]!["error"]) == Self.withoutTenant(byId[23]!["error"]))
        expectError(byId[30]!, "NOT_FOUND", id: 30)
        #expect(byId[30]!["error"] == byId[31]!["error"], "a foreign id differs from a random one")
        for id in 40...44 { expectError(byId[id]!, "NOT_FOUND", id: .int(id)) }
        #expect(byId[40]!["error"] == byId[41]!["error"], "another peer's upload differs from a random one")
        #expect(expectResult(byId[45]!, id: 45)["server"] == "cairn")
        #expect(expectResult(byId[50]!, id: 50)["providers"]?.arrayValue?.isEmpty == false)
        #expect(expectResult(byId[51]!, id: 51)["revision"] == 0)
        #expect(expectResult(byId[52]!, id: 52)["state"] == "blocked")

        // Nothing was changed by the refused requests.
        #expect(try await root.result("uploads.status", ["uploadId": openId])["offset"] == 3)
        #expect(try await root.result("tenants.usage", ["tenant": "shared"])["artifactCount"] == 1)
        #expect(try await root.result("tenants.usage", ["tenant": "shared"])["quota"]?["maxBytes"] == .null)
        #expect(try await root.result("tenants.usage", ["tenant": "private"])["artifactCount"] == 1)

        // The CLI as uid 65534.
        let meta = try await Self.cli(server, ["meta", sharedId.stringValue!, "--tenant", "shared", "--json"])
        #expect(meta.status == 0, "\(meta)")
        #expect(try JSONParser.parse(meta.stdout)["artifactId"] == sharedId, "\(meta)")
        let get = try await Self.cli(server, ["get", sharedId.stringValue!, "--tenant", "shared"])
        #expect(get.status == 0, "\(get)")
        #expect(get.stdout == content)
        let put = try await Self.cli(server, ["put", "-", "--provider", "p", "--tenant", "shared"], stdin: [1, 2, 3])
        #expect(put.status == 1, "\(put)")
        #expect(put.errorOutput.contains("FORBIDDEN"), "\(put)")
        let list = try await Self.cli(server, ["ls", "--tenant", "private"])
        #expect(list.status == 1, "\(list)")
        #expect(list.errorOutput.contains("FORBIDDEN"), "\(list)")
        let cliHello = try await Self.cli(server, ["hello", "--json"])
        #expect(cliHello.status == 0, "\(cliHello)")
        let helloJSON = try JSONParser.parse(cliHello.stdout)
        #expect(helloJSON["peer"]?["uid"] == .int(Int(Self.otherUID)))
        #expect(helloJSON["grants"] == [["tenant": "shared", "scopes": ["read"]]])
        #expect(try await root.result("tenants.usage", ["tenant": "shared"])["artifactCount"] == 1)
    }

    @Test(needsRoot, .timeLimit(.minutes(2)))
    func withoutPolicyOtherUsersGetNothing() async throws {
        let server = try await Self.startReachable(policy: nil)
        let root = try RawSocket(path: server.socketPath)
        let meta = try await root.result(
            "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"], attachment: [1, 2, 3])

        let requests: [(Int, String, JSONValue, String?)] = [
            (1, "system.hello", [:], nil),
            (2, "system.health", [:], nil),
            (3, "artifacts.list", ["tenant": "acme"], "read"),
            (4, "artifacts.meta", ["tenant": "acme", "artifactId": meta["artifactId"]!], "read"),
            (5, "artifacts.read", ["tenant": "acme", "artifactId": meta["artifactId"]!], "read"),
            (6, "tenants.usage", ["tenant": "nowhere"], "read"),
            (7, "events.list", ["tenant": "acme"], "read"),
            (8, "blobs.stat", ["tenant": "acme", "sha256": meta["sha256"]!], "read"),
            (9, "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "data": ""], "admin"),
            (10, "uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"], "admin"),
            (11, "artifacts.delete", ["tenant": "acme", "artifactId": meta["artifactId"]!], "admin"),
            (12, "tenants.setQuota", ["tenant": "acme", "maxBytes": nil], "admin"),
            (13, "blobs.verify", ["tenant": "acme"], "admin"),
        ]
        let bytes = requests.flatMap { line(rpc(.int($0.0), $0.1, $0.2)) }
        let responses = try await Self.rawExchange(server.socketPath, bytes, expecting: requests.count)
        try #require(responses.count == requests.count, "\(responses)")
        let hello = expectResult(responses[0], id: 1)
        #expect(hello["peer"]?["uid"] == .int(Int(Self.otherUID)))
        #expect(hello["grants"] == [], "\(hello)")
        #expect(expectResult(responses[1], id: 2)["status"] != nil)
        for (response, request) in zip(responses, requests) {
            guard let scope = request.3 else { continue }
            let data = expectError(response, "FORBIDDEN", id: .int(request.0))
            #expect(data["scope"] == .string(scope), "\(request.1): \(response)")
            #expect(data["tenant"] == request.2["tenant"], "\(request.1): \(response)")
        }

        let list = try await Self.cli(server, ["ls", "--tenant", "acme"])
        #expect(list.status == 1, "\(list)")
        #expect(list.errorOutput.contains("FORBIDDEN"), "\(list)")
        #expect(try await root.result("tenants.usage", ["tenant": "acme"])["artifactCount"] == 1)
    }

    /// With a policy file, only its grants count: the server's own uid included.
    @Test(.timeLimit(.minutes(2)))
    func policyIsAllThatCounts() async throws {
        let me = getuid()
        let server = try ServerProcess()
        let policyPath = server.scratch("access.json")
        try Data(#"{"grants":[{"uid":\#(me),"tenants":["ro"],"scopes":["read"]}]}"#.utf8)
            .write(to: URL(fileURLWithPath: policyPath))
        server.extraArguments = ["--access-policy", policyPath]
        try await server.start()
        let socket = try RawSocket(path: server.socketPath)

        let hello = try await socket.result("system.hello")
        #expect(hello["grants"] == [["tenant": "ro", "scopes": ["read"]]], "\(hello)")
        #expect(try await socket.result("artifacts.list", ["tenant": "ro"])["artifacts"] == [])
        let write = try await socket.request(
            1, "artifacts.upload", ["tenant": "ro", "providerId": "p", "mimeType": "x/y"],
            attachment: Payload.random(10))
        #expect(expectError(write, "FORBIDDEN", id: 1) == ["code": "FORBIDDEN", "tenant": "ro", "scope": "admin"])
        let elsewhere = try await socket.request(2, "artifacts.list", ["tenant": "rw"])
        #expect(expectError(elsewhere, "FORBIDDEN", id: 2) == ["code": "FORBIDDEN", "tenant": "rw", "scope": "read"])
        try await socket.expectAlive()
    }

    @Test(.timeLimit(.minutes(2)))
    func tenantIsolation() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let content = Payload.random(20_000)
        let digest = JSONValue.string(Payload.sha256(content))
        let upload: (String) -> JSONValue = { ["tenant": .string($0), "providerId": "p", "mimeType": "x/y"] }
        let varying: Set<String> = ["artifactId", "tenantId", "stagedAt"]

        let alpha = try await socket.result("artifacts.upload", upload("alpha"), attachment: content)
        let beta = try await socket.result("artifacts.upload", upload("beta"), attachment: content)
        #expect(alpha["deduplicated"] == false)
        #expect(beta["deduplicated"] == false, "beta learns that another tenant holds the content")
        #expect(beta.removing(varying) == alpha.removing(varying))
        #expect(beta["tenantId"] == "beta")
        // A resumable upload in a third tenant is a first upload too.
        let begun = try await socket.result(
            "uploads.begin",
            ["tenant": "gamma", "providerId": "p", "mimeType": "x/y", "sha256": digest, "sizeBytes": 20_000])
        _ = try await socket.result(
            "uploads.append", ["uploadId": begun["uploadId"]!, "offset": 0], attachment: content)
        let gamma = try await socket.result("uploads.commit", ["uploadId": begun["uploadId"]!])
        #expect(gamma.removing(varying) == alpha.removing(varying))

        // Usage and stat show only the tenant's own.
        let alphaUsage = try await socket.result("tenants.usage", ["tenant": "alpha"])
        let betaUsage = try await socket.result("tenants.usage", ["tenant": "beta"])
        #expect(betaUsage.removing(["tenant"]) == alphaUsage.removing(["tenant"]))
        #expect(betaUsage["storedBytes"] == 20_000)
        let betaStat = try await socket.result("blobs.stat", ["tenant": "beta", "sha256": digest])
        #expect(betaStat["artifactIds"] == [beta["artifactId"]!])
        let betaVerify = try await socket.result("blobs.verify", ["tenant": "beta"])
        #expect(betaVerify["checkedBlobs"] == 1)
        let betaEvents = try await socket.result("events.list", ["tenant": "beta"])
        #expect(betaEvents["events"]?.arrayValue?.count == 1)
        #expect(betaEvents["events"]?.arrayValue?.first?["artifactId"] == beta["artifactId"])

        // Another tenant's ids and digests are answered exactly like random ones.
        let random = JSONValue.string(UUID().uuidString.lowercased())
        let alone = Payload.random(777)
        let onlyAlpha = try await socket.result("artifacts.upload", upload("alpha"), attachment: alone)
        let probes: [(String, (JSONValue) -> JSONValue)] = [
            ("artifacts.meta", { ["tenant": "beta", "artifactId": $0] }),
            ("artifacts.read", { ["tenant": "beta", "artifactId": $0] }),
            ("artifacts.read", { ["tenant": "beta", "artifactId": $0, "binary": true] }),
            ("artifacts.delete", { ["tenant": "beta", "artifactId": $0] }),
        ]
        for (method, params) in probes {
            for foreign in [alpha["artifactId"]!, onlyAlpha["artifactId"]!] {
                let viaForeign = try await socket.request(1, method, params(foreign))
                let viaRandom = try await socket.request(1, method, params(random))
                expectError(viaForeign, "NOT_FOUND", id: 1)
                #expect(viaForeign == viaRandom, "\(method): \(viaForeign) vs \(viaRandom)")
            }
        }
        let foreignDigest = try await socket.request(
            2, "blobs.stat", ["tenant": "beta", "sha256": onlyAlpha["sha256"]!])
        let randomDigest = try await socket.request(
            2, "blobs.stat", ["tenant": "beta", "sha256": .string(Payload.unknownDigest())])
        expectError(foreignDigest, "NOT_FOUND", id: 2)
        #expect(foreignDigest == randomDigest)

        // Quota figures and errors do not depend on what another tenant stores.
        _ = try await socket.result("tenants.setQuota", ["tenant": "delta", "maxBytes": 776])
        let heldElsewhere = try await socket.request(3, "artifacts.upload", upload("delta"), attachment: alone)
        let heldNowhere = try await socket.request(
            3, "artifacts.upload", upload("delta"), attachment: Payload.random(777))
        expectError(heldElsewhere, "QUOTA_EXCEEDED", id: 3)
        #expect(heldElsewhere == heldNowhere)
        var declared = upload("delta").objectValue!
        declared["sizeBytes"] = 777
        declared["sha256"] = onlyAlpha["sha256"]!
        let declaredElsewhere = try await socket.request(4, "uploads.begin", .object(declared))
        declared["sha256"] = .string(Payload.unknownDigest())
        let declaredNowhere = try await socket.request(4, "uploads.begin", .object(declared))
        expectError(declaredElsewhere, "QUOTA_EXCEEDED", id: 4)
        #expect(declaredElsewhere == declaredNowhere)

        // Deleting alpha's copies frees alpha's blob; beta's stays readable.
        let deleted = try await socket.result(
            "artifacts.delete", ["tenant": "alpha", "artifactId": alpha["artifactId"]!])
        #expect(deleted["blobFreed"] == true)
        let read = try await socket.result("artifacts.read", ["tenant": "beta", "artifactId": beta["artifactId"]!])
        #expect(read["data"] == .string(Base64.encode(content)))
        #expect(try await socket.result("artifacts.list", ["tenant": "beta"])["artifacts"]?.arrayValue?.count == 1)
    }

    /// Ids are each tenant's own. From a uid granted only tenant "a", every
    /// call given an id that exists only in tenant "b" answers exactly as
    /// for an id that exists nowhere, including the calls that supply an
    /// `artifactId`; and ids "a" claimed first are no obstacle to "b"
    /// importing them later.
    @Test(needsRoot, .timeLimit(.minutes(2)))
    func artifactIdsAreEachTenantsOwn() async throws {
        let policy =
            #"{"grants":[{"uid":0,"tenants":["*"],"scopes":["read","admin"]},"#
            + #"{"uid":\#(Self.otherUID),"tenants":["a"],"scopes":["read","admin"]}]}"#
        let server = try await Self.startReachable(policy: policy)
        let root = try RawSocket(path: server.socketPath)
        let upload: (String) -> JSONValue = { ["tenant": .string($0), "providerId": "p", "mimeType": "x/y"] }

        // As root: artifacts in "b" only, and an export of tenant "c" that "b" will import later.
        let inB = try await root.result("artifacts.upload", upload("b"), attachment: Payload.random(300))
        let idInB = try #require(inB["artifactId"])
        let held = Payload.random(400)
        _ = try await root.result("artifacts.upload", upload("b"), attachment: held)
        var exportIds: [JSONValue] = []
        for content in [held, Payload.random(500)] {
            exportIds.append(
                try #require(try await root.result("artifacts.upload", upload("c"), attachment: content)["artifactId"]))
        }
        let export = (server.root as NSString).appendingPathComponent("other-home/c-export")
        let exported = try await server.cairn(["export", "--tenant", "c", "--out", export])
        try #require(exported.status == 0, "\(exported)")
        chmod(export, 0o755)
        for name in (try? FileManager.default.subpathsOfDirectory(atPath: export)) ?? [] {
            chmod((export as NSString).appendingPathComponent(name), 0o755)
        }

        // As uid 65534: the same calls with b's id and with an id that exists nowhere.
        let nowhere = JSONValue.string(UUID().uuidString.lowercased())
        let sameSize = Payload.random(300)
        func lookups(_ id: JSONValue, base: Int) -> [(Int, String, JSONValue, [UInt8]?)] {
            let entry: JSONValue = [
                "artifactId": id, "sha256": inB["sha256"]!, "sizeBytes": 300, "providerId": "p", "mimeType": "x/y",
            ]
            return [
                (base + 1, "artifacts.meta", ["tenant": "a", "artifactId": id], nil),
                (base + 2, "artifacts.read", ["tenant": "a", "artifactId": id], nil),
                (base + 3, "artifacts.delete", ["tenant": "a", "artifactId": id], nil),
                (base + 4, "artifacts.import", ["tenant": "a", "dryRun": true, "artifacts": [entry]], nil),
            ]
        }
        func supplying(_ id: JSONValue, _ requestId: Int, _ content: [UInt8]) -> (Int, String, JSONValue, [UInt8]?) {
            var supplied = upload("a").objectValue!
            supplied["artifactId"] = id
            return (requestId, "artifacts.upload", .object(supplied), content)
        }
        let requests =
            lookups(idInB, base: 0) + lookups(nowhere, base: 10)
            + [supplying(idInB, 5, Payload.random(300)), supplying(nowhere, 15, sameSize)]
            + [(99, "system.health", [:], nil)]
        var bytes: [UInt8] = []
        for (id, method, params, attachment) in requests {
            var params = params
            if let attachment, var object = params.objectValue {
                object["dataLength"] = .int(attachment.count)
                params = .object(object)
            }
            bytes += line(rpc(.int(id), method, params)) + (attachment ?? [])
        }
        let responses = try await Self.rawExchange(server.socketPath, bytes, expecting: requests.count)
        try #require(responses.count == requests.count, "\(responses)")
        let byId = Dictionary(responses.map { ($0["id"]?.intValue ?? -1, $0) }, uniquingKeysWith: { a, _ in a })
        func same(_ response: JSONValue, _ id: JSONValue) -> String {
            // The id named in the call, and what differs between two uploads, set aside.
            var text = String(decoding: response.removing(["id"]).serialized(), as: UTF8.self)
            text = text.replacingOccurrences(of: id.stringValue!, with: "ID")
            return text
        }
        for step in 1...4 {
            #expect(
                same(byId[step]!, idInB) == same(byId[10 + step]!, nowhere),
                "call \(step): \(byId[step]!) vs \(byId[10 + step]!)")
        }
        // An admin of one tenant sees the server's status, not figures that move with other tenants.
        let health = expectResult(byId[99]!, id: 99)
        #expect(health.objectValue?.keys == ["status", "layoutVersion"], "\(health)")
        #expect(try await root.result("system.health")["store"]?["headroomBytes"] != nil)
        let viaB = expectResult(byId[5]!, id: 5)
        let viaNowhere = expectResult(byId[15]!, id: 15)
        #expect(viaB["artifactId"] == idInB && viaNowhere["artifactId"] == nowhere)
        let varying: Set<String> = ["artifactId", "sha256", "stagedAt"]
        #expect(viaB.removing(varying) == viaNowhere.removing(varying), "\(viaB) vs \(viaNowhere)")
        #expect(expectResult(byId[4]!, id: 4)["artifacts"]?.arrayValue?.first?["status"] == "needsContent")
        #expect(
            try await root.result("artifacts.meta", ["tenant": "a", "artifactId": idInB])
                == viaB.removing(["deduplicated"]))

        // "a" claims the ids of c's export first, through the CLI's import (uploads with the ids,
        // then a link): nothing stops it, and it tells "a" nothing about "c".
        let claimed = try await Self.cli(server, ["import", export, "--tenant", "a"])
        #expect(claimed.status == 0, "\(claimed)")
        for id in exportIds {
            #expect(try await root.result("artifacts.meta", ["tenant": "a", "artifactId": id])["tenantId"] == "a")
        }

        // b's artifact is untouched, and b imports c's export, ids and all, as if "a" had done nothing.
        #expect(
            try await root.result("artifacts.meta", ["tenant": "b", "artifactId": idInB])
                == inB.removing(["deduplicated"]))
        let imported = try await server.cairn(["import", export, "--tenant", "b"])
        #expect(imported.status == 0, "\(imported)")
        for id in exportIds {
            let meta = try await root.result("artifacts.meta", ["tenant": "b", "artifactId": id])
            let original = try await root.result("artifacts.meta", ["tenant": "c", "artifactId": id])
            #expect(meta["sha256"] == original["sha256"] && meta["tenantId"] == "b")
        }
        #expect(try await root.result("tenants.usage", ["tenant": "b"])["artifactCount"] == 4)
    }

    // MARK: - Helpers

    static func withoutTenant(_ error: JSONValue?) -> JSONValue? {
        guard var object = error?.objectValue, let data = object["data"] else { return error }
        object["data"] = data.removing(["tenant"])
        object["message"] = nil
        return .object(object)
    }

    /// Starts a server whose socket uid 65534 can reach: the fixture's
    /// directory opened to 0755 (the data directory stays 0700), the socket
    /// chmod 0666 after start.
    static func startReachable(policy: String?) async throws -> ServerProcess {
        let server = try ServerProcess()
        if let policy {
            let path = server.scratch("access.json")
            try Data(policy.utf8).write(to: URL(fileURLWithPath: path))
            server.extraArguments = ["--access-policy", path]
        }
        chmod(server.root, 0o755)
        let home = (server.root as NSString).appendingPathComponent("other-home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        chmod(home, 0o777)
        try await server.start()
        #expect(permissions(server.socketPath) == 0o660, "the socket is created 0660")
        chmod(server.socketPath, 0o666)
        return server
    }

    /// The Python interpreter for the raw client, if any.
    static func python() throws -> String {
        var candidates = ["/usr/bin/python3", "/usr/local/bin/python3"]
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/python3")
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ServerProcess.FixtureError(description: "python3 is needed to run a raw client as another uid")
        }
        return found
    }

    /// Connects as uid 65534, sends `bytes`, and returns the response lines
    /// (at most `expecting`). The script drops its privileges before it
    /// connects, so SO_PEERCRED sees 65534.
    static func rawExchange(_ socketPath: String, _ bytes: [UInt8], expecting count: Int) async throws -> [JSONValue] {
        let script = """
            import os, socket, sys
            path, uid, gid, expected = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
            data = sys.stdin.buffer.read()
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            if os.getuid() != uid or os.geteuid() != uid:
                sys.exit(90)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(20)
            s.connect(path)
            s.sendall(data)
            buffer = b""
            while buffer.count(b"\\n") < expected:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buffer += chunk
            sys.stdout.buffer.write(buffer)
            """
        let directory = NSTemporaryDirectory()
        let command = try RunningCommand(
            executable: URL(fileURLWithPath: try python()),
            arguments: ["-c", script, socketPath, "\(otherUID)", "\(otherGID)", "\(count)"],
            environment: ProcessInfo.processInfo.environment, stdin: bytes, directory: directory)
        let result = try await command.wait(timeout: .seconds(30))
        try #require(result.status == 0, "the raw client failed: \(result)")
        return try result.stdout.split(separator: 0x0a).map { try JSONParser.parse(Array($0)) }
    }

    /// Runs the `cairn` CLI as uid 65534 against `server`.
    static func cli(
        _ server: ServerProcess, _ args: [String], stdin: [UInt8]? = nil, env: [String: String] = [:]
    ) async throws -> ServerProcess.CommandResult {
        let cairn = try ServerProcess.cairnExecutable().path
        let home = (server.root as NSString).appendingPathComponent("other-home")
        var environment = ProcessInfo.processInfo.environment
        environment["CAIRN_TENANT"] = nil
        environment["CAIRN_DATA_DIR"] = nil
        environment["CAIRN_SOCKET"] = server.socketPath
        environment["HOME"] = home
        environment["XDG_STATE_HOME"] = home
        for (key, value) in env { environment[key] = value }
        let executable: URL
        let arguments: [String]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            executable = URL(fileURLWithPath: "/usr/bin/setpriv")
            arguments = ["--reuid=\(otherUID)", "--regid=\(otherGID)", "--clear-groups", cairn] + args
        } else {
            executable = URL(fileURLWithPath: try python())
            let drop =
                "import os, sys; os.setgroups([]); os.setgid(\(otherGID)); os.setuid(\(otherUID)); os.execv(sys.argv[1], sys.argv[1:])"
            arguments = ["-c", drop, cairn] + args
        }
        let command = try RunningCommand(
            executable: executable, arguments: arguments, environment: environment, stdin: stdin, directory: home)
        return try await command.wait(timeout: .seconds(30))
    }
}
