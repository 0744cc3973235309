import CairnClient
import CairnDigest
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `cairn` CLI as a shell user runs it: real child processes against a
/// real `cairn serve`, checked by output and exit status.
@Suite(.timeLimit(.minutes(1)))
struct CLITests {
    let tenant = ["--tenant", "acme"]

    @Test(.timeLimit(.minutes(1)))
    func putListGetRemoveRoundTrip() async throws {
        let server = try await ServerProcess.start()
        let content = Payload.random((5 << 20) + 123)
        let file = server.scratch("payload.bin")
        try Data(content).write(to: URL(fileURLWithPath: file))

        let put = try await server.cairn(
            ["put", file, "--provider", "excititor:oci-openvex", "--mime-type", "text/x-test"] + tenant)
        #expect(put.status == 0, "\(put)")
        let fields = keyValues(put.output)
        let id = try #require(fields["artifactId"])
        #expect(fields["sha256"] == sha256(content))
        #expect(fields["sizeBytes"]?.hasPrefix("\(content.count) ") == true)
        #expect(fields["mimeType"] == "text/x-test")
        #expect(fields["deduplicated"] == "false")

        // The same bytes from standard input: deduplicated, JSON output.
        let again = try await server.cairn(["put", "-", "--provider", "p", "--json"] + tenant, stdin: content)
        #expect(again.status == 0, "\(again)")
        let againMeta = try json(again.output)
        #expect(againMeta["sha256"]?.stringValue == sha256(content))
        #expect(againMeta["deduplicated"] == .bool(true))
        let secondId = try #require(againMeta["artifactId"]?.stringValue)

        let table = try await server.cairn(["ls"] + tenant)
        #expect(table.status == 0, "\(table)")
        let rows = table.output.split(separator: "\n")
        #expect(rows.first?.hasPrefix("ID") == true)
        #expect(rows.count == 3)
        #expect(rows.contains { $0.hasPrefix(id) && $0.contains(String(sha256(content).prefix(12))) })

        let listed = try await server.cairn(["ls", "--json", "--provider", "p"] + tenant)
        let lines = listed.output.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(try json(String(lines[0]))["artifactId"]?.stringValue == secondId)

        let limited = try await server.cairn(["ls", "--json", "--limit", "1"] + tenant)
        #expect(limited.output.split(separator: "\n").count == 1)

        let output = server.scratch("copy.bin")
        let get = try await server.cairn(["get", id, "-o", output] + tenant)
        #expect(get.status == 0, "\(get)")
        #expect(FileManager.default.contents(atPath: output) == Data(content))

        let streamed = try await server.cairn(["get", id.uppercased()] + tenant)
        #expect(streamed.status == 0)
        #expect(streamed.stdout == content)

        let meta = try await server.cairn(["meta", id, "--json"] + tenant)
        #expect(try json(meta.output)["artifactId"]?.stringValue == id)

        // -o naming a FIFO (as /dev/stdout names a pipe or a terminal) writes into it,
        // and never renames a file over it.
        let small = Payload.random(20_000)
        let smallPut = try await server.cairn(["put", "-", "--provider", "p", "--json"] + tenant, stdin: small)
        let smallId = try #require(try json(smallPut.output)["artifactId"]?.stringValue)
        let fifo = server.scratch("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // Held open for reading and writing, so the writer's open does not wait for a reader;
        // 20,000 bytes fit in the pipe's buffer.
        let reader = open(fifo, O_RDWR | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        let intoFifo = try await server.cairn(["get", smallId, "-o", fifo] + tenant)
        #expect(intoFifo.status == 0, "\(intoFifo)")
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while case let count = read(reader, &buffer, buffer.count), count > 0 {
            received += buffer[0..<count]
        }
        #expect(received == small)
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(try await server.cairn(["rm", smallId] + tenant).status == 0)

        let stat = try await server.cairn(["stat", "sha256:" + sha256(content).uppercased(), "--json"] + tenant)
        #expect(stat.status == 0, "\(stat)")
        #expect(try json(stat.output)["artifactIds"]?.arrayValue?.count == 2)

        let firstRemoval = try await server.cairn(["rm", id] + tenant)
        #expect(firstRemoval.status == 0, "\(firstRemoval)")
        #expect(keyValues(firstRemoval.output)["blobFreed"] == "false")
        let secondRemoval = try await server.cairn(["rm", secondId, "--json"] + tenant)
        #expect(try json(secondRemoval.output)["blobFreed"] == .bool(true))

        let empty = try await server.cairn(["ls", "--json"] + tenant)
        #expect(empty.status == 0)
        #expect(empty.output.isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func putRefusesBytesDamagedOnTheWay() async throws {
        let server = try await ServerProcess.start()
        let content = Payload.random(6 << 20)
        let file = server.scratch("damaged.bin")
        try Data(content).write(to: URL(fileURLWithPath: file))
        // 2 MiB into the requests is inside the first append's attachment: the framing stays intact and
        // only the content changes, which nothing but the transfer check can tell: XXH3-128, or SHA-256
        // where the server does not list `xxh128` (here: where the proxy hides it).
        for (index, (source, hidden)) in [(file, nil), ("-", nil), (file, "xxh128"), ("-", "xxh128")].enumerated() {
            let proxy = try InterposingProxy(
                path: server.scratch("flip\(index).sock"), upstream: server.socketPath,
                behavior: .tamper(flipRequestByteAt: 2 << 20, hideCapability: hidden))
            defer { proxy.close() }
            let put = try await server.cairn(
                ["put", source, "--provider", "p", "--socket", proxy.path] + tenant, stdin: content)
            #expect(put.status == 1, "\(source), \(hidden ?? "-"): \(put)")
            #expect(put.errorOutput.hasPrefix("cairn: DIGEST_MISMATCH: "), "\(source), \(hidden ?? "-"): \(put)")
            #expect(put.errorOutput.contains(hidden == nil ? "xxh128" : "sha256"), "\(put)")
        }
        // Nothing stored, nothing left open.
        let listed = try await server.cairn(["ls", "--json"] + tenant)
        #expect(listed.status == 0 && listed.output.isEmpty, "\(listed)")
        #expect(keyValues(try await server.cairn(["health"]).output)["openUploads"] == "0")

        // Unharmed, the same put stores the file, whichever check it makes.
        let hiding = try InterposingProxy(
            path: server.scratch("hide.sock"), upstream: server.socketPath,
            behavior: .tamper(flipRequestByteAt: nil, hideCapability: "xxh128"))
        defer { hiding.close() }
        for socket in [hiding.path, server.socketPath] {
            let put = try await server.cairn(["put", file, "--provider", "p", "--json", "--socket", socket] + tenant)
            #expect(put.status == 0, "\(put)")
            #expect(try json(put.output)["sha256"]?.stringValue == sha256(content))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func smallPutInOneRequestRefusesBytesDamagedOnTheWay() async throws {
        let server = try await ServerProcess.start()
        // Up to 1 MiB goes in one artifacts.upload, checked against the SHA-256 the CLI computed.
        let content = Payload.random(200_000)
        let file = server.scratch("small.bin")
        try Data(content).write(to: URL(fileURLWithPath: file))
        for (index, source) in [file, "-"].enumerated() {
            // 100,000 bytes into the requests: past the hello and the upload's line, inside its attachment.
            let proxy = try InterposingProxy(
                path: server.scratch("flip\(index).sock"), upstream: server.socketPath,
                behavior: .tamper(flipRequestByteAt: 100_000, hideCapability: nil))
            defer { proxy.close() }
            let put = try await server.cairn(
                ["put", source, "--provider", "p", "--socket", proxy.path] + tenant, stdin: content)
            #expect(put.status == 1, "\(source): \(put)")
            #expect(put.errorOutput.hasPrefix("cairn: DIGEST_MISMATCH: "), "\(source): \(put)")
        }
        let listed = try await server.cairn(["ls", "--json"] + tenant)
        #expect(listed.status == 0 && listed.output.isEmpty, "\(listed)")

        // Unharmed, it is stored, with no upload left open and no resume record written.
        for source in [file, "-"] {
            let put = try await server.cairn(["put", source, "--provider", "p", "--json"] + tenant, stdin: content)
            #expect(put.status == 0, "\(put)")
            #expect(try json(put.output)["sha256"]?.stringValue == sha256(content))
        }
        let records = (server.stateDirectory as NSString).appendingPathComponent("cairn/uploads")
        #expect(try recordNames(records).isEmpty)
        #expect(keyValues(try await server.cairn(["health"]).output)["openUploads"] == "0")
    }

    @Test(.timeLimit(.minutes(1)))
    func putWithAnExpectedDigestStoresOnlyThatContent() async throws {
        let server = try await ServerProcess.start()
        let content = Payload.random(300_000)
        let file = server.scratch("expected.bin")
        try Data(content).write(to: URL(fileURLWithPath: file))
        let other = sha256(Array("other".utf8))

        for source in [file, "-"] {
            let refused = try await server.cairn(
                ["put", source, "--provider", "p", "--sha256", other] + tenant, stdin: content)
            #expect(refused.status == 1, "\(source): \(refused)")
            #expect(refused.errorOutput.hasPrefix("cairn: DIGEST_MISMATCH: "), "\(source): \(refused)")
        }
        let listed = try await server.cairn(["ls", "--json"] + tenant)
        #expect(listed.status == 0 && listed.output.isEmpty, "\(listed)")

        let malformed = try await server.cairn(["put", file, "--provider", "p", "--sha256", "abc"] + tenant)
        #expect(malformed.status == 2, "\(malformed)")
        #expect(malformed.errorOutput.contains("--sha256"), "\(malformed)")

        let stored = try await server.cairn(
            ["put", file, "--provider", "p", "--json", "--sha256", "SHA256:" + sha256(content).uppercased()] + tenant)
        #expect(stored.status == 0, "\(stored)")
        #expect(try json(stored.output)["sha256"]?.stringValue == sha256(content))
        // From standard input in 74 pipelined appends, and read back.
        let streamed = try await server.cairn(
            ["put", "-", "--provider", "p", "--json", "--chunk-bytes", "4096", "--sha256", sha256(content)] + tenant,
            stdin: content)
        #expect(streamed.status == 0, "\(streamed)")
        let streamedId = try #require(try json(streamed.output)["artifactId"]?.stringValue)
        let copy = server.scratch("streamed.copy")
        #expect(try await server.cairn(["get", streamedId, "-o", copy] + tenant).status == 0)
        #expect(FileManager.default.contents(atPath: copy) == Data(content))
    }

    @Test(.timeLimit(.minutes(1)))
    func tenantCommands() async throws {
        let server = try await ServerProcess.start()
        let env = ["CAIRN_TENANT": "acme"]

        let quota = try await server.cairn(["quota", "set", "--max-bytes", "1K", "--max-artifacts", "3"], env: env)
        #expect(quota.status == 0, "\(quota)")
        #expect(keyValues(quota.output)["maxBytes"] == "1024 (1.0 KiB)")
        #expect(keyValues(quota.output)["maxArtifacts"] == "3")

        let tooBig = try await server.cairn(["put", "-", "--provider", "p"], stdin: Payload.random(2000), env: env)
        #expect(tooBig.status == 1, "\(tooBig)")
        #expect(tooBig.errorOutput.hasPrefix("cairn: QUOTA_EXCEEDED: "))
        #expect(tooBig.errorOutput.split(separator: "\n").count == 1)

        let small = try await server.cairn(["put", "-", "--provider", "p"], stdin: Array("hello\n".utf8), env: env)
        #expect(small.status == 0, "\(small)")

        let usage = try await server.cairn(["usage", "--json"], env: env)
        let usageResult = try json(usage.output)
        #expect(usageResult["artifactCount"] == 1)
        #expect(usageResult["quota"]?["maxBytes"] == 1024)

        let removed = try await server.cairn(["quota", "set", "--max-bytes", "none"], env: env)
        #expect(keyValues(removed.output)["maxBytes"] == "none")
        #expect(keyValues(removed.output)["maxArtifacts"] == "3")

        let events = try await server.cairn(["events", "--json"], env: env)
        let actions = try events.output.split(separator: "\n").map { try json(String($0))["action"]?.stringValue }
        #expect(actions == ["quota.set", "artifact.created", "quota.set"])
        let eventTable = try await server.cairn(["events", "--limit", "1"], env: env)
        #expect(eventTable.output.split(separator: "\n").count == 2)

        let hello = try await server.cairn(["hello", "--json"])
        #expect(hello.status == 0)
        #expect(try json(hello.output)["protocol"] == 1)

        let health = try await server.cairn(["health"])
        #expect(health.status == 0, "\(health)")
        #expect(keyValues(health.output)["openUploads"] == "0")
    }

    @Test(.timeLimit(.minutes(1)))
    func interruptedPutResumes() async throws {
        let server = try await ServerProcess.start()
        let content = Payload.random(96 << 20)
        let file = server.scratch("big.bin")
        try Data(content).write(to: URL(fileURLWithPath: file))
        let arguments = ["put", file, "--provider", "p"] + tenant

        // Small appends (a few per transaction) make the first put slow enough
        // to interrupt half-way, even with appends pipelined and a test process
        // starved by the rest of the suite: 12,288 of them for the whole file.
        let first = try server.launch(arguments + ["--chunk-bytes", "8192"])
        let records = (server.stateDirectory as NSString).appendingPathComponent("cairn/uploads")
        var uploadId: String? = nil
        var offset: UInt64 = 0
        while offset < 1 << 20 {
            try #require(first.isRunning, "the put ended before it could be interrupted")
            if uploadId == nil, let name = try? recordNames(records).first {
                let record = try json(
                    String(contentsOfFile: (records as NSString).appendingPathComponent(name), encoding: .utf8))
                uploadId = record["uploadId"]?.stringValue
            }
            if let uploadId {
                // Stopped while its offset is read, so that it cannot finish between the reading and the
                // kill (a busy test process may take its time to act on the answer; the put is quick).
                first.signal(SIGSTOP)
                offset = try await CairnClient.withConnection(socketPath: server.socketPath) {
                    try await $0.uploadOffset(uploadId: uploadId)
                }
                if offset >= 1 << 20 { break }
                first.signal(SIGCONT)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        first.signal(SIGKILL)
        let killed = try await first.wait()
        #expect(killed.status == 128 + SIGKILL)
        let id = try #require(uploadId)
        #expect(try recordNames(records).count == 1)

        let second = try await server.cairn(arguments)
        #expect(second.status == 0, "\(second)")
        #expect(second.errorOutput.contains("resuming upload \(id)"))
        #expect(!second.errorOutput.contains("resuming upload \(id) at 0 B"))
        #expect(keyValues(second.output)["sha256"] == sha256(content))
        #expect(try recordNames(records).isEmpty)

        let health = try await server.cairn(["health", "--json"])
        #expect(try json(health.output)["store"]?["openUploads"] == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func getLeavesNoFileWhenTheStoreIsCorrupt() async throws {
        let server = try await ServerProcess.start()
        // Over one 4 MiB read, so the first read succeeds and lands in the temporary file.
        let content = Payload.random(6 << 20)
        let file = server.scratch("six.bin")
        try Data(content).write(to: URL(fileURLWithPath: file))
        let put = try await server.cairn(["put", file, "--provider", "p", "--json"] + tenant)
        let id = try #require(try json(put.output)["artifactId"]?.stringValue)

        // Flip a byte of the last stored chunk in the LMDB file; the store's chunk digest must catch it.
        let store = (server.dataDirectory as NSString).appendingPathComponent("store/data.mdb")
        let probe = Data(content[(5 << 20) + 4096..<(5 << 20) + 4160])
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: store))
        let image = try handle.readToEnd() ?? Data()
        let position = try #require(image.range(of: probe)?.lowerBound)
        try handle.seek(toOffset: UInt64(position))
        try handle.write(contentsOf: Data([image[position] ^ 0xff]))
        try handle.close()

        let outputs = server.scratch("out")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
        let target = (outputs as NSString).appendingPathComponent("six.copy")
        let get = try await server.cairn(["get", id, "-o", target] + tenant)
        #expect(get.status == 1, "\(get)")
        #expect(get.errorOutput.hasPrefix("cairn: INTEGRITY_ERROR: "))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs).isEmpty)

        // An existing file is left as it was.
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        let over = try await server.cairn(["get", id, "-o", target] + tenant)
        #expect(over.status == 1)
        #expect(FileManager.default.contents(atPath: target) == Data("old".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs) == ["six.copy"])

        let toStandardOutput = try await server.cairn(["get", id] + tenant)
        #expect(toStandardOutput.status == 1)

        let missing = try await server.cairn(["get", UUID().uuidString, "-o", target] + tenant)
        #expect(missing.status == 1)
        #expect(missing.errorOutput.hasPrefix("cairn: NOT_FOUND: "))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs) == ["six.copy"])
    }

    @Test(.timeLimit(.minutes(1)))
    func getRejectsBytesThatDoNotMatchTheDigest() async throws {
        let server = try ServerProcess()
        let content = Payload.random(6 << 20)
        let liar = try LyingServer(
            path: server.scratch("liar.sock"), content: content, announcedSHA256: sha256(Array("something else".utf8)))
        defer { liar.close() }
        let id = UUID().uuidString.lowercased()
        let outputs = server.scratch("out")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
        let target = (outputs as NSString).appendingPathComponent("copy")
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))

        let get = try await server.cairn(["get", id, "-o", target, "--socket", liar.path] + tenant)
        #expect(get.status == 4, "\(get)")
        #expect(get.errorOutput.hasPrefix("cairn: DIGEST_MISMATCH: "))
        #expect(FileManager.default.contents(atPath: target) == Data("old".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs) == ["copy"])

        let streamed = try await server.cairn(["get", id, "--socket", liar.path] + tenant)
        #expect(streamed.status == 4)
        #expect(streamed.errorOutput.contains("discard"))
    }

    @Test(.timeLimit(.minutes(1)))
    func exitStatuses() async throws {
        let server = try await ServerProcess.start()
        let usageErrors: [[String]] = [
            ["meta", "not-a-uuid"] + tenant,
            ["usage"],
            ["ls", "--tenant", "Not_Valid"],
            ["ls", "--bogus"] + tenant,
            ["quota", "set"] + tenant,
            ["quota", "set", "--max-bytes", "lots"] + tenant,
            ["stat", "abc123"] + tenant,
            ["put", server.scratch("missing.bin"), "--provider", "p"] + tenant,
            ["put", "-"] + tenant,
            ["ls", "--all", "--limit", "3"] + tenant,
        ]
        for arguments in usageErrors {
            let result = try await server.cairn(arguments)
            #expect(result.status == 2, "cairn \(arguments): \(result)")
            #expect(!result.errorOutput.isEmpty)
        }
        let fromEnvironment = try await server.cairn(["usage"], env: ["CAIRN_TENANT": "acme"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment)")

        let notFound = try await server.cairn(["meta", UUID().uuidString] + tenant)
        #expect(notFound.status == 1)
        #expect(notFound.errorOutput.hasPrefix("cairn: NOT_FOUND: "))
        #expect(notFound.errorOutput.split(separator: "\n").count == 1)
        let removal = try await server.cairn(["rm", UUID().uuidString] + tenant)
        #expect(removal.status == 1)

        let elsewhere = server.scratch("nobody.sock")
        let unreachable = try await server.cairn(["hello", "--socket", elsewhere])
        #expect(unreachable.status == 3)
        #expect(unreachable.errorOutput.contains(elsewhere))
        #expect(unreachable.errorOutput.contains("--socket"))

        try await server.stop()
        let stopped = try await server.cairn(["ls"] + tenant)
        #expect(stopped.status == 3, "\(stopped)")
        #expect(stopped.errorOutput.contains(server.socketPath))
    }

    @Test(.timeLimit(.minutes(1)))
    func artifactsSurviveKillAndRestart() async throws {
        let server = try await ServerProcess.start()
        let put = try await server.cairn(["put", "-", "--provider", "p", "--json"] + tenant, stdin: Array("kept".utf8))
        let id = try #require(try json(put.output)["artifactId"]?.stringValue)

        try await server.kill()
        #expect(!server.isRunning)
        try await server.start()
        let afterKill = try await server.cairn(["get", id] + tenant)
        #expect(afterKill.output == "kept", "\(afterKill)")

        try await server.restart()
        let afterRestart = try await server.cairn(["meta", id, "--json"] + tenant)
        #expect(try json(afterRestart.output)["sizeBytes"] == 4)
        #expect(try await server.stop() == 0)
    }

    // MARK: - Helpers

    private func sha256(_ bytes: [UInt8]) -> String {
        SHA256Hasher.digest(bytes).hex
    }

    private func json(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    /// `key: value` lines as printed for people; the value's first word for sizes is kept whole.
    private func keyValues(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            guard !key.contains(" ") else { continue }
            fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    private func recordNames(_ directory: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
    }
}

/// A stand-in server that announces one sha256 for an artifact and sends
/// bytes with another, to show that the CLI checks what it receives.
///
/// It answers `system.hello`, `artifacts.meta` and `artifacts.read` (binary)
/// for any id, one connection at a time, on a thread of its own.
final class LyingServer: Sendable {
    let path: String
    private let listener: Int32

    init(path: String, content: [UInt8], announcedSHA256: String) throws {
        self.path = path
        #if canImport(Glibc)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ServerProcess.FixtureError(description: "socket: \(errno)") }
        let bound = ServerProcess.withUnixAddress(path) { bind(fd, $0, $1) }
        guard bound == 0, listen(fd, 8) == 0 else {
            closeDescriptor(fd)
            throw ServerProcess.FixtureError(description: "cannot listen on \(path): \(errno)")
        }
        listener = fd
        Thread.detachNewThread {
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }
                Self.serve(connection, content: content, sha256: announcedSHA256)
                closeDescriptor(connection)
            }
        }
    }

    /// Stops accepting and removes the socket.
    func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        closeDescriptor(listener)
        unlink(path)
    }

    private static func serve(_ connection: Int32, content: [UInt8], sha256: String) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: 0x0a) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                guard let request = try? JSONParser.parse(line) else { return }
                var (response, attachment) = answer(request, content: content, sha256: sha256)
                response.append(0x0a)
                response += attachment
                guard response.withUnsafeBytes({ writeAll(connection, $0) }) else { return }
            }
        }
    }

    private static func answer(_ request: JSONValue, content: [UInt8], sha256: String) -> ([UInt8], [UInt8]) {
        let id = request["id"] ?? .null
        let params = request["params"]
        func reply(_ result: JSONValue) -> [UInt8] {
            JSONValue.object(JSONObject([("jsonrpc", "2.0"), ("id", id), ("result", result)])).serialized()
        }
        switch request["method"]?.stringValue {
        case "system.hello":
            return (
                reply([
                    "server": "liar", "protocol": 1,
                    "limits": ["maxRequestBytes": 16_777_216, "maxChunkBytes": 4_194_304],
                ]),
                []
            )
        case "artifacts.meta":
            let meta: JSONValue = [
                "artifactId": params?["artifactId"] ?? .null, "tenantId": params?["tenant"] ?? .null, "providerId": "p",
                "mimeType": "application/octet-stream", "sizeBytes": .number(JSONNumber(content.count)),
                "sha256": .string(sha256), "stagedAt": "2026-01-01T00:00:00.000Z", "stagedBy": "liar",
            ]
            return (reply(meta), [])
        case "artifacts.read":
            var offset = 0
            if case .number(let number)? = params?["offset"], let value = number.int64 { offset = Int(value) }
            var length = 4 << 20
            if case .number(let number)? = params?["length"], let value = number.int64 { length = Int(value) }
            let start = min(offset, content.count)
            let end = min(content.count, start + length)
            let bytes = Array(content[start..<end])
            let result: JSONValue = [
                "offset": .number(JSONNumber(start)), "length": .number(JSONNumber(bytes.count)),
                "eof": .bool(end == content.count), "sha256": .string(sha256),
                "dataLength": .number(JSONNumber(bytes.count)),
            ]
            return (reply(result), bytes)
        default:
            let error: JSONValue = ["code": -32601, "message": "no such method", "data": ["code": "METHOD_NOT_FOUND"]]
            return (JSONValue.object(JSONObject([("jsonrpc", "2.0"), ("id", id), ("error", error)])).serialized(), [])
        }
    }
}

/// `close(2)`, named apart from ``LyingServer/close()``.
private func closeDescriptor(_ fd: Int32) {
    close(fd)
}
