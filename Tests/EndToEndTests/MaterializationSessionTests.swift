import CairnClient
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Materialization sessions of the Swift client against a real server:
/// layout, permissions, verification, refusal of planted paths, and
/// cleanup on every path.
@Suite(.timeLimit(.minutes(1)))
struct MaterializationSessionTests {
    let tenant = "acme"

    @Test(.timeLimit(.minutes(1)))
    func filesArePrivateVerifiedAndRemovedOnClose() async throws {
        let server = try await ServerProcess.start()
        let key = Payload.random(451)
        // Over one 4 MiB read, so that a file is written in several pieces.
        let bundle = Payload.random((4 << 20) + 1000)
        let empty: [UInt8] = []
        let temporary = try server.scratchSubdirectory("tmp")
        let sessionID = UUID()

        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            let keyArtifact = try await upload(key, with: client)
            let bundleArtifact = try await upload(bundle, with: client)
            let emptyArtifact = try await upload(empty, with: client)
            let session = try await client.materialize(
                tenant: tenant,
                fields: [
                    .reference("cosignKey", keyArtifact),
                    // The key once more, in upper case and with a prefix: written once.
                    .list(
                        "registryCaCertificates",
                        [
                            bundleArtifact, emptyArtifact,
                            .init(
                                artifactId: keyArtifact.artifactId.uppercased(),
                                sha256: "sha256:" + keyArtifact.sha256.uppercased()),
                        ]),
                ],
                configuration: .init(temporaryDirectory: temporary, sessionID: sessionID))

            let sessions = temporary + "/cairn-artifacts"
            let directory = sessions + "/" + sessionID.uuidString.lowercased()
            #expect(session.directory == directory)
            #expect(permissions(sessions) == 0o700)
            #expect(permissions(directory) == 0o700)
            let keyPath = directory + "/\(keyArtifact.artifactId).bin"
            let bundlePath = directory + "/\(bundleArtifact.artifactId).bin"
            let emptyPath = directory + "/\(emptyArtifact.artifactId).bin"
            #expect(session.path(for: "cosignKey") == keyPath)
            #expect(session.paths(for: "registryCaCertificates") == [bundlePath, emptyPath, keyPath])
            #expect(session.paths(for: "nothing") == nil)
            #expect(
                try Set(FileManager.default.contentsOfDirectory(atPath: directory)) == [
                    "\(keyArtifact.artifactId).bin", "\(bundleArtifact.artifactId).bin",
                    "\(emptyArtifact.artifactId).bin",
                ])
            for (path, content) in [(keyPath, key), (bundlePath, bundle), (emptyPath, empty)] {
                #expect(permissions(path) == 0o600, "\(path)")
                let written = try #require(FileManager.default.contents(atPath: path))
                #expect(Array(written) == content)
                #expect(Payload.sha256(Array(written)) == Payload.sha256(content))
            }

