import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What `tools/install` installed: a `cairn` (a debug build under `tools/test`) that needs no library
/// of the toolchain, its completions, man page and units, and an uninstall
/// that removes that and nothing else.
///
/// The build takes minutes, so these tests do not run it: `tools/test`
/// runs `tools/install` into `$CAIRN_INSTALLED_PREFIX` before `swift test`
/// (with its build folder in `$CAIRN_INSTALL_SCRATCH_PATH`), and without
/// those variables the suite is skipped, saying so.
@Suite(
    .enabled(
        if: InstalledCairn.prefix != nil, "tools/test installs into $CAIRN_INSTALLED_PREFIX first; run tools/test"),
    .timeLimit(.minutes(5)))
struct InstallEndToEndTests {

    /// The files `tools/install` puts under its prefix.
    static let installedFiles = [
        "bin/cairn", "share/bash-completion/completions/cairn", "share/zsh/site-functions/_cairn",
        "share/fish/vendor_completions.d/cairn.fish", "share/man/man1/cairn.1", "lib/systemd/system/cairn.socket",
        "lib/systemd/system/cairn.service", "lib/systemd/system/cairn-backup.service",
        "lib/systemd/system/cairn-backup.timer", "lib/sysusers.d/cairn.conf", "share/cairn/install-manifest",
    ]

    private var prefix: String { InstalledCairn.prefix ?? "" }

