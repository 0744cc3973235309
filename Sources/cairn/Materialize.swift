import ArgumentParser
import CairnClient
import CairnProtocol
import Foundation
import UnixSignals

/// `cairn materialize PROVIDER -- COMMAND [ARGS…]`: runs a command with a
/// provider's artifacts as private files, and removes them afterwards.
struct Materialize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "materialize",
        abstract: "Run a command with a provider's artifacts as private files, removed when it ends.",
        discussion: """
            Refuses a provider whose readiness is blocked (exit status 5) unless --allow-blocked. Writes \
            every artifact the provider's configuration references to \
            $TMPDIR/cairn-artifacts/<session>/<artifactId>.bin (directory 0700, files 0600, each checked \
            against its sha256) and runs COMMAND with CAIRN_ARTIFACT_<FIELD> (a list field also as \
            CAIRN_ARTIFACT_<FIELD>_0, _1, …) and CAIRN_CONFIG (the configuration as JSON, paths resolved) \
            in its environment. SIGINT, SIGTERM and SIGHUP are passed on to the command. Exits with the \
            command's status, 128+N when signal N ended it, after removing the files. \
            See docs/materialize.md.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Flag(help: "Run the command even when the provider's readiness is blocked.")
    var allowBlocked = false

    @Option(
        help: ArgumentHelp(
            "Write into this empty directory instead (created when absent) and keep the files.", valueName: "dir"))
    var keepDir: String?

    @OptionGroup var providerArgument: ProviderArgument

    @Argument(
        parsing: .postTerminator,
        help: ArgumentHelp("The command to run and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    private var provider: String { providerArgument.id }

    func validate() throws {
        guard let program = command.first, !program.isEmpty else {
            throw ValidationError("no command: give it after --, e.g. cairn materialize \(provider) -- env")
        }
    }

    func run() async throws {
        let relay = await SignalRelay.trapping([.sigint, .sigterm, .sighup])
        let preparation = Task { try await prepare() }
        relay.onSignalWithoutChild { preparation.cancel() }
        let prepared: Prepared
        do {
            prepared = try await preparation.value
        } catch {
            // A signal cancelled the preparation, which removed what it wrote.
            if let signal = relay.firstSignal { throw ExitCode(128 + signal) }
            throw Self.reported(error, socket: client.socket)
        }
        let session = prepared.session
        if let signal = relay.firstSignal {
            try? session.close()
            throw ExitCode(128 + signal)
        }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(command, environment: prepared.environment)
        } catch {
            Output.error("cairn: \(error.message)")
            try? session.close()
            throw ExitCode(error.status)
        }
        relay.adopt(child.pid)
        await child.waitForExit()
        relay.release()
        let status = child.reap()
        do {
            try session.close()
        } catch {
            Output.error("cairn: \(error.message)")
            throw ExitCode(status == 0 ? Failure.Status.refused.rawValue : status)
        }
        if session.keepsFiles { Output.error("cairn: the files stay in \(session.directory)") }
        if status != 0 { throw ExitCode(status) }
    }

    /// The files written and the child's environment.
    private struct Prepared: Sendable {
        var session: MaterializationSession
        var environment: [String: String]
    }

    /// Checks readiness, materializes the artifacts, writes the
    /// configuration file and builds the environment; removes what it
    /// wrote when anything fails or the task is cancelled.
    private func prepare() async throws -> Prepared {
        try await CairnClient.withConnection(socketPath: client.socket) { connection in
            try checkReadiness(try await connection.readiness(tenant: tenant.name, providerId: provider))
            let snapshot = try await connection.providerConfiguration(tenant: tenant.name, providerId: provider)
            let session = try await connection.materialize(
                snapshot: snapshot, configuration: MaterializationSession.Configuration(keptDirectory: keepDir))
            do {
                let configuration = JSONValue.object(
                    JSONObject([
                        ("tenant", snapshot["tenant"] ?? .null), ("providerId", snapshot["providerId"] ?? .null),
                        ("revision", snapshot["revision"] ?? .null),
                        ("values", .object(session.resolvedValues(of: snapshot))),
                    ]))
                let configPath = try session.addFile(
                    named: "config.json", contents: configuration.serialized() + [UInt8(ascii: "\n")])
                // Only this session's variables: none inherited from an enclosing `cairn materialize`.
                var environment = ProcessInfo.processInfo.environment.filter {
                    !$0.key.hasPrefix(MaterializationSession.environmentPrefix) && $0.key != "CAIRN_CONFIG"
                }
                for (name, value) in try session.environment() { environment[name] = value }
                environment["CAIRN_CONFIG"] = configPath
                return Prepared(session: session, environment: environment)
            } catch {
                try? session.close()
                throw error
            }
        }
    }

    /// Stops with status 5 when the provider is blocked, unless `--allow-blocked`.
    private func checkReadiness(_ readiness: JSONValue) throws {
        guard readiness["ready"]?.boolValue != true else { return }
        let code = readiness["code"]?.stringValue ?? "PROVIDER_NOT_READY"
        let subCodes = readiness["subCodes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let why = subCodes.isEmpty ? "" : " (\(subCodes.joined(separator: ", ")))"
        if allowBlocked {
            Output.error("cairn: warning: \(code): \(provider) is not ready\(why); running the command anyway")
            return
        }
        Output.error(
            "cairn: \(code): \(provider) is not ready\(why); --allow-blocked runs the command anyway")
        throw Failure.Status.blocked
    }

    /// The exit status for a failed preparation, after one line on standard error.
    private static func reported(_ error: any Error, socket: String) -> any Error {
        switch error {
        case let error as CairnClientError: Failure.report(error, socket: socket)
        case let error as MaterializationError: LocalFailure(error.message)
        default: error
        }
    }
}
