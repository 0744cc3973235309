import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every result Cairn reports is on the disk first: the real server and the
/// real CLI, each run under `strace`, and the order of their flushes,
/// renames and new directories checked call by call.
///
/// The rules (``SyscallTrace/violations(under:notFlushed:)``): a file or
/// directory renamed into place was flushed before the rename, and the
/// directory it landed in after it; a new directory's parent was flushed
/// after the `mkdir`; a file created exclusively and kept where it is was
/// flushed (by its own `fsync`, or a `syncfs` after it, as a directory
/// export does for its thousands of files), and its directory after it.
@Suite(.timeLimit(.minutes(3)), .enabled(if: SyscallTrace.strace != nil, "needs strace"))
struct DurablePublishEndToEndTests {
    @Test func everyPublishIsFlushedInOrder() async throws {
        let run = try TracedRuns()
        let data = run.root + "/fresh/data"
        let server = try await run.startServer(dataDirectory: data)

        // An access policy for backup and restore to carry (the server read none at start).
        try Data(#"{"grants":[{"uid":\#(getuid()),"tenants":["*"],"scopes":["read","admin"]}]}"#.utf8)
            .write(to: URL(fileURLWithPath: data + "/access.json"))
        let work = run.root + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: run.root + "/tmp", withIntermediateDirectories: true)
        let payload = Payload.random((3 << 20) + 5)
        try Data(payload).write(to: URL(fileURLWithPath: work + "/payload.bin"))
        try Data("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n".utf8)
            .write(to: URL(fileURLWithPath: work + "/cosign.pub"))
        let tenant = ["--tenant", "acme"]

        // A put of a file: its resume record is published (in directories the put creates).
        let put = try await run.cairn(["put", work + "/payload.bin", "--provider", "p", "--json"] + tenant)
        try #require(put.status == 0, "\(put)")
        let id = try #require(try JSONParser.parse(put.stdout)["artifactId"]?.stringValue)
        // A download, published over its target.
        let get = try await run.cairn(["get", id, "-o", work + "/copy.bin"] + tenant)
        try #require(get.status == 0, "\(get)")
        #expect(FileManager.default.contents(atPath: work + "/copy.bin") == Data(payload))
        // Exports, as a directory and as a tar file.
        for out in [work + "/export", work + "/export.tar"] {
            let export = try await run.cairn(["export", "--out", out] + tenant)
            try #require(export.status == 0, "\(export)")
        }
        // Materialization: a session directory, and a kept one.
        let provider = "excititor:oci-openvex"
        let configure = try await run.cairn(
            [
                "providers", "configure", provider, "--image", "ghcr.io/org/app:1.0", "--set", "cosignMode=keypair",
                "--upload-artifact", "cosignKey=@\(work)/cosign.pub",
            ] + tenant)
        try #require(configure.status == 0, "\(configure)")
        for keep in [[], ["--keep-dir", work + "/kept"]] {
            let materialize = try await run.cairn(["materialize", provider] + tenant + keep + ["--", "true"])
            try #require(materialize.status == 0, "\(materialize)")
        }
        // A backup into directories it creates, and a restore into a new data directory.
        let backup = run.root + "/backups/nightly/one"
        let backedUp = try await run.cairn(["backup", "--data-dir", data, "--out", backup])
        try #require(backedUp.status == 0, "\(backedUp)")
        let restored = run.root + "/restored/data"
        let restore = try await run.cairn(["restore", "--from", backup, "--data-dir", restored])
        try #require(restore.status == 0, "\(restore)")
        try await run.stop(server)

        let traces = try run.traces()
        let all = traces.flatMap(\.trace.events)
        // The runs did what is checked: the renames and new directories of every publishing path.
        let renamed = Set(all.compactMap { $0.rename?.target })
        let states = run.root + "/state/cairn/uploads"
        for target in [
            work + "/copy.bin", work + "/export", work + "/export.tar", backup + "/MANIFEST.json", restored + "/store",
        ] {
            #expect(renamed.contains(target), "no rename to \(target)")
        }
        #expect(renamed.contains { $0.hasPrefix(states + "/") && $0.hasSuffix(".json") }, "no resume record")
        let created = Set(all.compactMap(\.createdDirectory))
        for directory in [
            run.root + "/fresh", data, data + "/store", run.root + "/state", states, run.root + "/backups", backup,
            run.root + "/restored", restored, run.root + "/tmp/cairn-artifacts", work + "/kept",
        ] {
            #expect(created.contains(directory), "no mkdir of \(directory)")
        }
        // And every one of them is durable, in order.
        for (name, trace) in traces {
            let violations = trace.violations(
                under: run.root, notFlushed: [run.root + "/tmp/cairn-artifacts/", work + "/kept/"])
            #expect(violations.isEmpty, "\(name):\n\(violations.joined(separator: "\n"))")
        }
    }
}

