import CairnProtocol
import DamageSupport
import Foundation
import Testing

/// The `providers.*` methods over a real socket: catalog, configuration
/// snapshots, refusals, references, readiness and `providers.d/`.
@Suite(.timeLimit(.minutes(2)))
struct ProviderEndToEndTests {
    static let vex: JSONValue = "excititor:oci-openvex"

    static func params(_ tenant: String, _ extra: [(String, JSONValue)] = []) -> JSONValue {
        .object(JSONObject([("tenant", .string(tenant)), ("providerId", vex)] + extra))
    }

    static func values(_ pairs: [(String, JSONValue)]) -> (String, JSONValue) {
        ("values", .object(JSONObject(pairs)))
    }

    /// Uploads `content` for the provider and returns its artifact id.
    static func upload(
        _ socket: RawSocket, _ content: String, tenant: String = "acme", providerId: JSONValue = vex
    ) async throws -> String {
        let meta = try await socket.result(
            "artifacts.upload",
            [
                "tenant": .string(tenant), "providerId": providerId, "mimeType": "application/x-pem-file",
                "data": .string(Base64.encode(Array(content.utf8))),
            ])
        return try #require(meta["artifactId"]?.stringValue)
    }

    /// The value of field `key` in a snapshot.
    static func field(_ snapshot: JSONValue, _ key: String) -> JSONValue? {
        snapshot["fields"]?.arrayValue?.first { $0["key"] == .string(key) }
    }

    @Test func theCatalogListsTheBuiltInConnectorExactly() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let providers = try #require(try await socket.result("providers.list")["providers"]?.arrayValue)
        let vex = try #require(providers.first { $0["providerId"] == Self.vex })
        #expect(vex["displayName"]?.stringValue?.isEmpty == false)
        let fields = try #require(vex["fields"]?.arrayValue)
        let expected: [(String, String, Bool, Bool)] = [
            ("imageSubscriptions", "list<string>", true, false), ("cosignMode", "scalar", false, false),
            ("cosignIssuer", "scalar", false, false), ("cosignSubject", "scalar", false, false),
            ("cosignKey", "artifactRef", false, false), ("offline", "scalar", false, false),
            ("tufRoot", "artifactRef", false, false), ("offlineBundle", "artifactRef", false, false),
            ("registryEndpoint", "scalar", false, false), ("allowHttpRegistry", "scalar", false, false),
            ("registryUsername", "scalar", false, false), ("registryPassword", "scalar", false, true),
            ("registryCaCertificates", "list<artifactRef>", false, false),
        ]
        #expect(fields.count == expected.count)
        for (field, (key, shape, required, secret)) in zip(fields, expected) {
            #expect(field["key"] == .string(key))
            #expect(field["shape"] == .string(shape), "\(field)")
            #expect(field["required"] == .bool(required), "\(field)")
            #expect(field["secret"] == .bool(secret), "\(field)")
            #expect(field["description"]?.stringValue?.isEmpty == false, "\(field)")
        }
        #expect(Self.field(["fields": .array(fields)], "cosignMode")?["allowedValues"] == ["keyless", "keypair"])

