import CairnProtocol
import Foundation
import Testing

/// `cairn providers …` beyond the documented flows: all-or-nothing
/// configure, list appends and replacement, host paths, exit statuses.
@Suite(.timeLimit(.minutes(2)))
struct ProviderCLITests {
    static let vex = "excititor:oci-openvex"

    /// Runs `cairn ARGS --tenant acme` and returns the result.
    static func cairn(_ server: ServerProcess, _ args: [String]) async throws -> ServerProcess.CommandResult {
        try await server.cairn(args + ["--tenant", "acme"])
    }

    /// The snapshot as JSON.
    static func snapshot(_ server: ServerProcess) async throws -> JSONValue {
        let show = try await cairn(server, ["providers", "show", vex, "--json"])
        try #require(show.status == 0, "\(show)")
        return try JSONParser.parse(show.stdout)
    }

    static func value(_ snapshot: JSONValue, _ key: String) -> JSONValue? {
        snapshot["fields"]?.arrayValue?.first { $0["key"] == .string(key) }?["value"]
    }

    static func artifactCount(_ server: ServerProcess) async throws -> Int {
        let usage = try await server.cairn(["usage", "--tenant", "acme", "--json"])
        return try JSONParser.parse(usage.stdout)["artifactCount"]?.intValue ?? -1
    }

    @Test func listShowAndReadinessExitStatus() async throws {
        let server = try await ServerProcess.start()
        let list = try await server.cairn(["providers", "list"])
        #expect(list.status == 0)
        #expect(list.output.contains(Self.vex))
        let fields = try await server.cairn(["providers", "list", "--fields"])
        #expect(fields.output.contains("registryPassword") && fields.output.contains("secret"), "\(fields)")
        let json = try await server.cairn(["providers", "list", "--json"])
        #expect(try JSONParser.parse(json.stdout).arrayValue?.first?["providerId"] == .string(Self.vex))

        let blocked = try await Self.cairn(server, ["providers", "readiness", Self.vex])
        #expect(blocked.status == 5, "\(blocked)")
        #expect(blocked.output.hasPrefix("readiness: blocked (PROVIDER_CONFIG_REQUIRED)\n"), "\(blocked)")
        let blockedJSON = try await Self.cairn(server, ["providers", "readiness", Self.vex, "--json"])
        #expect(blockedJSON.status == 5)
        #expect(try JSONParser.parse(blockedJSON.stdout)["code"] == "PROVIDER_CONFIG_REQUIRED")

        let unknown = try await Self.cairn(server, ["providers", "show", "nope:x"])
        #expect(unknown.status == 1)
        #expect(unknown.errorOutput.contains("UNKNOWN_PROVIDER"), "\(unknown)")
        let malformed = try await Self.cairn(server, ["providers", "show", "Not:Valid"])
        #expect(malformed.status == 2, "\(malformed)")
        let noTenant = try await server.cairn(["providers", "show", Self.vex])
        #expect(noTenant.status == 2, "\(noTenant)")
    }

    @Test func listFieldsAppendAndReplaceAndSecretsStayHidden() async throws {
        let server = try await ServerProcess.start()
        for name in ["a.pem", "b.pem", "c.pem"] {
            try "cert \(name)\n".write(toFile: server.scratch(name), atomically: true, encoding: .utf8)
        }
        var result = try await Self.cairn(
            server,
            [
                "providers", "configure", Self.vex, "--upload-artifact", "registryCaCertificates=@a.pem",
                "--set", "imageSubscriptions=one/image:1", "--set", "imageSubscriptions=two/image:2",
                "--set", "registryPassword=pa55-word", "--json",
            ])
        #expect(result.status == 0, "\(result)")
        var snapshot = try JSONParser.parse(result.stdout)
        #expect(Self.value(snapshot, "imageSubscriptions") == ["one/image:1", "two/image:2"])
        #expect(Self.value(snapshot, "registryPassword") == ["set": true])
        let first = try #require(Self.value(snapshot, "registryCaCertificates")?[0])
        #expect(!result.output.contains("pa55-word"))

        // Each --upload-artifact of a list field appends to the stored list.
        result = try await Self.cairn(
            server,
            ["providers", "configure", Self.vex, "--upload-artifact", "registryCaCertificates=@b.pem"])
        #expect(result.status == 0, "\(result)")
        #expect(result.output.contains("registryPassword        scalar             (set)"), "\(result)")
        #expect(!result.output.contains("pa55-word"))
        snapshot = try await Self.snapshot(server)
        let ids = try #require(Self.value(snapshot, "registryCaCertificates")?.arrayValue)
        #expect(ids.count == 2 && ids[0] == first)
        #expect(
            snapshot["fields"]?.arrayValue?.first { $0["key"] == "registryCaCertificates" }?["artifacts"]?[1]?[
                "mimeType"] == "application/x-pem-file")