/// The checker itself, on traces written by hand: it finds a missing flush.
@Suite struct SyscallTraceTests {
    let published = """
        100 openat(AT_FDCWD</w>, "/r/.f.part", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 3</r/.f.part>
        100 fsync(3</r/.f.part>) = 0
        100 rename("/r/.f.part", "/r/f") = 0
        100 fsync(4</r>) = 0
        """

    @Test func aPublishWithItsFlushesPasses() {
        #expect(SyscallTrace(parsing: published).violations(under: "/r").isEmpty)
    }

    @Test func aRenameWithoutAFlushOfTheFileFails() {
        let trace = SyscallTrace(
            parsing: published.replacingOccurrences(of: "100 fsync(3</r/.f.part>) = 0\n", with: ""))
        #expect(trace.violations(under: "/r") == ["rename /r/.f.part -> /r/f: /r/.f.part was not flushed before it"])
    }

    @Test func aRenameWithoutAFlushOfItsDirectoryAfterFails() {
        // The directory flushed before the rename does not count.
        let lines = published.split(separator: "\n")
        let trace = SyscallTrace(parsing: [lines[0], lines[3], lines[1], lines[2]].joined(separator: "\n"))
        #expect(trace.violations(under: "/r") == ["rename /r/.f.part -> /r/f: /r was not flushed after it"])
    }

    @Test func aNewDirectoryNeedsItsParentFlushedAfterIt() {
        let good = """
            7 mkdir("/r/a", 0700) = 0
            7 openat(AT_FDCWD</w>, "/r", O_RDONLY|O_DIRECTORY|O_CLOEXEC) = 3</r>
            7 fsync(3</r>) = 0
            8 mkdirat(5</r/a>, "b", 0700 <unfinished ...>
            7 fsync(6</r>) = 0
            8 <... mkdirat resumed>) = 0
            8 fsync(5</r/a>) = 0
            """
        #expect(SyscallTrace(parsing: good).violations(under: "/r").isEmpty)
        let bad = """
            7 fsync(3</r>) = 0
            7 mkdir("/r/a", 0700) = 0
            7 mkdir("/r/a", 0700) = -1 EEXIST (File exists)
            8 mkdirat(5</r/a>, "b", 0700 <unfinished ...>
            7 fsync(5</r/a>) = 0
            8 <... mkdirat resumed>) = 0
            """
        #expect(
            SyscallTrace(parsing: bad).violations(under: "/r") == [
                "mkdir /r/a: /r was not flushed after it", "mkdir /r/a/b: /r/a was not flushed after it",
            ])
    }

    @Test func aFileKeptWhereItWasCreatedNeedsItselfAndItsDirectoryFlushed() {
        let trace = SyscallTrace(
            parsing: """
                9 openat(AT_FDCWD</w>, "/r/data.mdb", O_WRONLY|O_CREAT|O_EXCL, 0600) = 4</r/data.mdb>
                9 openat(AT_FDCWD</w>, "/r/x/n.bin", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600) = 5</r/x/n.bin>
                9 fsync(4</r/data.mdb>) = 0
                9 openat(AT_FDCWD</w>, "/r/lock.mdb", O_RDWR|O_CREAT, 0600) = 6</r/lock.mdb>
                9 openat(AT_FDCWD</w>, "/other/f", O_WRONLY|O_CREAT|O_EXCL, 0600) = 7</other/f>
                """)
        #expect(
            trace.violations(under: "/r", notFlushed: ["/r/x/"]) == ["create /r/data.mdb: /r was not flushed after it"])
    }

    @Test func aSyncfsAfterFilesFlushesThemAll() {
        let trace = SyscallTrace(
            parsing: """
                9 openat(AT_FDCWD</w>, "/r/e/a", O_WRONLY|O_CREAT|O_EXCL, 0600) = 4</r/e/a>
                9 openat(AT_FDCWD</w>, "/r/e/b", O_WRONLY|O_CREAT|O_EXCL, 0600) = 5</r/e/b>
                9 syncfs(6</r/e>) = 0
                9 openat(AT_FDCWD</w>, "/r/e/late", O_WRONLY|O_CREAT|O_EXCL, 0600) = 7</r/e/late>
                9 fsync(8</r/e>) = 0
                """)
        // A file created after the syncfs is not flushed by it.
        #expect(trace.violations(under: "/r") == ["create /r/e/late: it was not flushed"])
    }
}

