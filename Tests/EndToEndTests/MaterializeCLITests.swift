import CairnDigest
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `cairn materialize` as a shell user runs it: a real server, a provider
/// configured with `cairn providers configure`, and real child commands
/// (`sh`, `sha256sum`, `stat`) that report what they were handed.
@Suite(.timeLimit(.minutes(1)))
struct MaterializeCLITests {
    static let provider = "excititor:oci-openvex"
    let tenant = ["--tenant", "acme"]

    /// A server with the provider configured for keypair mode: a key, two CA bundles, a password.
    struct Fixture {
        let server: ServerProcess
        /// TMPDIR of every run.
        let temporary: String
        /// Where child commands write what they saw.
        let out: String
        let key: [UInt8]
        let certificates: [[UInt8]]

        var sessions: String { temporary + "/cairn-artifacts" }
        var env: [String: String] { ["TMPDIR": temporary, "OUT": out] }

        /// The session directories left behind.
        func leftovers() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: sessions)
        }
    }

    func configured() async throws -> Fixture {
        let server = try await ServerProcess.start()
        let temporary = try server.scratchSubdirectory("tmp")
        let out = try server.scratchSubdirectory("out")
        let key = Array(
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n".utf8)
        let certificates = [Payload.random(3000), Payload.random((4 << 20) + 17)]
        for (name, content) in [("cosign.pub", key), ("ca-1.pem", certificates[0]), ("ca-2.pem", certificates[1])] {
            try Data(content).write(to: URL(fileURLWithPath: server.scratch(name)))
        }
        let configure = try await server.cairn(
            [
                "providers", "configure", Self.provider, "--image", "ghcr.io/org/app:1.0", "--set",
                "cosignMode=keypair", "--upload-artifact", "cosignKey=@cosign.pub", "--upload-artifact",
                "registryCaCertificates=@ca-1.pem", "--upload-artifact", "registryCaCertificates=@ca-2.pem",
                "--set", "registryUsername=robot", "--set", "registryPassword=hunter2",
            ] + tenant)
        try #require(configure.status == 0, "\(configure)")
        return Fixture(
            server: server, temporary: temporary, out: out, key: key, certificates: certificates)
    }

    @Test(.timeLimit(.minutes(1)))
    func theCommandGetsPrivateVerifiedFilesAndTheirPaths() async throws {
        let fixture = try await configured()
        let script = """
            set -e
            env -0 > "$OUT/env"
            stat -c '%a %n' "$(dirname "$CAIRN_CONFIG")" "$CAIRN_CONFIG" "$CAIRN_ARTIFACT_COSIGN_KEY" \
                "$CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_0" "$CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_1" > "$OUT/modes"
            sha256sum "$CAIRN_ARTIFACT_COSIGN_KEY" "$CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_0" \
                "$CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_1" > "$OUT/sums"
            cp "$CAIRN_CONFIG" "$OUT/config.json"
            """
        var env = fixture.env
        // Variables of an enclosing session are not handed down.
        env["CAIRN_ARTIFACT_STALE"] = "/nowhere"
        let run = try await fixture.server.cairn(
            ["materialize", Self.provider] + tenant + ["--", "sh", "-c", script], env: env)
        #expect(run.status == 0, "\(run)")
        #expect(run.errorOutput.isEmpty, "\(run)")

        let environment = try variables(fixture.out + "/env")
        let artifacts = environment.filter { $0.key.hasPrefix("CAIRN_ARTIFACT_") }
        #expect(
            Set(artifacts.keys) == [
                "CAIRN_ARTIFACT_COSIGN_KEY", "CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES",
                "CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_0", "CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_1",
            ])
        let key = try #require(environment["CAIRN_ARTIFACT_COSIGN_KEY"])
        let first = try #require(environment["CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_0"])
        let second = try #require(environment["CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES_1"])
        #expect(environment["CAIRN_ARTIFACT_REGISTRY_CA_CERTIFICATES"] == first + "\n" + second)
        let config = try #require(environment["CAIRN_CONFIG"])

        // <TMPDIR>/cairn-artifacts/<session-uuid>/<artifactId>.bin
        let directory = (config as NSString).deletingLastPathComponent
        #expect((directory as NSString).deletingLastPathComponent == fixture.sessions)
        #expect(UUID(uuidString: (directory as NSString).lastPathComponent) != nil)
        #expect(config == directory + "/config.json")
        for path in [key, first, second] {
            #expect((path as NSString).deletingLastPathComponent == directory)
            let name = (path as NSString).lastPathComponent
            #expect(name.hasSuffix(".bin") && UUID(uuidString: String(name.dropLast(4))) != nil, "\(name)")
        }

        let modes = try String(contentsOfFile: fixture.out + "/modes", encoding: .utf8)
        #expect(modes == "700 \(directory)\n600 \(config)\n600 \(key)\n600 \(first)\n600 \(second)\n")
        let sums = try String(contentsOfFile: fixture.out + "/sums", encoding: .utf8)
        let expected = zip([fixture.key] + fixture.certificates, [key, first, second]).map {
            "\(SHA256Hasher.digest($0.0).hex)  \($0.1)\n"
        }
        #expect(sums == expected.joined())

        let written = try JSONParser.parse(
            Array(try Data(contentsOf: URL(fileURLWithPath: fixture.out + "/config.json"))))
        #expect(written["tenant"] == "acme")
        #expect(written["providerId"] == .string(Self.provider))
        #expect(written["revision"] == 1)
        let values = try #require(written["values"])
        #expect(values["cosignKey"] == .string(key))
        #expect(values["registryCaCertificates"] == .array([.string(first), .string(second)]))
        #expect(values["cosignMode"] == "keypair")
        #expect(values["imageSubscriptions"] == ["ghcr.io/org/app:1.0"])
        #expect(values["registryUsername"] == "robot")
        #expect(values["tufRoot"] == .null)
        #expect(values["registryPassword"] == nil, "a secret reached the configuration file")
        #expect(try !String(contentsOfFile: fixture.out + "/config.json", encoding: .utf8).contains("hunter2"))

        #expect(try fixture.leftovers().isEmpty)
        #expect(permissions(fixture.sessions) == 0o700)
    }

    @Test(.timeLimit(.minutes(1)))
    func dataDefinedProvidersSecretReferencesAndClashingNames() async throws {
        let server = try ServerProcess()
        let definitions = server.dataDirectory + "/providers.d"
        try FileManager.default.createDirectory(
            atPath: definitions, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try """
        {"providerId": "acme:files", "displayName": "Files", "fields": [
          {"key": "signingKey", "shape": "artifactRef", "secret": true, "description": "a private key"},
          {"key": "ca-bundle.pem", "shape": "list<artifactRef>", "description": "CA bundles"},
          {"key": "mode", "shape": "scalar", "description": "how"}
        ]}
        """.write(toFile: definitions + "/files.json", atomically: true, encoding: .utf8)
        try """
        {"providerId": "acme:clash", "displayName": "Clash", "fields": [
          {"key": "caBundle", "shape": "artifactRef", "description": "one"},
          {"key": "ca_bundle", "shape": "artifactRef", "description": "the other"}
        ]}
        """.write(toFile: definitions + "/clash.json", atomically: true, encoding: .utf8)
        try await server.start()
        let out = try server.scratchSubdirectory("out")
        let temporary = try server.scratchSubdirectory("tmp")
        let secret = Payload.random(200)
        let bundles = [Payload.random(300), Payload.random(400)]
        for (name, content) in [("signing.key", secret), ("a.pem", bundles[0]), ("b.pem", bundles[1])] {
            try Data(content).write(to: URL(fileURLWithPath: server.scratch(name)))
        }
        let configure = try await server.cairn(
            [
                "providers", "configure", "acme:files", "--upload-artifact", "signingKey=@signing.key",
                "--upload-artifact", "ca-bundle.pem=@a.pem", "--upload-artifact", "ca-bundle.pem=@b.pem",
                "--set", "mode=fast",
            ] + tenant)
        try #require(configure.status == 0, "\(configure)")

        let env = ["TMPDIR": temporary, "OUT": out]
        let run = try await server.cairn(
            ["materialize", "acme:files"] + tenant + [
                "--", "sh", "-c",
                #"env -0 > "$OUT/env"; cp "$CAIRN_CONFIG" "$OUT/config.json"; cp "$CAIRN_ARTIFACT_SIGNING_KEY" "$OUT/key""#,
            ], env: env)
        #expect(run.status == 0, "\(run)")
        let environment = try variables(out + "/env")
        let key = try #require(environment["CAIRN_ARTIFACT_SIGNING_KEY"])
        let first = try #require(environment["CAIRN_ARTIFACT_CA_BUNDLE_PEM_0"])
        let second = try #require(environment["CAIRN_ARTIFACT_CA_BUNDLE_PEM_1"])
        #expect(environment["CAIRN_ARTIFACT_CA_BUNDLE_PEM"] == first + "\n" + second)
        let config = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))))
        #expect(
            config["values"]
                == .object(
                    JSONObject([("ca-bundle.pem", .array([.string(first), .string(second)])), ("mode", "fast")])),
            "\(config)")
        #expect(FileManager.default.contents(atPath: out + "/key") == Data(secret))
        #expect(!FileManager.default.fileExists(atPath: key))

        // Two fields that would share CAIRN_ARTIFACT_CA_BUNDLE: refused before anything runs.
        let clash = try await server.cairn(
            [
                "providers", "configure", "acme:clash", "--upload-artifact", "caBundle=@a.pem",
                "--upload-artifact", "ca_bundle=@b.pem",
            ] + tenant)
        try #require(clash.status == 0, "\(clash)")
        let refused = try await server.cairn(
            ["materialize", "acme:clash"] + tenant + ["--", "touch", out + "/ran"], env: env)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.errorOutput.contains("CAIRN_ARTIFACT_CA_BUNDLE"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: out + "/ran"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary + "/cairn-artifacts").isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func theCommandsStatusIsPassedOnAndFilesGoAway() async throws {
        let fixture = try await configured()
        let failing = try await fixture.server.cairn(
            ["materialize", Self.provider] + tenant + [
                "--", "sh", "-c", "test -s \"$CAIRN_ARTIFACT_COSIGN_KEY\"; exit 7",
            ],
            env: fixture.env)
        #expect(failing.status == 7, "\(failing)")
        #expect(try fixture.leftovers().isEmpty)

        let missing = try await fixture.server.cairn(
            ["materialize", Self.provider] + tenant + ["--", "no-such-command-\(UUID().uuidString)"], env: fixture.env)
        #expect(missing.status == 127, "\(missing)")
        #expect(missing.errorOutput.hasPrefix("cairn: cannot run no-such-command-"), "\(missing)")
        #expect(try fixture.leftovers().isEmpty)

        let usage = try await fixture.server.cairn(["materialize", Self.provider] + tenant, env: fixture.env)
        #expect(usage.status == 2, "\(usage)")
    }

    @Test(.timeLimit(.minutes(1)))
    func aChildKilledBySIGKILLLeavesNothing() async throws {
        let fixture = try await configured()
        let (run, pid) = try await launchWaiting(fixture)
        #expect(try fixture.leftovers().count == 1)
        kill(pid, SIGKILL)
        let result = try await run.wait()
        #expect(result.status == 128 + SIGKILL, "\(result)")
        #expect(try fixture.leftovers().isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func filesLeftByACLIKilledWithSIGKILLGoWithTheNextRun() async throws {
        let fixture = try await configured()
        let (killed, orphan) = try await launchWaiting(fixture)
        let leftovers = try fixture.leftovers()
        #expect(leftovers.count == 1)
        killed.signal(SIGKILL)
        // The command outlives the CLI; end it too (Foundation's Process sees the CLI end only once every
        // descendant has let go of the descriptor it watches).
        kill(orphan, SIGKILL)
        #expect(try await killed.wait().status == 128 + SIGKILL)
        #expect(try fixture.leftovers() == leftovers, "nothing can clean up after SIGKILL at once")

        // A session still running is left alone by the next run; the abandoned one is not.
        let (running, runningChild) = try await launchWaiting(fixture)
        let next = try await fixture.server.cairn(
            ["materialize", Self.provider] + tenant + ["--", "true"], env: fixture.env)
        #expect(next.status == 0, "\(next)")
        let remaining = try fixture.leftovers()
        #expect(remaining.count == 1)
        #expect(!remaining.contains(leftovers[0]))
        kill(runningChild, SIGTERM)
        #expect(try await running.wait().status == 128 + SIGTERM)
        #expect(try fixture.leftovers().isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func signalsToTheCLIReachTheChildAndFilesGoAway() async throws {
        let fixture = try await configured()

        // SIGTERM: passed on; the child dies of it, and the CLI says so the shell's way.
        let (terminated, _) = try await launchWaiting(fixture)
        terminated.signal(SIGTERM)
        let afterTerm = try await terminated.wait()
        #expect(afterTerm.status == 128 + SIGTERM, "\(afterTerm)")
        #expect(try fixture.leftovers().isEmpty)

        // SIGINT: a child that handles it decides the exit status.
        let handling = """
            trap 'echo interrupted > "$OUT/trapped"; exit 42' INT
            echo $$ > "$OUT/pid.tmp" && mv "$OUT/pid.tmp" "$OUT/pid"
            while :; do sleep 0.05; done
            """
        let interrupted = try fixture.server.launch(
            ["materialize", Self.provider] + tenant + ["--", "sh", "-c", handling], env: fixture.env)
        _ = try await childPID(fixture, interrupted)
        interrupted.signal(SIGINT)
        let afterInt = try await interrupted.wait()
        #expect(afterInt.status == 42, "\(afterInt)")
        #expect(FileManager.default.fileExists(atPath: fixture.out + "/trapped"))
        #expect(try fixture.leftovers().isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func aSignalWhileTheFilesAreWrittenRemovesThem() async throws {
        let fixture = try await configured()
        let proxy = try InterposingProxy(
            path: fixture.server.scratch("proxy.sock"), upstream: fixture.server.socketPath, behavior: .stallAtFirstRead
        )
        defer { proxy.close() }
        let marker = fixture.out + "/ran"
        let run = try fixture.server.launch(
            ["materialize", Self.provider, "--socket", proxy.path] + tenant + ["--", "touch", marker],
            env: fixture.env)
        var stalled = proxy.stalled.makeAsyncIterator()
        await stalled.next()
        // The session exists, its first file created, its bytes held back.
        let sessions = try fixture.leftovers()
        try #require(sessions.count == 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: fixture.sessions + "/" + sessions[0])
        #expect(files.count == 1 && files[0].hasSuffix(".bin"), "\(files)")

        run.signal(SIGTERM)
        let result = try await run.wait()
        #expect(result.status == 128 + SIGTERM, "\(result)")
        #expect(result.errorOutput.isEmpty, "\(result)")
        #expect(try fixture.leftovers().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran")
    }

    @Test(.timeLimit(.minutes(1)))
    func blockedReadinessRefusesToRun() async throws {
        let server = try await ServerProcess.start()
        let temporary = try server.scratchSubdirectory("tmp")
        let marker = server.scratch("ran")
        let command = ["--", "touch", marker]

        // Never configured: imageSubscriptions, cosignIssuer and cosignSubject are missing.
        let refused = try await server.cairn(
            ["materialize", Self.provider] + tenant + command, env: ["TMPDIR": temporary])
        #expect(refused.status == 5, "\(refused)")
        #expect(refused.errorOutput.hasPrefix("cairn: PROVIDER_CONFIG_REQUIRED: "), "\(refused)")
        for subCode in [
            "PROVIDER_CONFIG_MISSING_IMAGE_SUBSCRIPTIONS", "PROVIDER_CONFIG_MISSING_COSIGN_ISSUER",
            "PROVIDER_CONFIG_MISSING_COSIGN_SUBJECT",
        ] {
            #expect(refused.errorOutput.contains(subCode), "\(refused)")
        }
        #expect(refused.errorOutput.contains("--allow-blocked"))
        #expect(refused.errorOutput.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran")
        #expect(!FileManager.default.fileExists(atPath: temporary + "/cairn-artifacts"), "files were written")

        let allowed = try await server.cairn(
            ["materialize", Self.provider, "--allow-blocked"] + tenant + command, env: ["TMPDIR": temporary])
        #expect(allowed.status == 0, "\(allowed)")
        #expect(allowed.errorOutput.contains("PROVIDER_CONFIG_REQUIRED"), "\(allowed)")
        #expect(FileManager.default.fileExists(atPath: marker))
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary + "/cairn-artifacts").isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func keepDirKeepsTheFilesForInspection() async throws {
        let fixture = try await configured()
        let kept = fixture.server.scratch("inspect")
        let run = try await fixture.server.cairn(
            ["materialize", Self.provider, "--keep-dir", kept] + tenant + [
                "--", "sh", "-c", "printf %s \"$CAIRN_ARTIFACT_COSIGN_KEY\" > \"$OUT/key-path\"",
            ], env: fixture.env)
        #expect(run.status == 0, "\(run)")
        #expect(run.errorOutput.contains(kept), "\(run)")
        let keyPath = try String(contentsOfFile: fixture.out + "/key-path", encoding: .utf8)
        #expect((keyPath as NSString).deletingLastPathComponent == kept)
        #expect(permissions(kept) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: kept)
        #expect(names.count == 4, "\(names)")
        #expect(names.contains("config.json"))
        for name in names { #expect(permissions(kept + "/" + name) == 0o600, "\(name)") }
        #expect(FileManager.default.contents(atPath: keyPath) == Data(fixture.key))
        #expect(!FileManager.default.fileExists(atPath: fixture.sessions))

        // Not empty now: refused before the command runs.
        let again = try await fixture.server.cairn(
            ["materialize", Self.provider, "--keep-dir", kept] + tenant + ["--", "touch", fixture.out + "/ran"],
            env: fixture.env)
        #expect(again.status == 1, "\(again)")
        #expect(again.errorOutput.contains("not empty"), "\(again)")
        #expect(!FileManager.default.fileExists(atPath: fixture.out + "/ran"))
    }

    // MARK: - Helpers

    /// Reports its process id (atomically, via rename), then becomes `sleep`, so that a signal to that id reaches
    /// the command itself.
    static let waitingScript = """
        echo $$ > "$OUT/pid.tmp" && mv "$OUT/pid.tmp" "$OUT/pid"
        exec sleep 600
        """

    /// Starts `cairn materialize` with ``waitingScript`` and waits until the command runs.
    ///
    /// - Returns: the CLI, and the command's process id.
    private func launchWaiting(_ fixture: Fixture) async throws -> (RunningCommand, pid_t) {
        let run = try fixture.server.launch(
            ["materialize", Self.provider] + tenant + ["--", "sh", "-c", Self.waitingScript], env: fixture.env)
        return (run, try await childPID(fixture, run))
    }

    /// Waits until the child of `run` has written its process id, and returns it.
    private func childPID(_ fixture: Fixture, _ run: RunningCommand) async throws -> pid_t {
        let path = fixture.out + "/pid"
        let deadline = ContinuousClock.now + .seconds(30)
        while !FileManager.default.fileExists(atPath: path) {
            guard run.isRunning else {
                throw ServerProcess.FixtureError(description: "cairn materialize ended early: \(try await run.wait())")
            }
            guard ContinuousClock.now < deadline else {
                throw ServerProcess.FixtureError(description: "the command did not start")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try FileManager.default.removeItem(atPath: path)
        return try #require(pid_t(text))
    }

    /// The variables of an `env -0` dump.
    private func variables(_ path: String) throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var result: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { continue }
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return result
    }
}