        for method in ["providers.config.get", "providers.config.set", "providers.readiness"] {
            let unknown = try await socket.request(7, method, ["tenant": "acme", "providerId": "nope:x"])
            let data = expectError(unknown, "UNKNOWN_PROVIDER", id: 7)
            #expect(data["providerId"] == "nope:x")
            let malformed = try await socket.request(8, method, ["tenant": "acme", "providerId": "Not Valid"])
            expectError(malformed, "INVALID_PARAMS", id: 8, field: "providerId")
        }
    }

    @Test func aNeverConfiguredProviderHasAnEmptySnapshot() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let snapshot = try await socket.result("providers.config.get", Self.params("acme"))
        #expect(snapshot["tenant"] == "acme")
        #expect(snapshot["providerId"] == Self.vex)
        #expect(snapshot["revision"] == 0)
        #expect(snapshot["updatedAt"] == .null)
        let fields = try #require(snapshot["fields"]?.arrayValue)
        #expect(fields.count == 13)
        #expect(fields.allSatisfy { $0["value"] == .null })
        #expect(Self.field(snapshot, "cosignKey")?["artifacts"] == [])
        #expect(Self.field(snapshot, "offline")?["artifacts"] == nil)
        let readiness = try #require(snapshot["readiness"])
        #expect(readiness["ready"] == false)
        #expect(readiness["state"] == "blocked")
        #expect(readiness["code"] == "PROVIDER_CONFIG_REQUIRED")
        #expect(
            readiness["subCodes"] == [
                "PROVIDER_CONFIG_MISSING_IMAGE_SUBSCRIPTIONS", "PROVIDER_CONFIG_MISSING_COSIGN_ISSUER",
                "PROVIDER_CONFIG_MISSING_COSIGN_SUBJECT",
            ])
        #expect(try await socket.result("providers.readiness", Self.params("acme")) == readiness)
    }

    @Test func setMergesValuesHidesSecretsAndChecksRevisions() async throws {
        // At the most talkative log level, so that the check of the log below means something.
        let server = try await ServerProcess.start(extraArguments: ["--log-level", "trace"])
        let socket = try RawSocket(path: server.socketPath)
        let secret = "s3cr3t-\(UUID().uuidString)"
        let first = try await socket.result(
            "providers.config.set",
            Self.params(
                "acme",
                [
                    Self.values([
                        (
                            "imageSubscriptions",
                            .string(
                                "registry.example:5000/team/app:1.2\nghcr.io/org/tool@sha256:"
                                    + String(repeating: "ab", count: 32))
                        ),
                        ("cosignIssuer", "https://token.actions.githubusercontent.com"),
                        ("cosignSubject", "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"),
                        ("registryUsername", "robot"), ("registryPassword", .string(secret)),
                    ]), ("expectedRevision", 0),
                ]))
        #expect(first["revision"] == 1)
        #expect(isContractTime(first["updatedAt"]))
        #expect(first["updatedBy"] == .string(ProtocolEndToEndTests.ownName))
        #expect(
            Self.field(first, "imageSubscriptions")?["value"] == [
                "registry.example:5000/team/app:1.2",
                .string("ghcr.io/org/tool@sha256:" + String(repeating: "ab", count: 32)),
            ])
        #expect(Self.field(first, "registryPassword")?["value"] == ["set": true])
        #expect(Self.field(first, "registryUsername")?["value"] == "robot")
        #expect(first["readiness"]?["ready"] == true, "\(first)")
        #expect(first["readiness"]?["code"] == .null)
        #expect(first["readiness"]?["subCodes"] == [])

        // A stale revision is a CONFLICT carrying the current one; nothing changes.
        let stale = try await socket.request(
            2, "providers.config.set",
            Self.params("acme", [Self.values([("offline", "true")]), ("expectedRevision", 0)]))
        #expect(expectError(stale, "CONFLICT", id: 2)["revision"] == 1)

        // An unknown key and a wrong shape are refused together, naming the fields; nothing changes.
        let refused = try await socket.request(
            3, "providers.config.set",
            Self.params("acme", [Self.values([("colour", "blue"), ("offline", true)]), ("clear", ["cosignIssuer"])]))
        let data = expectError(refused, "PROVIDER_CONFIG_INVALID", id: 3)
        #expect(data["subCodes"] == ["PROVIDER_CONFIG_INVALID_VALUE"])
        #expect(data["issues"]?.arrayValue?.compactMap { $0["field"]?.stringValue } == ["colour", "offline"])

        // A null value and `clear` both clear; the secret stays hidden in every answer.
        let second = try await socket.result(
            "providers.config.set",
            Self.params(
                "acme",
                [Self.values([("registryUsername", .null), ("offline", "true")]), ("clear", ["cosignSubject"])]))
        #expect(second["revision"] == 2)
        #expect(Self.field(second, "registryUsername")?["value"] == .null)
        #expect(Self.field(second, "cosignSubject")?["value"] == .null)
        #expect(Self.field(second, "offline")?["value"] == "true")
        #expect(second["readiness"]?["code"] == "PROVIDER_CONFIG_REQUIRED")
        #expect(
            second["readiness"]?["subCodes"] == [
                "PROVIDER_CONFIG_MISSING_COSIGN_SUBJECT", "PROVIDER_CONFIG_MISSING_TUF_ROOT",
            ])
        #expect(try await socket.result("providers.config.get", Self.params("acme")) == second)

        // The audit log names keys, never values; neither it nor the log holds the secret.
        let events = try await socket.result("events.list", ["tenant": "acme"])
        let configEvents = events["events"]?.arrayValue?.filter { $0["action"] == "config.set" } ?? []
        #expect(configEvents.count == 2)
        #expect(configEvents.allSatisfy { $0["providerId"] == Self.vex })
        #expect(
            configEvents.first?["detail"]?["set"] == [
                "cosignIssuer", "cosignSubject", "imageSubscriptions", "registryPassword", "registryUsername",
            ])
        #expect(!String(decoding: events.serialized(), as: UTF8.self).contains(secret))
        _ = try await server.stop()
        #expect(!server.log.contains(secret))
        let dataFile = try Data(contentsOf: URL(fileURLWithPath: server.dataDirectory + "/store/data.mdb"))
        #expect(dataFile.range(of: Data(secret.utf8)) != nil, "the secret is stored")
    }

    @Test func wrongParamTypesAreInvalidParams() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let cases: [(JSONValue, String)] = [
            (Self.params("acme", [("values", ["a", "b"])]), "values"),
            (Self.params("acme", [("clear", "cosignKey")]), "clear"),
            (Self.params("acme", [("clear", [1])]), "clear"),
            (Self.params("acme", [("expectedRevision", -1)]), "expectedRevision"),
            (Self.params("acme", [("expectedRevision", "1")]), "expectedRevision"),
            (["providerId": Self.vex], "tenant"),
        ]
        for (index, (params, field)) in cases.enumerated() {
            let response = try await socket.request(.int(index), "providers.config.set", params)
            expectError(response, "INVALID_PARAMS", id: .int(index), field: field)
        }
        try await socket.expectAlive()
    }

    @Test func referencesAreCheckedAndBlockDeletesUntilCleared() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let key = try await Self.upload(socket, "-----BEGIN PUBLIC KEY-----\nkey\n-----END PUBLIC KEY-----\n")
        let ca = try await Self.upload(socket, "ca bundle")
        let otherProvider = try await Self.upload(socket, "other", providerId: "other.provider")
        let otherTenant = try await Self.upload(socket, "globex key", tenant: "globex")

        // Another tenant's artifact, another provider's, and one that does not exist: all refused alike.
        for (id, (field, value)) in [
            ("cosignKey", JSONValue.string(otherTenant)), ("cosignKey", .string(otherProvider)),
            ("cosignKey", .string(UUID().uuidString)), ("registryCaCertificates", [.string(ca), .string(otherTenant)]),
        ].enumerated() {
            let response = try await socket.request(
                .int(id), "providers.config.set", Self.params("acme", [Self.values([(field, value)])]))
            let data = expectError(response, "PROVIDER_CONFIG_INVALID", id: .int(id))
            #expect(data["subCodes"] == ["PROVIDER_CONFIG_ARTIFACT_NOT_FOUND"], "\(response)")
            #expect(data["issues"]?[0]?["field"] == .string(field))
        }
        let globexView = try await socket.result("providers.config.get", Self.params("globex"))
        #expect(globexView["revision"] == 0)

        let snapshot = try await socket.result(
            "providers.config.set",
            Self.params(
                "acme",
                [
                    Self.values([
                        ("cosignMode", "keypair"), ("cosignKey", .string(key.uppercased())),
                        ("registryCaCertificates", [.string(ca)]), ("imageSubscriptions", ["alpine:3.20"]),
                    ])
                ]))
        #expect(Self.field(snapshot, "cosignKey")?["value"] == .string(key))
        let keyMeta = try await socket.result("artifacts.meta", ["tenant": "acme", "artifactId": .string(key)])
        #expect(Self.field(snapshot, "cosignKey")?["artifacts"] == [keyMeta])
        #expect(Self.field(snapshot, "registryCaCertificates")?["artifacts"]?.arrayValue?.count == 1)
        #expect(snapshot["readiness"]?["ready"] == true, "\(snapshot)")

        let inUse = try await socket.request(
            9, "artifacts.delete", ["tenant": "acme", "artifactId": .string(key)])
        let data = expectError(inUse, "ARTIFACT_IN_USE", id: 9)
        #expect(data["references"] == [["providerId": Self.vex, "field": "cosignKey"]])
        // The other tenant cannot even learn that the artifact exists.
        let foreign = try await socket.request(
            10, "artifacts.delete", ["tenant": "globex", "artifactId": .string(key)])
        expectError(foreign, "NOT_FOUND", id: 10)

        _ = try await socket.result(
            "providers.config.set", Self.params("acme", [("clear", ["cosignKey"])]))
        let deleted = try await socket.result("artifacts.delete", ["tenant": "acme", "artifactId": .string(key)])
        #expect(deleted["deleted"] == true)
        let after = try await socket.result("providers.readiness", Self.params("acme"))
        #expect(after["code"] == "PROVIDER_CONFIG_REQUIRED")
        #expect(after["subCodes"] == ["PROVIDER_CONFIG_MISSING_COSIGN_KEY"])
        #expect(
            after["issues"] == [
                [
                    "field": "cosignKey", "subCode": "PROVIDER_CONFIG_MISSING_COSIGN_KEY",
                    "message": "keypair verification needs a cosignKey artifact",
                ]
            ])
    }

    @Test func readinessSeparatesMissingFromInvalid() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let set: (Int, [(String, JSONValue)]) async throws -> JSONValue = { revision, pairs in
            try await socket.result(
                "providers.config.set",
                Self.params("acme", [Self.values(pairs), ("expectedRevision", .int(revision))]))["readiness"] ?? .null
        }
        var readiness = try await set(0, [("imageSubscriptions", ["Upper/Case:1", "ok/name:tag"])])
        #expect(readiness["code"] == "PROVIDER_CONFIG_INVALID")
        #expect(
            readiness["subCodes"] == [
                "PROVIDER_CONFIG_INVALID_IMAGE_REFERENCE", "PROVIDER_CONFIG_MISSING_COSIGN_ISSUER",
                "PROVIDER_CONFIG_MISSING_COSIGN_SUBJECT",
            ])
        readiness = try await set(
            1,
            [
                ("imageSubscriptions", ["ok/name:tag"]), ("cosignMode", "sometimes"), ("offline", "maybe"),
                ("registryEndpoint", "http://registry.local:5000"),
            ])
        #expect(readiness["code"] == "PROVIDER_CONFIG_INVALID")
        #expect(
            readiness["subCodes"] == [
                "PROVIDER_CONFIG_INVALID_COSIGN_MODE", "PROVIDER_CONFIG_INVALID_VALUE",
                "PROVIDER_CONFIG_HTTP_REGISTRY_BLOCKED",
            ])
        readiness = try await set(
            2,
            [
                ("cosignMode", "keyless"), ("offline", "false"), ("allowHttpRegistry", "true"),
                ("cosignIssuer", "http://not-https"), ("cosignSubject", "me@example.com"),
            ])
        #expect(readiness["subCodes"] == ["PROVIDER_CONFIG_INVALID_VALUE"])
        #expect(readiness["issues"]?[0]?["field"] == "cosignIssuer")
        readiness = try await set(3, [("cosignIssuer", "https://accounts.example.com")])
        #expect(
            readiness == [
                "providerId": Self.vex, "ready": true, "state": "ready", "code": .null, "subCodes": [], "issues": [],
            ])
    }

    @Test func aCorruptReferencedArtifactBlocksReadiness() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let root = "{\"trustedRoot\":\"" + String(repeating: "tuf-root-", count: 200) + "\"}"
        let tufRoot = try await Self.upload(socket, root)
        _ = try await socket.result(
            "providers.config.set",
            Self.params(
                "acme",
                [
                    Self.values([
                        ("imageSubscriptions", ["alpine"]), ("cosignIssuer", "https://issuer.example"),
                        ("cosignSubject", "ci@example.com"), ("offline", "true"), ("tufRoot", .string(tufRoot)),
                    ])
                ]))
        #expect(try await socket.result("providers.readiness", Self.params("acme"))["ready"] == true)
        socket.close()
        _ = try await server.stop()

        let path = server.dataDirectory + "/store/data.mdb"
        let found = try #require(try FileDamage.offsets(of: Array(root.utf8), in: path).first)
        try FileDamage.flip(path, at: found + 500, mask: 0x20)

        try await server.start()
        let again = try RawSocket(path: server.socketPath)
        let readiness = try await again.result("providers.readiness", Self.params("acme"))
        #expect(readiness["code"] == "PROVIDER_CONFIG_INVALID")
        #expect(readiness["subCodes"] == ["PROVIDER_CONFIG_ARTIFACT_CORRUPT"])
        #expect(readiness["issues"]?[0]?["field"] == "tufRoot")
        let read = try await again.request(4, "artifacts.read", ["tenant": "acme", "artifactId": .string(tufRoot)])
        expectError(read, "INTEGRITY_ERROR", id: 4)
    }

    @Test func providerFilesAreLoadedAndBadOnesReported() async throws {
        let server = try ServerProcess()
        let directory = server.dataDirectory + "/providers.d"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let good = """
            {"providerId": "acme:mirror", "displayName": "Mirror", "fields": [
              {"key": "endpoint", "shape": "scalar", "required": true, "description": "where"},
              {"key": "mode", "shape": "scalar", "allowedValues": ["fast", "safe"]},
              {"key": "token", "shape": "scalar", "secret": true},
              {"key": "bundles", "shape": "list<artifactRef>"}
            ]}
            """
        try good.write(toFile: directory + "/mirror.json", atomically: true, encoding: .utf8)
        try #"{"providerId": "broken", "fields": []"#.write(
            toFile: directory + "/broken.json", atomically: true, encoding: .utf8)
        try #"{"providerId": "excititor:oci-openvex", "displayName": "again", "fields": []}"#.write(
            toFile: directory + "/shadow.json", atomically: true, encoding: .utf8)
        try "not a definition".write(toFile: directory + "/README.txt", atomically: true, encoding: .utf8)
        try await server.start()
        let socket = try RawSocket(path: server.socketPath)

        let providers = try #require(try await socket.result("providers.list")["providers"]?.arrayValue)
        #expect(providers.map { $0["providerId"] } == [Self.vex, "acme:mirror"])
        #expect(providers[1]["fields"]?[1]?["allowedValues"] == ["fast", "safe"])
        let health = try await socket.result("system.health")
        #expect(health["status"] == "degraded")
        let problems = health["problems"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(problems.contains { $0.hasPrefix("providers.d/broken.json:") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("providers.d/shadow.json:") }, "\(problems)")
        #expect(!problems.contains { $0.contains("README") })

        let mirror: JSONValue = "acme:mirror"
        var readiness = try await socket.result(
            "providers.readiness", ["tenant": "acme", "providerId": mirror])
        #expect(readiness["code"] == "PROVIDER_CONFIG_REQUIRED")
        #expect(readiness["subCodes"] == ["PROVIDER_CONFIG_MISSING_FIELD"])
        let snapshot = try await socket.result(
            "providers.config.set",
            [
                "tenant": "acme", "providerId": mirror,
                "values": ["endpoint": "https://mirror", "mode": "slow", "token": "t0ken-value"],
            ])
        readiness = snapshot["readiness"] ?? .null
        #expect(readiness["code"] == "PROVIDER_CONFIG_INVALID")
        #expect(readiness["subCodes"] == ["PROVIDER_CONFIG_INVALID_VALUE"])
        #expect(Self.field(snapshot, "token")?["value"] == ["set": true])
        #expect(!String(decoding: snapshot.serialized(), as: UTF8.self).contains("t0ken-value"))
    }
}
