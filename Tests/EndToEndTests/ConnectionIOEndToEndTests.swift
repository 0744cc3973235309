import CairnClient
import CairnDigest
import CairnProtocol
import Foundation
import Testing

/// `CairnClient`'s two ways of doing its I/O (``ConnectionIO``) against a
/// real `cairn serve`: attachments both ways, requests in flight, and the
/// same errors.
///
/// A blocking connection holds its thread while it waits for the server, and
/// the test process shares two threads among every suite (architecture.md,
/// "Tests"), so long transfers over it are tested where it is used: in the
/// `cairn` CLI's own processes (`CLITests`: puts of every size, with appends
/// in flight and resumed, gets to files, FIFOs and standard output, and the
/// failures). Here it only makes calls that cannot wait long.
@Suite(.timeLimit(.minutes(1)))
struct ConnectionIOEndToEndTests {
    let tenant = "acme"

    @Test func attachmentsAndRequestsInFlightOverTheEventLoop() async throws {
        let io = ConnectionIO.eventLoop
        let server = try await ServerProcess.start()
        // Over one read of the blocking transport and over one piece, so reads and writes come back partial.
        let content = Payload.random((9 << 20) + 4321)
        let small = Payload.random(3000)
        try await CairnClient.withConnection(socketPath: server.socketPath, io: io) { client in
            let hello = try await client.hello()
            #expect(hello["server"]?.stringValue == "cairn")

            // One request with an attachment.
            let stored = try await client.upload(
                tenant: tenant, providerId: "p", mimeType: "text/plain", bytes: small,
                sha256: SHA256Hasher.digest(small).hex)
            #expect(stored.sizeBytes == 3000)

            // Appends in flight, pieces of 1 MiB, then a download with reads in flight.
            let id = try await client.beginUpload(
                tenant: tenant, providerId: "p", mimeType: "application/octet-stream", sizeBytes: UInt64(content.count))
            let piece = 1 << 20
            let sent = try await ChunkedUpload(connection: client, uploadId: id).send(from: 0) { offset in
                let start = Int(offset)
                return start < content.count ? Array(content[start..<min(start + piece, content.count)]) : nil
            }
            #expect(sent == UInt64(content.count))
            let meta = try await client.commit(uploadId: id, sha256: SHA256Hasher.digest(content).hex)
            var received: [UInt8] = []
            _ = try await client.download(meta) { received += $0 }
            #expect(received == content)

            // A pipeline of many small requests, and a contract error in the middle of it.
            let missing = UUID().uuidString.lowercased()
            var requests = (0..<200).map { _ in
                CairnClient.Request(
                    Methods.artifactsMeta,
                    ArtifactParams(tenant: tenant, artifactId: UUID(uuidString: meta.artifactId)!))
            }
            requests[100] = CairnClient.Request(
                Methods.artifactsMeta, ArtifactParams(tenant: tenant, artifactId: UUID(uuidString: missing)!))
            let replies = try await client.pipeline(requests)
            #expect(replies.count == 200)
            for (index, reply) in replies.enumerated() {
                switch reply {
                case .success(let answer):
                    #expect(index != 100)
                    #expect(answer.result["artifactId"]?.stringValue == meta.artifactId)
                case .failure(let error):
                    guard case .server(let rpc) = error else {
                        Issue.record("request \(index): \(error)")
                        continue
                    }
                    #expect(index == 100 && rpc.code == .notFound)
                }
            }
        }
    }

    @Test(arguments: [ConnectionIO.eventLoop, .blockingSocket])
    func nothingListening(io: ConnectionIO) async throws {
        let server = try ServerProcess()
        let path = server.scratch("nobody.sock")
        await #expect {
            try await CairnClient.withConnection(socketPath: path, io: io) { try await $0.hello() }
        } throws: { error in
            guard case CairnClientError.cannotConnect(let socket, let reason) = error else { return false }
            return socket == path && reason.contains("No such file or directory")
        }
    }

    /// Blocking writes into a socket whose peer is gone: an error, never `SIGPIPE` (which would end the test
    /// process); SwiftNIO takes care of that for its own sockets.
    @Test func aServerGoneAwayClosesTheBlockingConnection() async throws {
        let server = try await ServerProcess.start()
        try await CairnClient.withConnection(socketPath: server.socketPath, io: .blockingSocket) { client in
            _ = try await client.hello()
            try await server.kill()
            await #expect {
                for _ in 0..<8 {
                    _ = try await client.call("system.hello", attachment: Array(repeating: 0, count: 1 << 20))
                }
            } throws: { error in
                guard case CairnClientError.connectionClosed = error else { return false }
                return true
            }
        }
    }
}
