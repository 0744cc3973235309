import CairnProtocol
import Foundation
import Testing

/// Appends sent back to back without waiting for their responses: the
/// server stores them while it reads the next ones, answers each in
/// request order once it is stored, and runs any other request only after
/// them.
@Suite(.timeLimit(.minutes(2)))
struct PipelinedAppendEndToEndTests {
    @Test func appendsSentBackToBackAreAnsweredInOrder() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let piece = 1_500_000
        let content = Payload.random(3 * piece)
        let begun = try await socket.result(
            "uploads.begin",
            ["tenant": "acme", "providerId": "p", "mimeType": "x/y", "sizeBytes": .int(content.count)])
        let uploadId = try #require(begun["uploadId"])
        func append(_ id: JSONValue, offset: Int, _ bytes: ArraySlice<UInt8>) -> [UInt8] {
            line(
                rpc(
                    id, "uploads.append",
                    ["uploadId": uploadId, "offset": .int(offset), "dataLength": .int(bytes.count)]))
                + bytes
        }

        // Everything in one go: three appends, one at a stale offset between
        // them, and a status that must see all three stored.
        try await socket.send(
            append("a1", offset: 0, content[..<piece]) + append("a2", offset: piece, content[piece..<2 * piece])
                + append("stale", offset: 0, [1, 2, 3]) + append("a3", offset: 2 * piece, content[(2 * piece)...])
                + line(rpc("status", "uploads.status", ["uploadId": uploadId])))
        #expect(expectResult(try await socket.readJSON(), id: "a1")["offset"] == .int(piece))
        #expect(expectResult(try await socket.readJSON(), id: "a2")["offset"] == .int(2 * piece))
        #expect(expectError(try await socket.readJSON(), "OFFSET_MISMATCH", id: "stale")["offset"] == .int(2 * piece))
        #expect(expectResult(try await socket.readJSON(), id: "a3")["offset"] == .int(content.count))
        #expect(expectResult(try await socket.readJSON(), id: "status")["offset"] == .int(content.count))

        let committed = try await socket.result(
            "uploads.commit", ["uploadId": uploadId, "sha256": .string(Payload.sha256(content))])
        #expect(committed["sizeBytes"] == .int(content.count))
    }
}
