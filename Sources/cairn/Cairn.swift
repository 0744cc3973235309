import ArgumentParser

/// The `cairn` command: `serve` runs the server; every other subcommand is
/// a client of its socket.
@main
struct Cairn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "A content-addressed artifact store for local services.",
        discussion: """
            Exit status: 0 success; 1 the server refused the request (its error code is printed), or a \
            local file could not be read or written; 2 bad usage; 3 the server could not be reached; \
            4 the bytes received failed verification; 5 a provider's readiness is blocked. `materialize` \
            exits with its command's status once the command runs. See docs/cli.md.
            """,
        subcommands: [
            Serve.self, Put.self, Get.self, List.self, Meta.self, Remove.self, Stat.self, Usage.self, Quota.self,
            Events.self, Hello.self, Health.self, Providers.self, Materialize.self, Backup.self, Restore.self,
            ManifestCommand.self, Verify.self, Export.self, Import.self, Web.self,
        ]
    )

    /// Runs the command line, with ArgumentParser's usage errors (its `EX_USAGE`, 64) reported as exit status 2
    /// and ``LocalFailure``s as status 1.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as LocalFailure {
            Output.error("cairn: \(failure.message)")
            exit(withError: Failure.Status.refused)
        } catch let failure as RemoteFailure {
            Output.error("cairn: \(failure.message)")
            exit(withError: ExitCode(failure.status))
        } catch let failure as UsageFailure {
            Output.error("cairn: \(failure.message)")
            exit(withError: Failure.Status.usage)
        } catch {
            if exitCode(for: error) == .validationFailure {
                Output.error(fullMessage(for: error))
                exit(withError: Failure.Status.usage)
            }
            exit(withError: error)
        }
    }
}
