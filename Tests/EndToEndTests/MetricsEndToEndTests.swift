import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Metrics of a real `cairn serve`: `/metrics` over HTTP with
/// `--metrics-listen`, `system.metrics` over the socket, and the address
/// rules of the option.
@Suite(.timeLimit(.minutes(3)))
struct MetricsEndToEndTests {
    @Test func metricsCountEveryRequestByMethodAndCode() async throws {
        let server = try await ServerProcess.start(extraArguments: [
            "--metrics-listen", "127.0.0.1:0", "--log-level", "notice",
        ])
        let port = try await Self.metricsPort(of: server)
        let socket = try RawSocket(path: server.socketPath)
        let acme: JSONValue = ["tenant": "acme"]
        let content = Payload.random(3000)

        _ = try await socket.result("system.hello")
        _ = try await socket.result("system.hello")
        let meta = try await socket.result(
            "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"], attachment: content)
        let artifactId = try #require(meta["artifactId"])
        let read = try await socket.result("artifacts.read", ["tenant": "acme", "artifactId": artifactId])
        #expect(read["eof"] == true)
        expectError(
            try await socket.request(
                1, "artifacts.meta", ["tenant": "acme", "artifactId": .string(UUID().uuidString)]), "NOT_FOUND",
            id: 1)
        expectError(
            try await socket.request(2, "artifacts.meta", ["tenant": "acme", "artifactId": "nope"]), "INVALID_PARAMS",
            id: 2)
        expectError(try await socket.request(3, "tenants.usage", ["tenant": "Not A Tenant"]), "INVALID_PARAMS", id: 3)
        expectError(try await socket.request(4, "no.such.method", acme), "METHOD_NOT_FOUND", id: 4)
        let verified = try await socket.result("blobs.verify", acme)
        #expect(verified["checkedBlobs"] == 1)
        _ = try await socket.result("tenants.setQuota", ["tenant": "acme", "maxBytes": 4000])
        expectError(
            try await socket.request(
                5, "artifacts.upload", ["tenant": "acme", "providerId": "p", "mimeType": "x/y"],
                attachment: Payload.random(2000)), "QUOTA_EXCEEDED", id: 5)
        let overSocket = try await socket.result("system.metrics")
        #expect(overSocket["format"] == "prometheus-text-0.0.4")
        _ = try PrometheusText(parsing: try #require(overSocket["text"]?.stringValue))

        let response = try await Self.get("/metrics", port: port)
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let metrics = try PrometheusText(parsing: response.body)

        // Every request above, by method and outcome, and nothing else.
        let expected: [String: [String: Double]] = [
            "system.hello": ["ok": 2], "artifacts.upload": ["ok": 1, "QUOTA_EXCEEDED": 1], "artifacts.read": ["ok": 1],
            "artifacts.meta": ["NOT_FOUND": 1, "INVALID_PARAMS": 1], "tenants.usage": ["INVALID_PARAMS": 1],
            "unknown": ["METHOD_NOT_FOUND": 1], "blobs.verify": ["ok": 1], "tenants.setQuota": ["ok": 1],
            "system.metrics": ["ok": 1],
        ]
        var counted: [String: [String: Double]] = [:]
        for sample in metrics.series("cairn_requests_total") {
            #expect(Set(sample.labels.keys) == ["method", "code"], "\(sample)")
            counted[sample.labels["method"] ?? "", default: [:]][sample.labels["code"] ?? ""] = sample.value
        }
        #expect(counted == expected)
        #expect(metrics.types["cairn_requests_total"] == "counter")
        #expect(metrics.types["cairn_request_duration_seconds"] == "histogram")
        for (method, outcomes) in expected {
            #expect(
                metrics.value("cairn_request_duration_seconds_count", ["method": method])
                    == outcomes.values.reduce(0, +),
                "timed requests of \(method)")
        }

        // What the store holds and did, read when scraped.
        let tenant = ["tenant": "acme"]
        #expect(metrics.value("cairn_tenant_artifacts", tenant) == 1)
        #expect(metrics.value("cairn_tenant_stored_bytes", tenant) == 3000)
        #expect(metrics.value("cairn_tenant_logical_bytes", tenant) == 3000)
        #expect(metrics.value("cairn_tenant_quota_bytes", tenant) == 4000)
        #expect(metrics.value("cairn_tenant_quota_artifacts", tenant) == nil)
        #expect(metrics.value("cairn_upload_bytes_total") == 5000, "both uploads' bytes were taken")
        #expect(metrics.value("cairn_read_bytes_total") == 3000)
        #expect(metrics.value("cairn_verify_runs_total") == 1)
        #expect(metrics.value("cairn_verify_completed_total") == 1)
        #expect(metrics.value("cairn_verify_checked_blobs_total") == 1)
        #expect(metrics.value("cairn_verify_checked_bytes_total") == 3000)
        #expect(metrics.value("cairn_verify_corrupt_blobs_total") == 0)
        #expect((metrics.value("cairn_store_map_size_bytes") ?? 0) > 0)
        #expect((metrics.value("cairn_store_used_bytes") ?? 0) > 0)
        #expect((metrics.value("cairn_store_headroom_bytes") ?? 0) > 0)
        #expect(metrics.value("cairn_writer_queue_depth") == 0)
        #expect(metrics.value("cairn_uploads_open") == 0)
        let durable = metrics.value("cairn_writer_commit_duration_seconds_count", ["durability": "durable"])
        #expect((durable ?? 0) >= 2, "the upload and the quota were durable commits")
        #expect((metrics.value("cairn_connections_open") ?? 0) >= 1)
        for name in Set(metrics.samples.map { metrics.family(of: $0.name) }) {
            #expect(name.hasPrefix("cairn_"), "\(name) is not Cairn's")
        }

