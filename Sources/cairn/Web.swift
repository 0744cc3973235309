import ArgumentParser
import CairnClient
import CairnWeb
import Foundation
import ListenAddresses
import UnixSignals

/// `cairn web`: the web console, a client of the socket like every other subcommand.
struct Web: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Serve the web console on a loopback address.",
        discussion: """
            Prints the console's URL, with a one-time login token, as the first line on standard output, \
            then serves until interrupted. The console reaches cairn serve over its socket as the user who \
            runs this command, so it can do what that user can do with the CLI and nothing more. It listens \
            on loopback only, unless --allow-remote is given; to use it from another machine, forward the \
            port over SSH (docs/web.md).
            """
    )

    @Option(
        help: ArgumentHelp(
            "The address and port to listen on; port 0 picks a free one.", valueName: "address:port"))
    var listen = "127.0.0.1:0"

    @Option(
        help: ArgumentHelp("The server's socket; $CAIRN_SOCKET, when set, replaces the default.", valueName: "path"))
    var socket: String = CairnClient.defaultSocketPath()

    @Flag(help: "Listen on an address that is not loopback (anyone who reaches it and has the URL gets the session).")
    var allowRemote = false

    @Option(
        help: ArgumentHelp(
            "Also accept requests naming this host (name[:port]) in Host, e.g. with --allow-remote on 0.0.0.0 "
                + "or a tunnel to another port number (repeatable).", valueName: "host"))
    var allowHost: [String] = []

    @Flag(help: "Open the console in a browser (xdg-open).")
    var open = false

    @Option(help: ArgumentHelp("End a session unused for this many seconds.", valueName: "seconds"))
    var sessionIdleTimeout = 8 * 3600

    /// Test hook: close the connection after storing the N-th upload piece, as a failing network would.
    @Option(help: .hidden)
    var testDropUploadAfter: Int?

    func validate() throws {
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: listen)
        } catch {
            throw ValidationError("--listen: \(error)")
        }
        if !address.isLoopback && !allowRemote {
            throw ValidationError(
                "--listen \(listen) is not a loopback address; the console would be reachable from the network. "
                    + "Forward a loopback port over SSH instead (docs/web.md), or pass --allow-remote.")
        }
        for host in allowHost where host.isEmpty || host.contains(where: { $0 == "/" || $0 == " " || $0 == "@" }) {
            throw ValidationError("--allow-host '\(host)' is not a host name or address, with an optional :port")
        }
        guard sessionIdleTimeout > 0 else { throw ValidationError("--session-idle-timeout must be at least 1") }
    }

    func run() async throws {
        let address = try ListenAddress(parsing: listen)
        if !address.isLoopback {
            Output.error("cairn: warning: the console listens on \(address), which is not loopback")
        }
        do {
            _ = try await CairnClient.withConnection(socketPath: socket) { try await $0.hello() }
        } catch {
            Output.error("cairn: warning: cannot reach the server at \(socket) yet: \(error)")
        }
        let console = WebConsole(
            configuration: .init(
                listen: address, socketPath: socket,
                sessions: .init(idleTimeout: .seconds(sessionIdleTimeout)), otherHosts: allowHost,
                dropUploadAfterPieces: testDropUploadAfter))
        let openBrowser = open
        do {
            try await console.run(gracefulShutdownSignals: [.sigterm, .sigint]) { url in
                print(url)
                fflush(nil)
                if openBrowser { Self.openInBrowser(url) }
            }
        } catch {
            throw LocalFailure("the console cannot listen on \(address): \(error)")
        }
    }

    /// Starts `xdg-open URL`, if there is one; the console runs on either way.
    static func openInBrowser(_ url: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["xdg-open", url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            Output.error("cairn: cannot open a browser (\(error)); open the URL above yourself")
        }
    }
}
