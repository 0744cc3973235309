import ArgumentParser

/// The `cairn` command: `serve` runs the server; every other subcommand is
/// a client of its socket.
@main
struct Cairn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "A content-addressed artifact store for local services.",
        discussion: """
            Exit status: 0 success; 1 the server refused the request (its error code is printed); \
            2 bad usage; 3 the server could not be reached; 4 the bytes received failed verification.
            """,
        subcommands: [Serve.self]
    )
}
