import Foundation
import NIOCore
import NIOHTTP1
import TestDaemons
import Testing

@testable import ObjectStorage

/// The same requests signed by this module and by botocore's `S3SigV4Auth` (python3), at one
/// fixed instant, must carry the same `Authorization` header and the same path.
///
/// botocore builds its own URL from the bucket and the raw key (its `percent_encode`, as its S3
/// serializer does), encodes the raw query parameters itself, takes the host from the URL and
/// hashes the body itself: only the method, the other headers and the keys are shared. The
/// secret goes to python3 on standard input, never on its command line.
@Suite(
    .enabled("python3 cannot import botocore (pip install botocore, or apt-get install python3-botocore)") {
        (try? await ChildProcess.run(["python3", "-c", "import botocore.auth"]))?.status == 0
    })
struct BotocoreSignatureTests {
    static let script = #"""
        import base64, datetime, json, sys
        from unittest import mock
        import botocore.auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        from botocore.utils import percent_encode

        spec = json.load(sys.stdin)
        instant = datetime.datetime.strptime(spec["time"], "%Y%m%dT%H%M%SZ")
        answers = []
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=instant):
            for r in spec["requests"]:
                path = "/" + r["bucket"]
                if r.get("key") is not None:
                    path += "/" + percent_encode(r["key"], safe="/~")
                request = AWSRequest(
                    method=r["method"], url=r["endpoint"] + path, headers=dict(r["headers"]),
                    data=base64.b64decode(r["body"]), params=[tuple(pair) for pair in r["query"]])
                credentials = Credentials(r["accessKeyID"], r["secretAccessKey"], r.get("sessionToken"))
                botocore.auth.S3SigV4Auth(credentials, "s3", r["region"]).add_auth(request)
                answers.append({"authorization": request.headers["Authorization"], "path": path})
        json.dump(answers, sys.stdout)
        """#

    struct RequestSpec: Codable {
        var method: String
        var endpoint: String
        var bucket: String
        var key: String?
        var query: [[String]]
        var headers: [[String]]
        var body: String
        var region: String
        var accessKeyID: String
        var secretAccessKey: String
        var sessionToken: String?
    }

    struct Answer: Codable {
        var authorization: String
        var path: String
    }

    static let time = SigningTime(year: 2026, month: 12, day: 7, hour: 12, minute: 34, second: 56)
    static let credentials = S3Credentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

    static func configuration(
        endpoint: String = "http://127.0.0.1:7480", region: String = "us-east-1", sessionToken: String? = nil
    ) throws -> S3Configuration {
        var credentials = credentials
        credentials.sessionToken = sessionToken
        return S3Configuration(endpoint: try S3Endpoint(endpoint), region: region, credentials: credentials)
    }

    /// Requests of every shape the client sends.
    static func requests() throws -> [(S3Request, S3Configuration)] {
        var list = S3Request(method: .GET, bucket: "cairn-backups")
        list.query = [
            (name: "list-type", value: "2"), (name: "encoding-type", value: "url"), (name: "max-keys", value: "7"),
            (name: "prefix", value: "photos/2024 summer/ü+&=?*~'"),
            (name: "continuation-token", value: "1ueGc+/XYExHn=="),
        ]

        var put = S3Request(
            method: .PUT, bucket: "cairn-backups", key: "dir/sub dir/файл ü€ (1)+[x]&=?.txt",
            body: ByteBuffer(string: String(repeating: "hello world\n", count: 100)))
        put.headers = try S3Client.objectHeaders(
            contentType: "text/plain; charset=utf-8", metadata: ["Origin": "cairn  backup", "sha256": "ab12"])
        put.headers.append((name: "if-none-match", value: "*"))

        var ranged = S3Request(method: .GET, bucket: "cairn-backups", key: "a//b/./c/../d~e")
        ranged.headers = [(name: "range", value: ObjectRange.bytes(0...9).headerValue)]

        let head = S3Request(method: .HEAD, bucket: "bucket.with.dots", key: "😀 emoji key")

        var create = S3Request(method: .POST, bucket: "cairn-backups", key: "packs/00/ab cd")
        create.query = [(name: "uploads", value: "")]

        var part = S3Request(
            method: .PUT, bucket: "cairn-backups", key: "packs/00/ab cd",
            body: ByteBuffer(bytes: (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        part.query = [(name: "partNumber", value: "3"), (name: "uploadId", value: "2~xYz/+=abc")]

        var delete = S3Request(
            method: .POST, bucket: "cairn-backups", body: ByteBuffer(string: S3Responses.deleteBody(["a", "b & c"])))
        delete.query = [(name: "delete", value: "")]
        delete.headers = [(name: "content-type", value: "application/xml")]

        var abort = S3Request(method: .DELETE, bucket: "cairn-backups", key: "k")
        abort.query = [(name: "uploadId", value: "2~xYz/+=abc")]

        return [
            (list, try configuration()),
            (put, try configuration()),
            (ranged, try configuration(endpoint: "https://objects.example.net:8443", region: "eu-central-1")),
            (head, try configuration(sessionToken: "FQoGZXIvYXdzEXAMPLE//////////wEaDM+token=")),
            (create, try configuration(endpoint: "http://localhost")),
            (part, try configuration(sessionToken: "another token")),
            (delete, try configuration(region: "eu-west-3")),
            (abort, try configuration()),
        ]
    }

    @Test func authorizationHeadersMatchBotocores() async throws {
        let requests = try Self.requests()
        var specs: [RequestSpec] = []
        var ours: [(authorization: String, path: String)] = []
        for (request, configuration) in requests {
            let body = request.body ?? ByteBuffer()
            let signed = S3Client.signed(
                request, digests: PayloadDigests(of: body, withMD5: request.method == .POST),
                configuration: configuration, at: Self.time)
            ours.append((signed.header("authorization") ?? "", signed.path))
            let shared = signed.headers.filter {
                !["authorization", "host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]
                    .contains($0.name.lowercased())
            }
            specs.append(
                RequestSpec(
                    method: request.method.rawValue, endpoint: configuration.endpoint.description,
                    bucket: request.bucket ?? "", key: request.key, query: request.query.map { [$0.name, $0.value] },
                    headers: shared.map { [$0.name, $0.value] },
                    body: Data(body.readableBytesView).base64EncodedString(),
                    region: configuration.region, accessKeyID: configuration.credentials.accessKeyID,
                    secretAccessKey: configuration.credentials.secretAccessKey,
                    sessionToken: configuration.credentials.sessionToken))
        }
        let input = try JSONEncoder().encode([
            "time": AnyEncodable(Self.time.timestamp), "requests": AnyEncodable(specs),
        ])
        let result = try await ChildProcess.run(["python3", "-c", Self.script], input: Array(input))
        try #require(result.status == 0, "python3 with botocore failed:\n\(result.errorOutput)\(result.output)")
        let answers = try JSONDecoder().decode([Answer].self, from: Data(result.output.utf8))
        try #require(answers.count == ours.count)
        for (index, answer) in answers.enumerated() {
            #expect(answer.authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/"))
            #expect(ours[index].path == answer.path, "request \(index): \(requests[index].0.method)")
            #expect(ours[index].authorization == answer.authorization, "request \(index): \(requests[index].0.method)")
        }
    }
}

/// Any `Encodable`, so one JSON object can hold values of different types.
struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
