import CairnClient
import CairnProtocol
import Foundation
import Testing

/// Every class of bad input, sent over a real socket: each gets the
/// contract's answer, and the same connection then goes on (or is closed
/// where the contract says so) without touching any other connection.
@Suite(.timeLimit(.minutes(2)))
struct RobustnessEndToEndTests {
    /// A request that is never valid, as text, to embed in attachments: if the
    /// server ever parsed an attachment as a line, its answer would show up.
    static let smuggled = Array(#"{"jsonrpc":"2.0","id":"smuggled","method":"system.hello"}"#.utf8) + [0x0a]

    @Test(.timeLimit(.minutes(2)))
    func unparsableAndInvalidRequests() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)

        let cases: [(text: String, id: JSONValue, code: String)] = [
            ("{not json", .null, "PARSE_ERROR"),
            (#"{"jsonrpc":"2.0","id":1,"method":"system.hello""#, .null, "PARSE_ERROR"),
            (#"{"jsonrpc":"2.0","id":1,"method":"system.hello"} trailing"#, .null, "PARSE_ERROR"),
            ("42", .null, "INVALID_REQUEST"),
            (#""a string""#, .null, "INVALID_REQUEST"),
            (#"{"id":5,"method":"system.hello"}"#, 5, "INVALID_REQUEST"),
            (#"{"jsonrpc":"1.0","id":"five","method":"system.hello"}"#, "five", "INVALID_REQUEST"),
            (#"{"jsonrpc":2.0,"id":6,"method":"system.hello"}"#, 6, "INVALID_REQUEST"),
            (#"{"jsonrpc":"2.0","id":7,"method":7}"#, 7, "INVALID_REQUEST"),
            (#"{"jsonrpc":"2.0","id":8}"#, 8, "INVALID_REQUEST"),
            (#"{"jsonrpc":"2.0","id":{"a":1},"method":"system.hello"}"#, .null, "INVALID_REQUEST"),
            (#"{"jsonrpc":"2.0","id":[9],"method":"system.hello"}"#, .null, "INVALID_REQUEST"),
            (#"{"jsonrpc":"2.0","id":10,"method":"system.hello","params":[]}"#, 10, "INVALID_REQUEST"),
            (#"{"jsonrpc":"2.0","id":11,"method":"system.hello","params":"x"}"#, 11, "INVALID_REQUEST"),
            (#"{"jsonrpc":"2.0","id":12,"method":"no.such.method"}"#, 12, "METHOD_NOT_FOUND"),
            (#"{"jsonrpc":"2.0","id":"13","method":"system.Hello"}"#, "13", "METHOD_NOT_FOUND"),
            ("[]", .null, "INVALID_REQUEST"),
        ]
        for (text, id, code) in cases {
            // Each bad line is followed by a valid request on the same write.
            try await socket.send(text + "\n" + #"{"jsonrpc":"2.0","id":"next","method":"system.hello"}"# + "\n")
            let response = try await socket.readJSON()
            // An empty batch gets one error object, not an array.
            #expect(response.objectValue != nil, "\(text) → \(response)")
            expectError(response, code, id: id)
            let next = try await socket.readJSON()
            #expect(next["id"] == "next" && next["result"]?["server"] == "cairn", "after \(text): \(next)")
        }

        // Invalid UTF-8 inside a string is not JSON text.
        try await socket.send([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d, 0x0a])
        expectError(try await socket.readJSON(), "PARSE_ERROR", id: .null)
        // Nesting far beyond any sane depth is refused, not a crash.
        try await socket.send(String(repeating: "[", count: 200_000) + "\n")
        let deep = try await socket.readJSON()
        #expect(deep["error"]?["data"]?["code"] == "PARSE_ERROR", "\(deep)")
        #expect(deep["id"] == .null)
        try await socket.expectAlive()

        // Ids are echoed with their JSON type.
        for id: JSONValue in ["7", 7, .number(JSONNumber(-3)), .null, "", .string(String(repeating: "é", count: 100))] {
            let response = try await socket.request(id, "system.hello")
            #expect(response["id"] == id)
            #expect(response["result"]?["protocol"] == 1, "\(response)")
        }
        try await socket.send(#"{"jsonrpc":"2.0","id":1.50,"method":"system.hello"}"# + "\n")
        #expect(try await socket.readLine().starts(with: Array(#"{"jsonrpc":"2.0","id":1.50,"#.utf8)))
        try await socket.send(#"{"jsonrpc":"2.0","id":12345678901234567890123,"method":"system.hello"}"# + "\n")
        let bigId = try await socket.readLine()
        #expect(String(decoding: bigId, as: UTF8.self).contains(#""id":12345678901234567890123,"#))

        // Notifications get no answer but are carried out, also when they fail.
        try await socket.send(
            line(rpc(nil, "tenants.setQuota", ["tenant": "notified", "maxArtifacts": 7]))
                + line(rpc(nil, "no.such.method")) + line(rpc(nil, "artifacts.meta", ["tenant": "notified"])))
        let usage = try await socket.result("tenants.usage", ["tenant": "notified"])
        #expect(usage["quota"]?["maxArtifacts"] == 7, "the notification was carried out: \(usage)")

        // Batches: answered as one array, notifications left out.
        try await socket.send(
            "[" + #"{"jsonrpc":"2.0","id":"a","method":"system.hello"},"#
                + #"{"jsonrpc":"2.0","id":"b","method":"nope"},"#
                + #"{"jsonrpc":"2.0","method":"tenants.setQuota","params":{"tenant":"notified","maxArtifacts":8}},"#
                + #"{"jsonrpc":"2.0","id":"c"},"# + "1" + "]\n")
        let batch = try await socket.readJSON()
        let responses = try #require(batch.arrayValue, "a batch is answered with an array: \(batch)")
        #expect(responses.count == 4, "\(batch)")
        let byId = Dictionary(responses.map { ($0["id"]?.stringValue ?? "null", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byId["a"]?["result"]?["server"] == "cairn")
        if let b = byId["b"] { expectError(b, "METHOD_NOT_FOUND", id: "b") }
        if let c = byId["c"] { expectError(c, "INVALID_REQUEST", id: "c") }
        if let invalid = byId["null"] { expectError(invalid, "INVALID_REQUEST", id: .null) }
        #expect(try await socket.result("tenants.usage", ["tenant": "notified"])["quota"]?["maxArtifacts"] == 8)

        // A batch of notifications gets no output at all: the next line answers the next request.
        try await socket.send(
            "[" + #"{"jsonrpc":"2.0","method":"system.hello"},{"jsonrpc":"2.0","method":"nope"}"# + "]\n"
                + #"{"jsonrpc":"2.0","id":"after-batch","method":"system.health"}"# + "\n")
        let afterBatch = try await socket.readJSON()
        #expect(afterBatch["id"] == "after-batch", "a batch of notifications produced output: \(afterBatch)")

        // An attachment inside a batch: INVALID_REQUEST for that entry; its bytes are dropped.
        let attached =
            #"{"jsonrpc":"2.0","id":"up","method":"artifacts.upload","params":{"tenant":"b","providerId":"p","mimeType":"x/y","dataLength":\#(Self.smuggled.count)}}"#
        try await socket.send(
            Array(("[" + attached + #",{"jsonrpc":"2.0","id":"h","method":"system.hello"}]"# + "\n").utf8)
                + Self.smuggled)
        let withAttachment = try #require(try await socket.readJSON().arrayValue)
        #expect(withAttachment.count == 2)
        if let up = withAttachment.first(where: { $0["id"] == "up" }) {
            expectError(up, "INVALID_REQUEST", id: "up")
        } else {
            Issue.record("no answer for the batched upload: \(withAttachment)")
        }
        #expect(withAttachment.contains { $0["id"] == "h" && $0["result"] != nil })
        try await socket.expectAlive()
        #expect(try await socket.result("artifacts.list", ["tenant": "b"])["artifacts"] == [])
    }

    @Test(.timeLimit(.minutes(2)))
    func oversizedLine() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let other = try RawSocket(path: server.socketPath)

        // A 20 MiB upload line: over maxRequestBytes (16 MiB).
        let head =
            #"{"jsonrpc":"2.0","id":1,"method":"artifacts.upload","params":{"tenant":"big","providerId":"p","mimeType":"x/y","data":""#
        var oversized = Array(head.utf8)
        oversized += [UInt8](repeating: UInt8(ascii: "A"), count: 20 << 20)
        oversized += Array(#""}}"#.utf8) + [0x0a]
        try await socket.send(Array(oversized[..<(18 << 20)]))
        // Another connection is unaffected while the big line is half sent.
        try await other.expectAlive()
        try await socket.send(Array(oversized[(18 << 20)...]) + line(rpc("after", "system.hello")))
        let tooLarge = try await socket.readJSON()
        #expect(expectError(tooLarge, "REQUEST_TOO_LARGE", id: .null)["limit"] == .int(16 << 20))
        // The contract lets the server close the connection here or skip to the next line.
        if let after = try? await socket.readJSON() {
            #expect(after["id"] == "after" && after["result"] != nil, "\(after)")
            try await socket.expectAlive()
        } else {
            #expect(try await socket.waitForClose(), "neither went on nor closed")
        }
        // The oversized request was not carried out.
        #expect(try await other.result("artifacts.list", ["tenant": "big"])["artifacts"] == [])
        try await other.expectAlive()
    }

    @Test(.timeLimit(.minutes(2)))
    func invalidParams() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let meta = try await socket.result(
            "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"],
            attachment: Payload.random(100))
        let id = try #require(meta["artifactId"])
        let upload = try await socket.result("uploads.begin", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"])
        let uploadId = try #require(upload["uploadId"])
        let base: JSONValue = ["tenant": "acme", "providerId": "p", "mimeType": "x/y"]
        func with(_ params: JSONValue, _ changes: [(String, JSONValue?)]) -> JSONValue {
            var object = params.objectValue ?? JSONObject()
            for (key, value) in changes { object[key] = value }
            return .object(object)
        }
        let read: JSONValue = ["tenant": "acme", "artifactId": id]
        let append: JSONValue = ["uploadId": uploadId, "offset": 0]
        let overInt64 = JSONValue.number(try #require(JSONParser.parse(Array("9223372036854775808".utf8)).numberValue))

        let cases: [(method: String, params: JSONValue, field: String)] = [
            // Base64 outside the standard alphabet or with misplaced padding.
            ("artifacts.upload", with(base, [("data", "YQ")]), "data"),
            ("artifacts.upload", with(base, [("data", "Y=Q=")]), "data"),
            ("artifacts.upload", with(base, [("data", "YQ==YQ==")]), "data"),
            ("artifacts.upload", with(base, [("data", "-_8=")]), "data"),
            ("artifacts.upload", with(base, [("data", "YWJj\n")]), "data"),
            ("artifacts.upload", with(base, [("data", 12)]), "data"),
            ("uploads.append", with(append, [("data", "@@@@")]), "data"),
            // Missing and malformed names.
            ("artifacts.upload", with(base, [("data", "")]).removing(["tenant"]), "tenant"),
            ("artifacts.upload", with(base, [("data", ""), ("tenant", "Acme")]), "tenant"),
            ("artifacts.upload", with(base, [("data", ""), ("tenant", "-acme")]), "tenant"),
            (
                "artifacts.upload", with(base, [("data", ""), ("tenant", .string(String(repeating: "a", count: 64)))]),
                "tenant"
            ),
            ("artifacts.upload", with(base, [("data", ""), ("tenant", 5)]), "tenant"),
            ("artifacts.upload", with(base, [("data", ""), ("providerId", "P!")]), "providerId"),
            ("artifacts.upload", with(base, [("data", "")]).removing(["providerId"]), "providerId"),
            ("artifacts.upload", with(base, [("data", "")]).removing(["mimeType"]), "mimeType"),
            ("artifacts.upload", base, "data"),
            ("artifacts.list", ["tenant": ""], "tenant"),
            // Wrong JSON types where an integer is due: boolean, fraction, string; negative; over 2^63-1.
            ("artifacts.read", with(read, [("offset", true)]), "offset"),
            ("artifacts.read", with(read, [("offset", .number(JSONNumber(1.5)))]), "offset"),
            ("artifacts.read", with(read, [("offset", "10")]), "offset"),
            ("artifacts.read", with(read, [("offset", -1)]), "offset"),
            ("artifacts.read", with(read, [("offset", overInt64)]), "offset"),
            ("artifacts.read", with(read, [("length", false)]), "length"),
            ("artifacts.read", with(read, [("length", .number(JSONNumber(2.5)))]), "length"),
            ("artifacts.read", with(read, [("binary", "yes")]), "binary"),
            ("uploads.append", with(append, [("offset", true), ("data", "")]), "offset"),
            ("uploads.append", with(append, [("offset", .number(JSONNumber(0.5))), ("data", "")]), "offset"),
            ("uploads.append", with(append, [("offset", "0"), ("data", "")]), "offset"),
            ("uploads.append", with(append, [("data", "")]).removing(["offset"]), "offset"),
            ("uploads.begin", with(base, [("sizeBytes", true)]), "sizeBytes"),
            ("uploads.begin", with(base, [("sizeBytes", .number(JSONNumber(10.25)))]), "sizeBytes"),
            ("uploads.begin", with(base, [("sizeBytes", -5)]), "sizeBytes"),
            ("uploads.begin", with(base, [("sizeBytes", overInt64)]), "sizeBytes"),
            ("artifacts.list", ["tenant": "acme", "limit": .number(JSONNumber(2.0))], "limit"),
            ("artifacts.list", ["tenant": "acme", "limit": 0], "limit"),
            ("artifacts.list", ["tenant": "acme", "limit": 1001], "limit"),
            ("artifacts.list", ["tenant": "acme", "cursor": 3], "cursor"),
            ("events.list", ["tenant": "acme", "limit": true], "limit"),
            ("tenants.setQuota", ["tenant": "acme", "maxBytes": "5"], "maxBytes"),
            ("tenants.setQuota", ["tenant": "acme", "maxArtifacts": true], "maxArtifacts"),
            ("tenants.setQuota", ["tenant": "acme", "maxBytes": .number(JSONNumber(1.5))], "maxBytes"),
            ("blobs.verify", ["tenant": "acme", "maxBytes": -1], "maxBytes"),
            // Malformed UUIDs and digests: INVALID_PARAMS, never NOT_FOUND.
            ("artifacts.meta", ["tenant": "acme", "artifactId": "not-a-uuid"], "artifactId"),
            ("artifacts.meta", ["tenant": "acme", "artifactId": ""], "artifactId"),
            (
                "artifacts.meta",
                ["tenant": "acme", "artifactId": .string(UUID().uuidString.replacingOccurrences(of: "-", with: ""))],
                "artifactId"
            ),
            ("artifacts.meta", ["tenant": "acme", "artifactId": .string("{\(UUID().uuidString)}")], "artifactId"),
            (
                "artifacts.meta",
                ["tenant": "acme", "artifactId": .string(String(UUID().uuidString.dropLast()) + "g")], "artifactId"
            ),
            ("artifacts.meta", ["tenant": "acme", "artifactId": 12], "artifactId"),
            ("artifacts.meta", ["tenant": "acme"], "artifactId"),
            ("artifacts.read", ["tenant": "acme", "artifactId": "x"], "artifactId"),
            ("artifacts.delete", ["tenant": "acme", "artifactId": "x"], "artifactId"),
            ("uploads.status", ["uploadId": "x"], "uploadId"),
            ("uploads.commit", ["uploadId": .string(UUID().uuidString + "0")], "uploadId"),
            ("uploads.abort", ["uploadId": 1], "uploadId"),
            ("uploads.append", ["uploadId": "x", "offset": 0, "data": ""], "uploadId"),
            ("blobs.stat", ["tenant": "acme", "sha256": .string(String(repeating: "a", count: 63))], "sha256"),
            ("blobs.stat", ["tenant": "acme", "sha256": .string(String(repeating: "a", count: 65))], "sha256"),
            ("blobs.stat", ["tenant": "acme", "sha256": .string(String(repeating: "g", count: 64))], "sha256"),
            (
                "blobs.stat", ["tenant": "acme", "sha256": .string("md5:" + String(repeating: "a", count: 64))],
                "sha256"
            ),
            ("blobs.stat", ["tenant": "acme"], "sha256"),
            ("artifacts.upload", with(base, [("data", ""), ("sha256", "abc")]), "sha256"),
            ("uploads.commit", ["uploadId": uploadId, "sha256": "sha256:xyz"], "sha256"),
        ]
        var index = 0
        for (method, params, field) in cases {
            index += 1
            // The bad request and a valid one, in one write.
            try await socket.send(line(rpc(.int(index), method, params)) + line(rpc("ok", "artifacts.meta", read)))
            let response = try await socket.readJSON()
            expectError(response, "INVALID_PARAMS", id: .int(index), field: field)
            let next = try await socket.readJSON()
            #expect(next["id"] == "ok" && next["result"]?["artifactId"] == id, "after \(method) \(params): \(next)")
        }
        // The upload the bad appends named is untouched.
        #expect(try await socket.result("uploads.status", ["uploadId": uploadId])["offset"] == 0)
    }

    @Test(.timeLimit(.minutes(2)))
    func shortAttachmentWaitsWithoutBlockingOthers() async throws {
        let server = try await ServerProcess.start()
        let slow = try RawSocket(path: server.socketPath)
        let other = try RawSocket(path: server.socketPath)
        let content = Payload.random(100_000)

        try await slow.send(
            line(
                rpc(
                    "slow", "artifacts.upload",
                    ["tenant": "t", "providerId": "p", "mimeType": "x/y", "dataLength": 100_000]))
                + Array(content[..<60_000]))
        #expect(try await slow.staysSilent(for: .milliseconds(300)), "answered before the attachment was complete")
        // Meanwhile other connections work, uploads included.
        try await other.expectAlive()
        let unrelated = try await other.result(
            "artifacts.upload", ["tenant": "t", "providerId": "p", "mimeType": "x/y"], attachment: Payload.random(10))
        #expect(unrelated["deduplicated"] == false)
        // The rest arrives: the upload completes with all of it.
        try await slow.send(Array(content[60_000...]))
        let response = try await slow.readJSON()
        let meta = expectResult(response, id: "slow")
        #expect(meta["sha256"] == .string(Payload.sha256(content)))
        #expect(meta["sizeBytes"] == 100_000)
        try await slow.expectAlive()

        // A client that gives up half-way: nothing is stored, nothing else is affected.
        let quitter = try RawSocket(path: server.socketPath)
        try await quitter.send(
            line(
                rpc(
                    "q", "artifacts.upload",
                    ["tenant": "quit", "providerId": "p", "mimeType": "x/y", "dataLength": 50_000]))
                + Payload.random(20_000))
        #expect(try await quitter.staysSilent(for: .milliseconds(100)))
        quitter.close()
        try await Task.sleep(for: .milliseconds(200))
        try await other.expectAlive()
        #expect(try await other.result("tenants.usage", ["tenant": "quit"])["artifactCount"] == 0)
        #expect(server.isRunning)
    }

    @Test(.timeLimit(.minutes(2)))
    func attachmentFraming() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let upload: JSONValue = ["tenant": "t", "providerId": "p", "mimeType": "x/y"]
        let smuggled = Self.smuggled

        // Longer than declared: the extra bytes are the next line, here unparsable.
        try await socket.send(
            line(
                rpc(
                    "long", "artifacts.upload", ["tenant": "t", "providerId": "p", "mimeType": "x/y", "dataLength": 10])
            )
                + Array("0123456789".utf8) + Array("extra bytes\n".utf8))
        let long = expectResult(try await socket.readJSON(), id: "long")
        #expect(long["sha256"] == .string(Payload.sha256(Array("0123456789".utf8))))
        expectError(try await socket.readJSON(), "PARSE_ERROR", id: .null)
        try await socket.expectAlive()

        // An attachment of zero bytes is a zero-byte artifact.
        let zero = try await socket.result("artifacts.upload", upload, attachment: [])
        #expect(zero["sizeBytes"] == 0)
        try await socket.expectAlive()

        // Refused requests with attachments: an error, the bytes dropped, the stream framed.
        let open = try await socket.result("uploads.begin", ["tenant": "t", "providerId": "p", "mimeType": "x/y"])
        let quotaTenant: JSONValue = "tight"
        _ = try await socket.result("tenants.setQuota", ["tenant": quotaTenant, "maxBytes": 10])
        let refused: [(method: String, params: JSONValue, attachment: [UInt8], code: String)] = [
            (
                "uploads.append", ["uploadId": .string(UUID().uuidString.lowercased()), "offset": 0], smuggled,
                "NOT_FOUND"
            ),
            ("uploads.append", ["uploadId": "bad", "offset": 0], smuggled, "INVALID_PARAMS"),
            ("uploads.append", ["uploadId": open["uploadId"]!, "offset": 5], smuggled, "OFFSET_MISMATCH"),
            (
                "uploads.append", ["uploadId": open["uploadId"]!, "offset": 0], smuggled + Payload.random(4 << 20),
                "TOO_LARGE"
            ),
            ("artifacts.upload", ["tenant": "Bad", "providerId": "p", "mimeType": "x/y"], smuggled, "INVALID_PARAMS"),
            (
                "artifacts.upload", ["tenant": "t", "providerId": "p", "mimeType": "x/y", "data": ""], smuggled,
                "INVALID_PARAMS"
            ),
            (
                "artifacts.upload",
                ["tenant": "t", "providerId": "p", "mimeType": "x/y", "sha256": .string(Payload.unknownDigest())],
                smuggled, "DIGEST_MISMATCH"
            ),
            (
                "artifacts.upload", ["tenant": quotaTenant, "providerId": "p", "mimeType": "x/y"], smuggled,
                "QUOTA_EXCEEDED"
            ),
            ("artifacts.meta", ["tenant": "t", "artifactId": long["artifactId"]!], smuggled, "INVALID_PARAMS"),
            ("system.hello", [:], smuggled, "INVALID_PARAMS"),
            ("no.such.method", [:], smuggled, "METHOD_NOT_FOUND"),
        ]
        for (index, request) in refused.enumerated() {
            let response = try await socket.request(
                .int(index), request.method, request.params, attachment: request.attachment)
            expectError(response, request.code, id: .int(index))
            // The next line answers the next request, not the smuggled one.
            try await socket.expectAlive()
        }
        #expect(try await socket.result("uploads.status", ["uploadId": open["uploadId"]!])["offset"] == 0)
        let usage = try await socket.result("tenants.usage", ["tenant": "t"])
        #expect(usage["artifactCount"] == 2, "only the long and the zero-byte uploads were stored: \(usage)")

        // A notification with an attachment: carried out, no answer, stream framed.
        try await socket.send(
            line(
                rpc(
                    nil, "artifacts.upload",
                    ["tenant": "n", "providerId": "p", "mimeType": "x/y", "dataLength": .int(smuggled.count)]))
                + smuggled)
        try await socket.expectAlive()
        let notified = try await socket.result("artifacts.list", ["tenant": "n"])
        #expect(notified["artifacts"]?.arrayValue?.first?["sha256"] == .string(Payload.sha256(smuggled)))
    }

    /// protocol-v1: a request whose attachment cannot be accepted still has
    /// its N bytes read and dropped. docs/protocol.md says the same for an
    /// invalid request with a readable `params.dataLength`.
    @Test(.timeLimit(.minutes(2)))
    func invalidRequestWithAnAttachmentKeepsTheStreamFramed() async throws {
        let server = try await ServerProcess.start()
        let smuggled = Self.smuggled
        let invalid = [
            // No "jsonrpc".
            #"{"id":"bad-1","method":"artifacts.upload","params":{"tenant":"t","providerId":"p","mimeType":"x/y","dataLength":\#(smuggled.count)}}"#,
            // A wrong "jsonrpc".
            #"{"jsonrpc":"1.0","id":"bad-2","method":"uploads.append","params":{"uploadId":"00000000-0000-4000-8000-000000000000","offset":0,"dataLength":\#(smuggled.count)}}"#,
        ]
        for (index, text) in invalid.enumerated() {
            let socket = try RawSocket(path: server.socketPath)
            try await socket.send(Array((text + "\n").utf8) + smuggled + line(rpc("next", "system.hello")))
            expectError(try await socket.readJSON(), "INVALID_REQUEST", id: .string("bad-\(index + 1)"))
            let next = try await socket.readJSON()
            #expect(next["id"] == "next", "the announced bytes were parsed as a request: \(next)")
        }
    }

    /// docs/protocol.md, "Attachments in a batch": after the batch's line the
    /// server drops as many bytes as its entries announced, so the stream
    /// stays framed; an entry refused as an invalid request announces too.
    @Test(.timeLimit(.minutes(2)))
    func invalidBatchEntryWithAnAttachmentKeepsTheStreamFramed() async throws {
        let server = try await ServerProcess.start()
        let smuggled = Self.smuggled
        let invalid =
            #"{"id":"bad","method":"artifacts.upload","params":{"tenant":"t","providerId":"p","mimeType":"x/y","dataLength":\#(smuggled.count)}}"#
        let batched = try RawSocket(path: server.socketPath)
        try await batched.send(
            Array(("[" + invalid + "," + #"{"jsonrpc":"2.0","id":"h","method":"system.hello"}"# + "]\n").utf8)
                + smuggled
                + line(rpc("next", "system.hello")))
        let batch = try await batched.readJSON()
        #expect(batch.arrayValue?.count == 2, "\(batch)")
        let afterBatch = try await batched.readJSON()
        #expect(afterBatch["id"] == "next", "the bytes announced in a batch were parsed as a request: \(afterBatch)")

    }

    /// protocol-v1: "an N beyond any limit gets REQUEST_TOO_LARGE and that
    /// connection is closed". The bytes cannot be skipped, so they must not be
    /// taken as requests either, also when the request itself is invalid.
    @Test(.timeLimit(.minutes(2)))
    func invalidRequestAnnouncingMoreThanEveryLimitIsNotFollowed() async throws {
        let server = try await ServerProcess.start()
        let smuggled = Self.smuggled
        let socket = try RawSocket(path: server.socketPath)
        let huge =
            #"{"id":"bad-3","method":"artifacts.upload","params":{"tenant":"t","providerId":"p","mimeType":"x/y","dataLength":\#((16 << 20) + 1)}}"#
        try await socket.send(Array((huge + "\n").utf8) + smuggled)
        _ = try await socket.readJSON()
        _ = try await socket.waitForClose(timeout: .seconds(2))
        let rest = String(decoding: socket.pending, as: UTF8.self)
        #expect(!rest.contains("smuggled"), "bytes announced as an attachment were carried out as a request: \(rest)")
    }

    /// docs/protocol.md: raw bytes never follow a batch's response array; a
    /// binary read inside a batch is answered with base64 `data`. Either way
    /// a result announcing `dataLength` must be followed by that many bytes.
    @Test(.timeLimit(.minutes(2)))
    func binaryReadInsideABatch() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let content = Array("cairn\n".utf8)
        let meta = try await socket.result(
            "artifacts.upload", ["tenant": "t", "providerId": "p", "mimeType": "x/y"], attachment: content)
        let read = rpc("read", "artifacts.read", ["tenant": "t", "artifactId": meta["artifactId"]!, "binary": true])
        try await socket.send(line([read, rpc("hello", "system.hello")]) + line(rpc("after", "system.hello")))
        let batch = try #require(try await socket.readJSON().arrayValue)
        #expect(batch.count == 2)
        let result = try #require(batch.first { $0["id"] == "read" }?["result"])
        if let length = result["dataLength"]?.intValue {
            // Raw bytes after the array would be the only way to honour a dataLength.
            Issue.record("a batched binary read announces dataLength \(length) that cannot follow a batch: \(result)")
        }
        #expect(
            result["data"] == .string(Base64.encode(content)), "a batched binary read carries no content: \(result)")
        #expect(try await socket.readJSON()["id"] == "after")
    }

    @Test(.timeLimit(.minutes(2)))
    func batchAnnouncingMoreThanEveryLimitIsAnsweredThenClosed() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let upload: (Int) -> JSONValue = { id in
            rpc(
                .int(id), "artifacts.upload",
                ["tenant": "t", "providerId": "p", "mimeType": "x/y", "dataLength": .int(10 << 20)])
        }
        try await socket.send(line([upload(1), rpc(2, "tenants.usage", ["tenant": "t"]), upload(3)]))
        let batch = try #require(try await socket.readJSON().arrayValue)
        #expect(batch.count == 3, "\(batch)")
        for entry in batch where entry["id"] != 2 { expectError(entry, "INVALID_REQUEST", id: entry["id"] ?? .null) }
        #expect(try await socket.waitForClose(), "20 MiB announced by one batch cannot be skipped")
        let other = try RawSocket(path: server.socketPath)
        try await other.expectAlive()
    }

    @Test(.timeLimit(.minutes(2)))
    func attachmentBeyondEveryLimitClosesTheConnection() async throws {
        let server = try await ServerProcess.start()
        let bystander = try RawSocket(path: server.socketPath)
        let announced: [JSONValue] = [
            .int((16 << 20) + 1),
            .int(Int(Int64.max)),
        ]
        for (index, length) in announced.enumerated() {
            let socket = try RawSocket(path: server.socketPath)
            try await socket.send(
                line(
                    rpc(
                        .int(index), "artifacts.upload",
                        ["tenant": "t", "providerId": "p", "mimeType": "x/y", "dataLength": length]))
                    + Self.smuggled)
            let response = try await socket.readJSON()
            #expect(response["error"]?["data"]?["code"] == "REQUEST_TOO_LARGE", "\(response)")
            #expect(response["error"]?["data"]?["limit"]?.intValue != nil, "\(response)")
            #expect(response["error"]?["code"] == -32000, "\(response)")
            #expect(try await socket.waitForClose(), "the connection stays open after an unskippable attachment")
            #expect(!socket.pending.contains(0x0a), "answered more: \(String(decoding: socket.pending, as: UTF8.self))")
        }
        // The same on uploads.append.
        let socket = try RawSocket(path: server.socketPath)
        let begun = try await socket.result("uploads.begin", ["tenant": "t", "providerId": "p", "mimeType": "x/y"])
        try await socket.send(
            line(
                rpc(
                    "append", "uploads.append",
                    ["uploadId": begun["uploadId"]!, "offset": 0, "dataLength": .int(1 << 40)])))
        let response = try await socket.readJSON()
        #expect(response["error"]?["data"]?["code"] == "REQUEST_TOO_LARGE", "\(response)")
        #expect(try await socket.waitForClose())

        // A dataLength that is not a length at all.
        for (index, bad) in [JSONValue.int(-1), "12", .number(JSONNumber(1.5)), true].enumerated() {
            let socket = try RawSocket(path: server.socketPath)
            let response = try await socket.request(
                .int(index), "artifacts.upload",
                ["tenant": "t", "providerId": "p", "mimeType": "x/y", "dataLength": bad])
            expectError(response, "INVALID_PARAMS", id: .int(index), field: "dataLength")
        }
        try await bystander.expectAlive()
        #expect(try await bystander.result("tenants.usage", ["tenant": "t"])["artifactCount"] == 0)
    }

    /// protocol-v1, "Precise rules": "REQUEST_TOO_LARGE answers with `id: null`".
    /// The rule has no exception for an attachment announced by a readable request.
    @Test(.timeLimit(.minutes(2)))
    func requestTooLargeAnswersWithNullId() async throws {
        let server = try await ServerProcess.start()
        let socket = try RawSocket(path: server.socketPath)
        let response = try await socket.request(
            "too-large", "artifacts.upload",
            ["tenant": "t", "providerId": "p", "mimeType": "x/y", "dataLength": .int((16 << 20) + 1)])
        expectError(response, "REQUEST_TOO_LARGE", id: .null)
    }

    @Test(.timeLimit(.minutes(2)))
    func awkwardButValidClients() async throws {
        let server = try await ServerProcess.start()

        // One byte at a time.
        let trickle = try RawSocket(path: server.socketPath)
        for byte in line(rpc("trickle", "tenants.usage", ["tenant": "t"])) { try await trickle.send([byte]) }
        #expect(expectResult(try await trickle.readJSON(), id: "trickle")["artifactCount"] == 0)

        // CRLF line ends, as some tools send them.
        try await trickle.send(#"{"jsonrpc":"2.0","id":"crlf","method":"system.hello"}"# + "\r\n")
        #expect(try await trickle.readJSON()["id"] == "crlf")

        // A client that shuts its writing half after the last request still gets every answer (socat).
        let socat = try RawSocket(path: server.socketPath)
        try await socat.send(line(rpc(1, "system.hello")) + line(rpc(2, "tenants.usage", ["tenant": "t"])))
        socat.shutdownWrite()
        #expect(try await socat.readJSON()["id"] == 1)
        #expect(try await socat.readJSON()["id"] == 2)
        #expect(try await socat.waitForClose(), "the server keeps a half-closed connection open after answering")

        // Connections that vanish mid-request or without a word do no harm.
        for index in 0..<20 {
            let socket = try RawSocket(path: server.socketPath)
            if index % 2 == 0 { try await socket.send(Array(#"{"jsonrpc":"2.0","id":1,"meth"#.utf8)) }
            socket.close()
        }
        try await trickle.expectAlive()
        #expect(server.isRunning)
    }
}

extension JSONValue {
    /// The number when this is a `.number`.
    var numberValue: JSONNumber? {
        if case .number(let number) = self { return number }
        return nil
    }
}