        // A quota removed takes its series with it; nothing but /metrics is served.
        _ = try await socket.result("tenants.setQuota", ["tenant": "acme", "maxBytes": .null])
        let again = try PrometheusText(parsing: try await Self.get("/metrics", port: port).body)
        #expect(again.value("cairn_tenant_quota_bytes", tenant) == nil)
        #expect(again.value("cairn_requests_total", ["method": "tenants.setQuota", "code": "ok"]) == 2)
        #expect(try await Self.get("/", port: port).status == 404)
    }

    @Test func systemMetricsNeedsTheAdminScopeOnEveryTenant() async throws {
        let server = try ServerProcess()
        let policy = server.scratch("access.json")
        let uid = getuid()
        try Data(
            (#"{"grants":[{"uid":\#(uid),"tenants":["acme"],"scopes":["read","admin"]},"#
                + #"{"uid":\#(uid),"tenants":["*"],"scopes":["read"]}]}"#).utf8
        ).write(to: URL(fileURLWithPath: policy))
        server.extraArguments = ["--access-policy", policy]
        try await server.start()
        let socket = try RawSocket(path: server.socketPath)
        let data = expectError(try await socket.request(1, "system.metrics"), "FORBIDDEN", id: 1)
        #expect(data["tenant"] == "*")
        #expect(data["scope"] == "admin")
        // The grant it has still works.
        _ = try await socket.result("tenants.usage", ["tenant": "acme"])
    }

    @Test(arguments: [
        ["--metrics-listen", "0.0.0.0:0"], ["--metrics-listen", "[::]:0"], ["--metrics-listen", "192.0.2.1:9464"],
        ["--metrics-listen", "example.org:9464"], ["--metrics-listen", "127.0.0.1"], ["--metrics-allow-remote"],
    ])
    func serveRefusesAMetricsAddressBeforeItStarts(_ options: [String]) async throws {
        let server = try ServerProcess()
        let result = try await server.cairn(
            ["serve", "--data-dir", server.dataDirectory, "--socket", server.socketPath] + options)
        #expect(result.status != 0, "\(result)")
        #expect(result.errorOutput.contains("metrics"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: server.socketPath), "the server did not start")
        if options.last?.hasPrefix("0.0.0.0") == true {
            #expect(result.errorOutput.contains("--metrics-allow-remote"), "\(result)")
        }
    }

    // MARK: - Helpers

    /// The port `--metrics-listen 127.0.0.1:0` chose, from the server's log.
    static func metricsPort(of server: ServerProcess) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            if let match = server.log.firstMatch(of: /metrics on http:\/\/127\.0\.0\.1:([0-9]+)\/metrics/),
                let port = Int(match.1)
            {
                return port
            }
            guard ContinuousClock.now < deadline, server.isRunning else {
                throw ServerProcess.FixtureError(description: "no metrics address in the log:\n\(server.log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// An HTTP/1.1 answer: status, headers (names lowercased) and body.
    struct HTTPResponse {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    /// `GET path` on 127.0.0.1:`port`, read to its declared length.
    static func get(_ path: String, port: Int) async throws -> HTTPResponse {
        let connection = try RawSocket(loopbackPort: port)
        try await connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
        let statusLine = String(decoding: try await connection.readLine(), as: UTF8.self)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        let status = try #require(parts.count >= 2 && parts[0] == "HTTP/1.1" ? Int(parts[1]) : nil, "\(statusLine)")
        var headers: [String: String] = [:]
        while true {
            let line = String(decoding: try await connection.readLine(), as: UTF8.self)
            try #require(line.hasSuffix("\r"), "a header line without CRLF: \(line)")
            let header = line.dropLast()
            if header.isEmpty { break }
            let colon = try #require(header.firstIndex(of: ":"), "\(header)")
            headers[header[..<colon].lowercased()] = header[header.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        let length = try #require(headers["content-length"].flatMap { Int($0) }, "no content-length: \(headers)")
        return HTTPResponse(
            status: status, headers: headers,
            body: String(decoding: try await connection.readBytes(length), as: UTF8.self))
    }
}