        // --clear-artifact with uploads replaces the list; the old artifacts stay, unreferenced.
        result = try await Self.cairn(
            server,
            [
                "providers", "configure", Self.vex, "--clear-artifact", "registryCaCertificates",
                "--upload-artifact", "registryCaCertificates=@c.pem",
            ])
        #expect(result.status == 0, "\(result)")
        snapshot = try await Self.snapshot(server)
        #expect(Self.value(snapshot, "registryCaCertificates")?.arrayValue?.count == 1)
        let rm = try await Self.cairn(server, ["rm", first.stringValue!])
        #expect(rm.status == 0, "\(rm)")

        // --clear-artifact alone clears; then the artifact can go.
        let last = try #require(Self.value(snapshot, "registryCaCertificates")?[0]?.stringValue)
        let inUse = try await Self.cairn(server, ["rm", last])
        #expect(inUse.status == 1)
        #expect(inUse.errorOutput.contains("ARTIFACT_IN_USE"), "\(inUse)")
        result = try await Self.cairn(
            server, ["providers", "configure", Self.vex, "--clear-artifact", "registryCaCertificates"])
        #expect(result.status == 0, "\(result)")
        #expect(try await Self.cairn(server, ["rm", last]).status == 0)
        #expect(try await Self.snapshot(server)["revision"] == 4)
    }

    @Test func aRefusedChangeLeavesNothingBehind() async throws {
        let server = try await ServerProcess.start()
        try "key\n".write(toFile: server.scratch("cosign.pub"), atomically: true, encoding: .utf8)
        let stored = try await Self.cairn(server, ["providers", "configure", Self.vex, "--set", "offline=true"])
        #expect(stored.status == 0)
        let before = try await Self.artifactCount(server)

        // A stale revision: the key was uploaded, then the change refused; the key goes again.
        let stale = try await Self.cairn(
            server,
            [
                "providers", "configure", Self.vex, "--upload-artifact", "cosignKey=@cosign.pub",
                "--expected-revision", "0",
            ])
        #expect(stale.status == 1, "\(stale)")
        #expect(stale.errorOutput.contains("CONFLICT"), "\(stale)")
        #expect(try await Self.artifactCount(server) == before)
        #expect(try await Self.snapshot(server)["revision"] == 1)

        // A key of another provider's artifact: refused by the server, nothing stored.
        let other = try await server.cairn(["put", "cosign.pub", "--provider", "other", "--tenant", "acme", "--json"])
        let otherId = try #require(try JSONParser.parse(other.stdout)["artifactId"]?.stringValue)
        let foreign = try await Self.cairn(
            server,
            ["providers", "configure", Self.vex, "--set", "cosignKey=\(otherId)", "--set", "cosignMode=keypair"])
        #expect(foreign.status == 1, "\(foreign)")
        #expect(foreign.errorOutput.contains("PROVIDER_CONFIG_INVALID"), "\(foreign)")
        #expect(Self.value(try await Self.snapshot(server), "cosignMode") == .null)

        // Usage mistakes are caught before anything is sent.
        for args in [
            ["--set", "nosuchfield=1"], ["--set", "cosignKey=/abs/path.pub"],
            ["--upload-artifact", "offline=@cosign.pub"],
            ["--set", "offline"], ["--upload-artifact", "cosignKey=cosign.pub"], ["--clear-artifact", "offline"],
            ["--set", "offline=true", "--clear", "offline"], [],
        ] {
            let result = try await Self.cairn(server, ["providers", "configure", Self.vex] + args)
            #expect(result.status == 2, "\(args): \(result)")
        }
        let missing = try await Self.cairn(
            server, ["providers", "configure", Self.vex, "--upload-artifact", "cosignKey=@missing.pub"])
        #expect(missing.status == 1, "\(missing)")
        #expect(try await Self.artifactCount(server) == before + 1)
        #expect(try await Self.snapshot(server)["revision"] == 1)
    }

    @Test func hostPathCompatUploadsTheNamedFile() async throws {
        let server = try await ServerProcess.start()
        let path = server.scratch("legacy-cosign.pub")
        let key = "-----BEGIN PUBLIC KEY-----\nlegacy\n-----END PUBLIC KEY-----\n"
        try key.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await Self.cairn(
            server,
            [
                "providers", "configure", Self.vex, "--host-path-compat", "--set", "cosignKey=\(path)",
                "--set", "cosignMode=keypair", "--image", "alpine:3", "--list-artifacts",
            ])
        #expect(result.status == 0, "\(result)")
        #expect(result.output.contains("readiness: ready"), "\(result)")
        let snapshot = try await Self.snapshot(server)
        let id = try #require(Self.value(snapshot, "cosignKey")?.stringValue)
        let get = try await Self.cairn(server, ["get", id])
        #expect(get.stdout == Array(key.utf8))
        #expect(result.output.contains(id))
        let artifacts = try await Self.cairn(server, ["providers", "artifacts", Self.vex, "--json"])
        #expect(artifacts.output.split(separator: "\n").count == 1, "\(artifacts)")
    }
}
