import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A server with its default settings on a small disk: every refusal on the
/// wire is STORE_FULL (never INTERNAL), and only once the disk is really
/// full; reads go on, a delete makes room, and after a restart `cairn
/// verify` is clean and usage exact.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DiskFullEndToEndTests {
    static let canMount = ConditionTrait.enabled(if: TmpfsMount.available, "needs root and mount(8)")

    @Test(canMount)
    func aServerOnASmallDiskFillsItAndRefusesWithStoreFull() async throws {
        let server = try ServerProcess()
        let mount = try TmpfsMount(at: server.dataDirectory, megabytes: 48)
        try await server.start()
        let socket = try RawSocket(path: server.socketPath)
        let upload: JSONValue = ["tenant": "acme", "providerId": "p", "mimeType": "application/octet-stream"]

        var stored: [(id: JSONValue, content: [UInt8])] = []
        var refusals: [JSONValue] = []
        for size in [1 << 20, 64 << 10, 4 << 10] {
            while true {
                let content = Payload.random(size)
                let response = try await socket.request(1, "artifacts.upload", upload, attachment: content)
                if let error = response["error"] {
                    refusals.append(error)
                    break
                }
                stored.append((try #require(response["result"]?["artifactId"]), content))
            }
        }
        #expect(refusals.count == 3)
        for refusal in refusals { #expect(refusal["data"]?["code"] == "STORE_FULL", "\(refusal)") }
        let storedBytes = stored.reduce(0) { $0 + $1.content.count }
        #expect(storedBytes >= 48 << 20 * 9 / 10, "full at \(storedBytes) bytes of 48 MiB")
        let health = try await socket.result("system.health")
        #expect((health["store"]?["headroomBytes"]?.intValue ?? .max) < 1 << 20, "\(health)")

        // Reads go on; a delete makes room for an upload of half its size.
        let first = stored.removeFirst()
        let read = try await socket.result("artifacts.read", ["tenant": "acme", "artifactId": first.id])
        #expect(read["data"] == .string(Base64.encode(first.content)))
        _ = try await socket.result("artifacts.delete", ["tenant": "acme", "artifactId": first.id])
        let half = Payload.random(first.content.count / 2)
        let replacement = try await socket.result("artifacts.upload", upload, attachment: half)
        stored.append((try #require(replacement["artifactId"]), half))

        // After a restart everything verifies and usage is exact.
        socket.close()
        try await server.restart()
        let verify = try await server.cairn(["verify", "--tenant", "acme"])
        #expect(verify.status == 0, "\(verify)")
        let again = try RawSocket(path: server.socketPath)
        let usage = try await again.result("tenants.usage", ["tenant": "acme"])
        #expect(usage["artifactCount"] == .int(stored.count))
        #expect(usage["storedBytes"] == .int(stored.reduce(0) { $0 + $1.content.count }))
        let last = try #require(stored.last)
        let lastRead = try await again.result("artifacts.read", ["tenant": "acme", "artifactId": last.id])
        #expect(lastRead["data"] == .string(Base64.encode(last.content)))
        again.close()
        _ = try await server.stop()
        mount.unmount()
    }
}

/// A size-limited tmpfs mounted on a directory for one test, unmounted when
/// the value goes (lazily, should a process still hold it).
final class TmpfsMount {
    /// Whether this process may mount file systems (root, with mount(8)).
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        let probe = NSTemporaryDirectory() + "cairn-mount-probe-\(UUID().uuidString.prefix(8))"
        guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil,
            (try? run("/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe)) != nil
        else { return false }
        _ = try? run("/bin/umount", probe)
        try? FileManager.default.removeItem(atPath: probe)
        return true
    }()

    let path: String
    private var unmounted = false

    init(at path: String, megabytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Self.run("/bin/mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path)
    }

    deinit { unmount() }

    /// Unmounts the file system; idempotent.
    func unmount() {
        guard !unmounted else { return }
        unmounted = true
        if (try? Self.run("/bin/umount", path)) == nil { _ = try? Self.run("/bin/umount", "-l", path) }
    }

    private static func run(_ tool: String, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ServerProcess.FixtureError(description: "\(tool) \(arguments.joined(separator: " ")) failed")
        }
    }
}