/// The calls of one `strace -f -y -o FILE` run, in the order they were
/// made, each with the line it started on and the line it ended on (a call
/// that another thread interrupted spans several).
struct SyscallTrace {
    /// `strace`, when it is installed.
    static let strace: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":").map { "\($0)/strace" } + ["/usr/bin/strace"])
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The calls traced (what ``SyscallTrace/Event`` checks).
    static let calls = "openat,mkdir,mkdirat,fsync,fdatasync,syncfs,rename,renameat,renameat2"

    /// One finished system call.
    struct Event {
        var name: String
        var arguments: String
        var result: String
        /// Index of the line it started on, and of the one it finished on.
        var start: Int
        var end: Int

        var succeeded: Bool { !result.hasPrefix("-") && !result.hasPrefix("?") }

        /// For `fsync`/`fdatasync`: the path of the descriptor flushed.
        var flushed: String? {
            guard succeeded, name == "fsync" || name == "fdatasync" else { return nil }
            return SyscallTrace.descriptorPath(arguments)
        }

        /// For `syncfs`: the path of the descriptor whose file system was flushed (every file on it).
        var flushedFileSystem: String? {
            guard succeeded, name == "syncfs" else { return nil }
            return SyscallTrace.descriptorPath(arguments)
        }

        /// For a rename that succeeded: what moved where.
        var rename: (source: String, target: String)? {
            guard succeeded else { return nil }
            let parts = SyscallTrace.split(arguments)
            switch name {
            case "rename" where parts.count == 2:
                return (SyscallTrace.unquote(parts[0]), SyscallTrace.unquote(parts[1]))
            case "renameat", "renameat2":
                guard parts.count >= 4 else { return nil }
                return (
                    SyscallTrace.resolve(parts[1], against: parts[0]), SyscallTrace.resolve(parts[3], against: parts[2])
                )
            default: return nil
            }
        }

        /// For a `mkdir`/`mkdirat` that succeeded: the directory made.
        var createdDirectory: String? {
            guard succeeded else { return nil }
            let parts = SyscallTrace.split(arguments)
            switch name {
            case "mkdir" where !parts.isEmpty: return SyscallTrace.unquote(parts[0])
            case "mkdirat" where parts.count >= 2: return SyscallTrace.resolve(parts[1], against: parts[0])
            default: return nil
            }
        }

        /// For an `openat` with `O_CREAT|O_EXCL` that succeeded: the new file.
        var createdFile: String? {
            guard succeeded, name == "openat", arguments.contains("O_CREAT"), arguments.contains("O_EXCL") else {
                return nil
            }
            return SyscallTrace.descriptorPath(result)
        }
    }

    var events: [Event] = []

    /// Reads `strace -f -y` output: `PID call(args) = result`, with calls
    /// cut by `<unfinished ...>` and finished by `<... call resumed>`.
    init(parsing text: String) {
        var pending: [Substring: (text: String, start: Int)] = [:]
        for (index, line) in text.split(separator: "\n").enumerated() {
            guard let space = line.firstIndex(of: " ") else { continue }
            let pid = line[..<space]
            var rest = String(line[line.index(after: space)...]).trimmingCharacters(in: .whitespaces)
            var start = index
            if rest.hasPrefix("<... "), let resumed = rest.range(of: " resumed>") {
                guard let begun = pending.removeValue(forKey: pid) else { continue }
                rest = begun.text + rest[resumed.upperBound...]
                start = begun.start
            }
            if rest.hasSuffix("<unfinished ...>") {
                pending[pid] = (String(rest.dropLast("<unfinished ...>".count)), start)
                continue
            }
            guard let open = rest.firstIndex(of: "("), let equals = rest.range(of: ") = ", options: .backwards) else {
                continue
            }
            events.append(
                Event(
                    name: String(rest[..<open]), arguments: String(rest[rest.index(after: open)..<equals.lowerBound]),
                    result: String(rest[equals.upperBound...]), start: start, end: index))
        }
    }

    /// Every break of the durability rules by a path under `root`, in words.
    ///
    /// - Parameter notFlushed: prefixes of files that need not be flushed
    ///   where they are created (temporary files, such as a materialization
    ///   session's); their directories' rules still apply.
    func violations(under root: String, notFlushed: [String] = []) -> [String] {
        func inside(_ path: String) -> Bool { path.hasPrefix(root + "/") }
        func flushed(_ path: String, after index: Int) -> Bool {
            events.contains { $0.flushed == path && $0.start > index }
        }
        var problems: [String] = []
        let renames = events.compactMap { event in event.rename.map { (event, $0) } }
        for (event, rename) in renames where inside(rename.target) {
            if !events.contains(where: { $0.flushed == rename.source && $0.end < event.start }) {
                problems.append(
                    "rename \(rename.source) -> \(rename.target): \(rename.source) was not flushed before it")
            }
            let directory = Self.parent(rename.target)
            if !flushed(directory, after: event.end) {
                problems.append("rename \(rename.source) -> \(rename.target): \(directory) was not flushed after it")
            }
        }
        for event in events {
            guard let directory = event.createdDirectory, inside(directory) else { continue }
            if !flushed(Self.parent(directory), after: event.end) {
                problems.append("mkdir \(directory): \(Self.parent(directory)) was not flushed after it")
            }
        }
        let renamedAway = Set(renames.map(\.1.source))
        for event in events {
            guard let file = event.createdFile, inside(file), !renamedAway.contains(file),
                !notFlushed.contains(where: { file.hasPrefix($0) })
            else { continue }
            // Its own fsync, or a syncfs of the test's file system (everything here is on one) after it.
            guard
                let flush = events.first(where: {
                    ($0.flushed == file || $0.flushedFileSystem.map(inside) == true) && $0.start > event.end
                })
            else {
                problems.append("create \(file): it was not flushed")
                continue
            }
            if !flushed(Self.parent(file), after: flush.end) {
                problems.append("create \(file): \(Self.parent(file)) was not flushed after it")
            }
        }
        return problems
    }

    // MARK: - Reading arguments

    /// The path strace `-y` shows for a descriptor: `3</a/b>` → `/a/b`.
    static func descriptorPath(_ text: String) -> String? {
        guard let open = text.firstIndex(of: "<"), text.hasSuffix(">") else { return nil }
        return String(text[text.index(after: open)..<text.index(before: text.endIndex)])
    }

    /// A path argument relative to a directory descriptor argument.
    static func resolve(_ path: String, against directory: String) -> String {
        let name = unquote(path)
        guard !name.hasPrefix("/"), let base = descriptorPath(directory) else { return name }
        return base == "/" ? "/" + name : base + "/" + name
    }

    static func unquote(_ text: String) -> String {
        text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 ? String(text.dropFirst().dropLast()) : text
    }

    /// Top-level arguments, split at commas outside quotes and `<…>`.
    static func split(_ arguments: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var angle = 0
        var escaped = false
        for character in arguments {
            if quoted {
                current.append(character)
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    quoted = false
                }
                continue
            }
            switch character {
            case "\"": quoted = true
            case "<": angle += 1
            case ">": angle -= 1
            case "," where angle == 0:
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        if !current.isEmpty { parts.append(current.trimmingCharacters(in: .whitespaces)) }
        return parts
    }

    static func parent(_ path: String) -> String {
        (path as NSString).deletingLastPathComponent
    }
}