            let config = try session.addFile(named: "config.json", contents: Array("{}".utf8))
            #expect(permissions(config) == 0o600)
            #expect(throws: MaterializationError.self) {
                try session.addFile(named: "config.json", contents: [])
            }

            try session.close()
            #expect(session.isClosed)
            #expect(!FileManager.default.fileExists(atPath: directory))
            #expect(try FileManager.default.contentsOfDirectory(atPath: sessions).isEmpty)
            try session.close()
            try session.close()
            #expect(throws: MaterializationError.self) {
                try session.addFile(named: "late.json", contents: [])
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aDigestMismatchLeavesNoFileBehind() async throws {
        let server = try await ServerProcess.start()
        let temporary = try server.scratchSubdirectory("tmp")
        let kept = server.scratch("kept")

        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            let good = try await upload(Payload.random(300), with: client)
            let other = try await upload(Payload.random(5 << 20), with: client)
            // The right id, the digest of other bytes.
            let lie = MaterializationSession.ExpectedArtifact(
                artifactId: other.artifactId, sha256: Payload.sha256(Array("not these bytes".utf8)))
            let fields: [MaterializationSession.Field] = [.reference("cosignKey", good), .list("bundles", [lie])]

            await #expect {
                _ = try await client.materialize(
                    tenant: tenant, fields: fields, configuration: .init(temporaryDirectory: temporary))
            } throws: { error in
                guard case .digestMismatch(let expected, let actual)? = error as? CairnClientError else { return false }
                return expected == lie.sha256 && actual == other.sha256
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: temporary + "/cairn-artifacts").isEmpty)

            // Into a kept directory: the directory stays, empty.
            await #expect(throws: CairnClientError.self) {
                _ = try await client.materialize(
                    tenant: tenant, fields: fields, configuration: .init(keptDirectory: kept))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: kept).isEmpty)

            // Two digests expected of one artifact: refused before anything is written.
            await #expect {
                _ = try await client.materialize(
                    tenant: tenant,
                    fields: [
                        .reference("cosignKey", good), .list("bundles", [good, lie]),
                        .reference("x", .init(artifactId: other.artifactId, sha256: other.sha256)),
                    ],
                    configuration: .init(temporaryDirectory: temporary))
            } throws: { ($0 as? MaterializationError)?.code == .invalidReference }
            #expect(try FileManager.default.contentsOfDirectory(atPath: temporary + "/cairn-artifacts").isEmpty)

            // A missing artifact fails the same way, with the server's NOT_FOUND.
            let gone = MaterializationSession.ExpectedArtifact(
                artifactId: UUID().uuidString, sha256: Payload.unknownDigest())
            await #expect(throws: CairnClientError.self) {
                _ = try await client.materialize(
                    tenant: tenant, fields: [.reference("cosignKey", good), .reference("tufRoot", gone)],
                    configuration: .init(temporaryDirectory: temporary))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: temporary + "/cairn-artifacts").isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func plantedPathsAreRefusedWithoutWritingThroughThem() async throws {
        let server = try await ServerProcess.start()
        let temporary = try server.scratchSubdirectory("tmp")
        let sessions = temporary + "/cairn-artifacts"
        let victim = try server.scratchSubdirectory("victim")

        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            let key = try await upload(Payload.random(64), with: client)
            func attempt(_ configuration: MaterializationSession.Configuration) async throws -> MaterializationError? {
                do {
                    let session = try await client.materialize(
                        tenant: tenant, fields: [.reference("cosignKey", key)], configuration: configuration)
                    try session.close()
                    return nil
                } catch let error as MaterializationError {
                    return error
                }
            }

            // The sessions directory is a link to somewhere else.
            try FileManager.default.createSymbolicLink(atPath: sessions, withDestinationPath: victim)
            #expect(try await attempt(.init(temporaryDirectory: temporary))?.code == .unsafeDirectory)
            #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty)
            try FileManager.default.removeItem(atPath: sessions)

            // Writable by others.
            try FileManager.default.createDirectory(atPath: sessions, withIntermediateDirectories: false)
            chmod(sessions, 0o777)
            #expect(try await attempt(.init(temporaryDirectory: temporary))?.code == .unsafeDirectory)
            #expect(try FileManager.default.contentsOfDirectory(atPath: sessions).isEmpty)
            chmod(sessions, 0o700)

            // A link planted at the session's own name.
            let planted = UUID()
            let plantedPath = sessions + "/" + planted.uuidString.lowercased()
            try FileManager.default.createSymbolicLink(atPath: plantedPath, withDestinationPath: victim)
            let linked = try await attempt(.init(temporaryDirectory: temporary, sessionID: planted))
            #expect(linked?.code == .pathTaken)
            #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: plantedPath) == victim)

            // A dangling link there: not followed to create its target.
            let dangling = UUID()
            let target = server.scratch("created-through-link")
            try FileManager.default.createSymbolicLink(
                atPath: sessions + "/" + dangling.uuidString.lowercased(), withDestinationPath: target)
            #expect(try await attempt(.init(temporaryDirectory: temporary, sessionID: dangling))?.code == .pathTaken)
            #expect(!FileManager.default.fileExists(atPath: target))

            // A directory planted there (someone else's, open to all).
            let occupied = UUID()
            let occupiedPath = sessions + "/" + occupied.uuidString.lowercased()
            try FileManager.default.createDirectory(
                atPath: occupiedPath, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
            #expect(try await attempt(.init(temporaryDirectory: temporary, sessionID: occupied))?.code == .pathTaken)
            #expect(try FileManager.default.contentsOfDirectory(atPath: occupiedPath).isEmpty)
            #expect(permissions(occupiedPath) == 0o777)

            // A kept directory that is a link, or not empty.
            let keptLink = server.scratch("kept-link")
            try FileManager.default.createSymbolicLink(atPath: keptLink, withDestinationPath: victim)
            #expect(try await attempt(.init(keptDirectory: keptLink))?.code == .unsafeDirectory)
            #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty)
            try Data("x".utf8).write(to: URL(fileURLWithPath: victim + "/existing"))
            #expect(try await attempt(.init(keptDirectory: victim))?.code == .pathTaken)
            #expect(try FileManager.default.contentsOfDirectory(atPath: victim) == ["existing"])
        }
    }

    @Test(.enabled(if: runningAsRoot, "chowns a directory to another uid"), .timeLimit(.minutes(1)))
    func aSessionsDirectoryOfAnotherUserIsRefused() async throws {
        let server = try await ServerProcess.start()
        let temporary = server.scratch("tmp")
        let sessions = temporary + "/cairn-artifacts"
        try FileManager.default.createDirectory(atPath: sessions, withIntermediateDirectories: true)
        chmod(sessions, 0o700)
        chown(sessions, 65534, 65534)
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            let key = try await upload(Payload.random(64), with: client)
            await #expect {
                _ = try await client.materialize(
                    tenant: tenant, fields: [.reference("cosignKey", key)],
                    configuration: .init(temporaryDirectory: temporary))
            } throws: { ($0 as? MaterializationError)?.code == .unsafeDirectory }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: sessions).isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func abandonedSessionsAreRemovedAndLiveOnesKept() async throws {
        let server = try await ServerProcess.start()
        let temporary = try server.scratchSubdirectory("tmp")
        let sessions = temporary + "/cairn-artifacts"
        let victim = try server.scratchSubdirectory("victim")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: victim + "/file"))

        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            let key = try await upload(Payload.random(64), with: client)
            let configuration = MaterializationSession.Configuration(temporaryDirectory: temporary)
            let live = try await client.materialize(
                tenant: tenant, fields: [.reference("cosignKey", key)], configuration: configuration)

            // Left by a killed process: a session directory nobody holds, with a file, a directory and a link.
            let abandoned = sessions + "/" + UUID().uuidString.lowercased()
            try FileManager.default.createDirectory(
                atPath: abandoned + "/inner", withIntermediateDirectories: true)
            try Data("left".utf8).write(to: URL(fileURLWithPath: abandoned + "/inner/x.bin"))
            try FileManager.default.createSymbolicLink(atPath: abandoned + "/link", withDestinationPath: victim)
            // Not session directories: a link named like one, a directory named otherwise.
            let link = sessions + "/" + UUID().uuidString.lowercased()
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
            let other = try server.scratchSubdirectory("tmp/cairn-artifacts/notes")

            let next = try await client.materialize(
                tenant: tenant, fields: [.reference("cosignKey", key)], configuration: configuration)
            #expect(!FileManager.default.fileExists(atPath: abandoned))
            #expect(FileManager.default.fileExists(atPath: live.path(for: "cosignKey")!), "a live session was removed")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == victim)
            #expect(FileManager.default.fileExists(atPath: other))
            #expect(try FileManager.default.contentsOfDirectory(atPath: victim) == ["file"])
            try live.close()
            try next.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func scopedSessionsCleanUpOnReturnThrowAndCancellation() async throws {
        let server = try await ServerProcess.start()
        let temporary = try server.scratchSubdirectory("tmp")
        let sessions = temporary + "/cairn-artifacts"
        let socketPath = server.socketPath
        let tenant = tenant
        let key = try await CairnClient.withConnection(socketPath: socketPath) { client in
            try await upload(Payload.random(100), with: client)
        }
        let configuration = MaterializationSession.Configuration(temporaryDirectory: temporary)

        // Return.
        let returned = try await CairnClient.withConnection(socketPath: socketPath) { client in
            try await client.withMaterializedArtifacts(
                tenant: tenant, fields: [.reference("cosignKey", key)], configuration: configuration
            ) { session in
                #expect(FileManager.default.fileExists(atPath: session.path(for: "cosignKey")!))
                return session.directory
            }
        }
        #expect(!FileManager.default.fileExists(atPath: returned))

        // Throw.
        struct Refused: Error {}
        var thrownFrom: String? = nil
        await #expect(throws: Refused.self) {
            try await CairnClient.withConnection(socketPath: socketPath) { client in
                try await client.withMaterializedArtifacts(
                    tenant: tenant, fields: [.reference("cosignKey", key)], configuration: configuration
                ) { session in
                    thrownFrom = session.directory
                    throw Refused()
                }
            }
        }
        #expect(thrownFrom.map { !FileManager.default.fileExists(atPath: $0) } == true)

        // Cancellation: the body reports its directory, then waits until it is cancelled.
        let (entered, announce) = AsyncStream<String>.makeStream()
        let running = Task {
            try await CairnClient.withConnection(socketPath: socketPath) { client in
                try await client.withMaterializedArtifacts(
                    tenant: tenant, fields: [.reference("cosignKey", key)], configuration: configuration
                ) { session in
                    announce.yield(session.directory)
                    try await Task.sleep(for: .seconds(3600))
                }
            }
        }
        var iterator = entered.makeAsyncIterator()
        let directory = try #require(await iterator.next())
        #expect(FileManager.default.fileExists(atPath: directory))
        running.cancel()
        await #expect(throws: CancellationError.self) { try await running.value }
        #expect(!FileManager.default.fileExists(atPath: directory))

        // Cancelled before it starts: nothing is created.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await CairnClient.withConnection(socketPath: socketPath) { client in
                try await client.withMaterializedArtifacts(
                    tenant: tenant, fields: [.reference("cosignKey", key)], configuration: configuration
                ) { $0.directory }
            }
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        #expect(try FileManager.default.contentsOfDirectory(atPath: sessions).isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func keptDirectoriesKeepTheirFiles() async throws {
        let server = try await ServerProcess.start()
        let kept = server.scratch("inspect")
        try FileManager.default.createDirectory(
            atPath: kept, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let content = Payload.random(1234)
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            let key = try await upload(content, with: client)
            let session = try await client.materialize(
                tenant: tenant, fields: [.reference("cosignKey", key)], configuration: .init(keptDirectory: kept))
            #expect(session.keepsFiles)
            #expect(permissions(kept) == 0o700)
            let path = try #require(session.path(for: "cosignKey"))
            #expect(path == kept + "/\(key.artifactId).bin")
            try session.close()
            #expect(permissions(path) == 0o600)
            #expect(FileManager.default.contents(atPath: path) == Data(content))
        }
    }

    @Test func temporaryDirectoryComesFromTMPDIR() {
        typealias Configuration = MaterializationSession.Configuration
        #expect(Configuration.defaultTemporaryDirectory(environment: ["TMPDIR": "/var/tmp/x"]) == "/var/tmp/x")
        #expect(Configuration.defaultTemporaryDirectory(environment: ["TMPDIR": ""]) == "/tmp")
        #expect(Configuration.defaultTemporaryDirectory(environment: [:]) == "/tmp")
    }

    @Test func environmentNamesAreUpperSnakeCase() {
        let names: [(String, String)] = [
            ("cosignKey", "COSIGN_KEY"), ("registryCaCertificates", "REGISTRY_CA_CERTIFICATES"),
            ("tufRoot", "TUF_ROOT"), ("offlineBundle", "OFFLINE_BUNDLE"), ("HTTPProxy", "HTTP_PROXY"),
            ("caPEMBundle", "CA_PEM_BUNDLE"), ("sha256Sum", "SHA256_SUM"), ("key", "KEY"),
            ("ca-bundle.pem", "CA_BUNDLE_PEM"), ("_x__y_", "X_Y"), ("trustRoot2", "TRUST_ROOT2"),
            ("clé", "CL"), ("--", ""), ("HTTPProxyCA", "HTTP_PROXY_CA"),
        ]
        for (key, name) in names {
            #expect(MaterializationSession.environmentName(forField: key) == name, "\(key)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func environmentLayoutForScalarAndListReferences() async throws {
        let server = try await ServerProcess.start()
        try await CairnClient.withConnection(socketPath: server.socketPath) { client in
            let a = try await upload(Payload.random(10), with: client)
            let b = try await upload(Payload.random(11), with: client)
            let fields: [MaterializationSession.Field] = [
                .reference("cosignKey", a), .list("registryCaCertificates", [b, a]), .list("extraRoots", []),
            ]
            try await client.withMaterializedArtifacts(
                tenant: tenant, fields: fields, configuration: .init(temporaryDirectory: server.scratchDirectory)
            ) { session in
                let key = try #require(session.path(for: "cosignKey"))
                let certificates = try #require(session.paths(for: "registryCaCertificates"))
                let variables = try session.environment()
                #expect(
                    variables.map(\.name) == [
                        "CAIRN_ARTIFACT_COSIGN_KEY", "CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES",
                        "CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_0", "CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_1",
                        "CAIRN_ARTIFACT_EXTRA_ROOTS",
                    ])
                #expect(
                    variables.map(\.value) == [
                        key, certificates.joined(separator: "\n"), certificates[0], certificates[1], "",
                    ])
            }

            let clashing: [[MaterializationSession.Field]] = [
                [.reference("caBundle", a), .reference("ca_bundle", b)],
                [.list("certs", [a]), .reference("certs_0", b)],
                [.reference("--", a)],
            ]
            for fields in clashing {
                _ = try await client.withMaterializedArtifacts(
                    tenant: tenant, fields: fields, configuration: .init(temporaryDirectory: server.scratchDirectory)
                ) { session in
                    #expect(throws: MaterializationError.self, "\(fields)") { try session.environment() }
                }
            }
        }
    }

    // MARK: - Helpers

    /// Uploads `bytes` for the tenant and returns what a session expects of them.
    private func upload(_ bytes: [UInt8], with client: CairnClient) async throws
        -> MaterializationSession.ExpectedArtifact
    {
        let meta = try await client.upload(
            tenant: tenant, providerId: "excititor:oci-openvex", mimeType: "application/octet-stream", bytes: bytes)
        return .init(artifactId: meta.artifactId, sha256: meta.sha256)
    }
}

extension ServerProcess {
    /// A new, empty directory in the scratch directory.
    func scratchSubdirectory(_ name: String) throws -> String {
        let path = scratch(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }
}
