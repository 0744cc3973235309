import CairnClient
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `cairn backup` without `--data-dir`: the running server takes the
/// snapshot and streams it over the socket, to a caller that needs the
/// `backup` grant and no access to the data directory.
@Suite(.timeLimit(.minutes(2)))
struct BackupOverSocketEndToEndTests {
    /// Content in two tenants, a quota and a provider configuration that references an artifact.
    static func fill(_ server: ServerProcess) async throws {
        _ = try await server.cairn(["quota", "set", "--max-bytes", "1G", "--tenant", "acme"])
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            for index in 0..<6 {
                _ = try await client.upload(
                    tenant: index % 2 == 0 ? "acme" : "beta", providerId: "p", mimeType: "x/y",
                    bytes: Payload.random(1000 + index * 300_000))
            }
        }
        let key = server.scratch("cosign.pub")
        try Data("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n".utf8).write(
            to: URL(fileURLWithPath: key))
        let configured = try await server.cairn([
            "providers", "configure", "excititor:oci-openvex", "--tenant", "acme", "--image", "ghcr.io/acme/api:1.4.2",
            "--set", "cosignMode=keypair", "--upload-artifact", "cosignKey=@\(key)",
        ])
        #expect(configured.status == 0, "\(configured)")
    }

    /// The `digest` field of a command's `--json` output.
    static func digest(_ result: ServerProcess.CommandResult) throws -> String {
        try #require(Audit.json(result.output)["digest"]?.stringValue)
    }

    @Test func aBackupOverTheSocketRestoresToTheSameManifests() async throws {
        let server = try await ServerProcess.start()
        try await Self.fill(server)
        let online = server.scratch("online")
        let taken = try await server.cairn(["backup", "--out", online, "--json"])
        #expect(taken.status == 0, "\(taken)")
        let offline = server.scratch("offline")
        let copied = try await server.cairn(["backup", "--data-dir", server.dataDirectory, "--out", offline, "--json"])
        #expect(copied.status == 0, "\(copied)")
        // The same store, the same manifests, whichever way the backup was taken.
        #expect(try Self.digest(taken) == Self.digest(copied))
        #expect(try FileManager.default.contentsOfDirectory(atPath: online).sorted() == ["MANIFEST.json", "data.mdb"])
        #expect(permissions(online) == 0o700)
        #expect(permissions(online + "/data.mdb") == 0o600)
        #expect(permissions(online + "/MANIFEST.json") == 0o600)
        // The server keeps no snapshot once the backup is done.
        let snapshots = (server.dataDirectory as NSString).appendingPathComponent("snapshots")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: snapshots)) ?? [] == [])

        let restoredServer = try ServerProcess()
        let restored = try await server.cairn([
            "restore", "--from", online, "--data-dir", restoredServer.dataDirectory, "--json",
        ])
        #expect(restored.status == 0, "\(restored)")
        #expect(try Self.digest(restored) == Self.digest(taken))
        // Each tenant's manifest, as an auditor sees it, is the live store's.
        try await restoredServer.start()
        for tenant in ["acme", "beta"] {
            let live = try await server.cairn(["manifest", "--tenant", tenant])
            let again = try await restoredServer.cairn(["manifest", "--tenant", tenant])
            #expect(live.status == 0 && live.output == again.output, "\(tenant)")
        }
    }

    @Test(AuthEndToEndTests.needsRoot)
    func aUidWithOnlyTheBackupGrantBacksUpButReadsAndWritesNothing() async throws {
        let policy =
            #"{"grants":[{"uid":0,"tenants":["*"],"scopes":["read","admin"]},"#
            + #"{"uid":\#(AuthEndToEndTests.otherUID),"tenants":["*"],"scopes":["backup"]}]}"#
        let server = try await AuthEndToEndTests.startReachable(policy: policy)
        try await Self.fill(server)
        let home = (server.root as NSString).appendingPathComponent("other-home")

        // No access to the data directory: the offline backup cannot even start.
        let direct = try await AuthEndToEndTests.cli(
            server, ["backup", "--data-dir", server.dataDirectory, "--out", home + "/direct"])
        #expect(direct.status != 0)

        let backup = home + "/backup"
        let taken = try await AuthEndToEndTests.cli(server, ["backup", "--out", backup, "--json"])
        #expect(taken.status == 0, "\(taken)")
        var info = stat()
        #expect(stat(backup + "/data.mdb", &info) == 0 && info.st_uid == AuthEndToEndTests.otherUID)

        let restoredDir = server.scratch("restored")
        let restored = try await server.cairn(["restore", "--from", backup, "--data-dir", restoredDir, "--json"])
        #expect(restored.status == 0, "\(restored)")
        let reference = server.scratch("reference")
        let copied = try await server.cairn([
            "backup", "--data-dir", server.dataDirectory, "--out", reference, "--json",
        ])
        #expect(try Self.digest(restored) == Self.digest(copied))

        // Manifests, yes; artifacts, no; writes, no.
        #expect(try await AuthEndToEndTests.cli(server, ["manifest", "--tenant", "acme"]).status == 0)
        let listing = try await AuthEndToEndTests.cli(server, ["ls", "--tenant", "acme"])
        #expect(listing.status != 0 && listing.errorOutput.contains("FORBIDDEN"), "\(listing)")
        let file = home + "/new.bin"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o644)
        let put = try await AuthEndToEndTests.cli(
            server, ["put", "--tenant", "acme", "--provider", "p", "--mime-type", "x/y", file])
        #expect(put.status != 0 && put.errorOutput.contains("FORBIDDEN"), "\(put)")
        let quota = try await AuthEndToEndTests.cli(server, ["quota", "set", "--max-bytes", "1", "--tenant", "acme"])
        #expect(quota.status != 0 && quota.errorOutput.contains("FORBIDDEN"), "\(quota)")
        // The store is unchanged by all of that.
        let after = server.scratch("after")
        let again = try await server.cairn(["backup", "--data-dir", server.dataDirectory, "--out", after, "--json"])
        #expect(try Self.digest(again) == Self.digest(copied))
    }

    @Test(AuthEndToEndTests.needsRoot)
    func theBackupGrantOnSomeTenantsTakesNoSnapshot() async throws {
        let policy =
            #"{"grants":[{"uid":0,"tenants":["*"],"scopes":["read","admin"]},"#
            + #"{"uid":\#(AuthEndToEndTests.otherUID),"tenants":["acme"],"scopes":["backup","read"]}]}"#
        let server = try await AuthEndToEndTests.startReachable(policy: policy)
        let home = (server.root as NSString).appendingPathComponent("other-home")
        let refused = try await AuthEndToEndTests.cli(server, ["backup", "--out", home + "/backup"])
        #expect(refused.status != 0 && refused.errorOutput.contains("FORBIDDEN"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: home + "/backup"), "nothing is left behind")
    }
}