    @Test func theBinaryNeedsNoLibraryOfTheToolchain() async throws {
        let ldd = try await run("/usr/bin/ldd", [prefix + "/bin/cairn"])
        #expect(ldd.status == 0, "\(ldd)")
        let toolchain = try toolchainDirectory()
        for line in ldd.output.split(separator: "\n") {
            #expect(!line.contains(toolchain), "\(line)")
            #expect(
                line.firstMatch(of: /libswift|libFoundation|lib_Foundation|libicu|libdispatch|libBlocksRuntime/) == nil,
                "\(line)")
            #expect(!line.contains("not found"), "\(line)")
        }
        // The system's libraries stay dynamic.
        #expect(ldd.output.contains("liblmdb.so"))
        #expect(ldd.output.contains("libcrypto.so"))
        let version = try await run(prefix + "/bin/cairn", ["--help"])
        #expect(version.status == 0 && version.output.contains("serve"), "\(version)")
    }

    @Test func everyFileIsInPlaceWithItsMode() throws {
        for file in Self.installedFiles {
            var info = stat()
            #expect(stat(prefix + "/" + file, &info) == 0, "\(file)")
            let expected: mode_t = file == "bin/cairn" ? 0o755 : 0o644
            #expect(info.st_mode & 0o7777 == expected, "\(file)")
        }
        let service = try String(contentsOfFile: prefix + "/lib/systemd/system/cairn.service", encoding: .utf8)
        #expect(service.contains("\nExecStart=\(prefix)/bin/cairn serve --data-dir /var/lib/cairn\n"))
    }

    @Test func completionsAndManPageComeFromTheBinary() throws {
        // Made by the installed binary, so they know every option it has now, --log-format among them.
        for file in [
            "share/bash-completion/completions/cairn", "share/zsh/site-functions/_cairn",
            "share/fish/vendor_completions.d/cairn.fish", "share/man/man1/cairn.1",
        ] {
            let text = try String(contentsOfFile: prefix + "/" + file, encoding: .utf8)
            #expect(text.contains("log-format"), "\(file)")
        }
        let manual = try String(contentsOfFile: prefix + "/share/man/man1/cairn.1", encoding: .utf8)
        #expect(manual.contains(".Dt CAIRN 1"))
    }

    @Test func theUnitsVerify() async throws {
        let units = prefix + "/lib/systemd/system"
        let verify = try await run(
            "/usr/bin/systemd-analyze", [
                "verify", "--man=no", units + "/cairn.socket", units + "/cairn.service",
                units + "/cairn-backup.service", units + "/cairn-backup.timer",
            ])
        #expect(verify.status == 0, "\(verify)")
        // Only complaints about this machine may remain (no cairn user here, no running systemd).
        let complaints = verify.errorOutput.split(separator: "\n").filter { $0.contains("cairn.") }
        #expect(complaints.isEmpty, "\(verify)")

        let security = try await run(
            "/usr/bin/systemd-analyze", ["security", "--offline=true", "--no-pager", units + "/cairn.service"])
        let overall = try #require(
            security.output.firstMatch(of: /Overall exposure level for cairn.service: (\d+\.\d)/))
        // docs/operations.md records 0.4 (SAFE); anything above 1.0 means a setting was lost.
        #expect(try #require(Double(overall.1)) <= 1.0, "\(security)")
    }

    @Test func installingAgainThenUninstallingRemovesOnlyWhatItInstalled() async throws {
        let fixture = try ServerProcess()
        let prefix = fixture.scratch("prefix")
        // Something that was there before: a file of another program, and a directory both use.
        try FileManager.default.createDirectory(
            atPath: prefix + "/bin", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: prefix + "/bin/other"))
        let install = try installCommand(["--prefix", prefix])

        for round in 1...2 {
            let result = try await run(install.executable, install.arguments)
            #expect(result.status == 0, "install \(round): \(result)")
            for file in Self.installedFiles {
                #expect(FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file) after install \(round)")
            }
        }
        let manifest = try String(contentsOfFile: prefix + "/share/cairn/install-manifest", encoding: .utf8)
        #expect(!manifest.contains(" bin\n"), "bin was there before: \(manifest)")
        #expect(manifest.contains("dir - lib/systemd/system\n"), "\(manifest)")

        // A unit an operator edited in place stays.
        let socketUnit = prefix + "/lib/systemd/system/cairn.socket"
        try (try String(contentsOfFile: socketUnit, encoding: .utf8) + "# edited\n").write(
            toFile: socketUnit, atomically: true, encoding: .utf8)

        let uninstall = try await run(install.executable, install.arguments + ["--uninstall"])
        #expect(uninstall.status == 0, "\(uninstall)")
        #expect(uninstall.errorOutput.contains("cairn.socket changed since it was installed"), "\(uninstall)")
        let left = try FileManager.default.subpathsOfDirectory(atPath: prefix).sorted()
        #expect(
            left == ["bin", "bin/other", "lib", "lib/systemd", "lib/systemd/system", "lib/systemd/system/cairn.socket"])

        // Uninstalling again finds nothing to do.
        let again = try await run(install.executable, install.arguments + ["--uninstall"])
        #expect(again.status == 0, "\(again)")
    }

    // MARK: - Helpers

    /// `tools/install` with the build folder `tools/test` used, so that it builds nothing anew.
    private func installCommand(_ arguments: [String]) throws -> (executable: String, arguments: [String]) {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        let script = directory.appendingPathComponent("tools/install").path
        var all = arguments
        if let scratch = ProcessInfo.processInfo.environment["CAIRN_INSTALL_SCRATCH_PATH"], !scratch.isEmpty {
            all += ["--scratch-path", scratch]
        }
        if let configuration = ProcessInfo.processInfo.environment["CAIRN_INSTALL_CONFIGURATION"],
            !configuration.isEmpty
        {
            all += ["--configuration", configuration]
        }
        return (script, all)
    }

    /// The toolchain's `usr` directory, where its shared libraries live.
    private func toolchainDirectory() throws -> String {
        let path = try #require(
            ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/swift" }
                .first { FileManager.default.isExecutableFile(atPath: $0) })
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        return resolved.deletingLastPathComponent().deletingLastPathComponent().path
    }

    private func run(_ executable: String, _ arguments: [String]) async throws -> ServerProcess.CommandResult {
        let fixture = try ServerProcess()
        return try await RunningCommand(
            executable: URL(fileURLWithPath: executable), arguments: arguments,
            environment: ProcessInfo.processInfo.environment, stdin: nil, directory: fixture.scratchDirectory
        ).wait(timeout: .seconds(240))
    }
}

/// What `tools/test` installed with `tools/install` before the tests ran.
enum InstalledCairn {
    /// The prefix it installed into (`$CAIRN_INSTALLED_PREFIX`), when it did.
    static let prefix: String? = {
        guard let prefix = ProcessInfo.processInfo.environment["CAIRN_INSTALLED_PREFIX"], !prefix.isEmpty else {
            return nil
        }
        return prefix
    }()
}