/// The runs of one test, each under `strace`: a server and CLI commands,
/// sharing a temporary directory (with the traces in `traces/`).
final class TracedRuns {
    /// The temporary directory, with symbolic links resolved (strace shows real paths).
    let root: String
    let socketPath: String
    private var count = 0

    init() throws {
        var template = Array("/tmp/cairn-durable-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template), let real = realpath(made, nil) else {
            throw ServerProcess.FixtureError(description: "cannot create a temporary directory")
        }
        root = String(cString: real)
        free(real)
        socketPath = root + "/cairn.sock"
        try FileManager.default.createDirectory(atPath: root + "/traces", withIntermediateDirectories: true)
    }

    deinit {
        if ProcessInfo.processInfo.environment["CAIRN_TEST_KEEP"] == nil {
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    /// Starts `cairn serve` on `dataDirectory` (which need not exist) and waits until it listens.
    func startServer(dataDirectory: String) async throws -> RunningCommand {
        let server = try launch(
            ["serve", "--data-dir", dataDirectory, "--socket", socketPath, "--log-level", "warning"], name: "serve")
        let deadline = ContinuousClock.now + .seconds(30)
        while !ServerProcess.accepts(socketPath) {
            guard server.isRunning else {
                throw ServerProcess.FixtureError(description: "cairn serve exited: \(try await server.wait())")
            }
            guard ContinuousClock.now < deadline else {
                throw ServerProcess.FixtureError(description: "cairn serve did not listen in time")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return server
    }

    /// Stops the traced server gracefully: SIGTERM to `cairn` itself, the child of `strace`.
    func stop(_ server: RunningCommand) async throws {
        let children =
            (try? String(contentsOfFile: "/proc/\(server.pid)/task/\(server.pid)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGTERM) }
        let result = try await server.wait()
        #expect(result.status == 0, "cairn serve: \(result)")
    }

    /// Runs `cairn ARGS` under strace against the server and waits for it.
    func cairn(_ arguments: [String]) async throws -> ServerProcess.CommandResult {
        try await launch(arguments, name: arguments.first ?? "cairn").wait(timeout: .seconds(60))
    }

    /// Every trace written, by the name of its run.
    func traces() throws -> [(name: String, trace: SyscallTrace)] {
        let directory = root + "/traces"
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { name in
            (name, SyscallTrace(parsing: try String(contentsOfFile: directory + "/" + name, encoding: .utf8)))
        }
    }

    private func launch(_ arguments: [String], name: String) throws -> RunningCommand {
        count += 1
        let trace = root + "/traces/\(String(format: "%02d", count))-\(name)"
        var environment = ProcessInfo.processInfo.environment
        environment["CAIRN_TENANT"] = nil
        environment["CAIRN_DATA_DIR"] = nil
        environment["CAIRN_SOCKET"] = socketPath
        environment["XDG_STATE_HOME"] = root + "/state"
        environment["TMPDIR"] = root + "/tmp"
        return try RunningCommand(
            executable: URL(fileURLWithPath: SyscallTrace.strace!),
            arguments: [
                "-f", "-y", "-o", trace, "-e", "trace=\(SyscallTrace.calls)", "--",
                try ServerProcess.cairnExecutable().path,
            ]
                + arguments,
            environment: environment, stdin: nil, directory: root)
    }
}
