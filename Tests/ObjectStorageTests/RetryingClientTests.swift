import NIOCore
import Testing

@testable import ObjectStorage

/// The client's retry loop against a scripted peer on a real socket: which failures are sent
/// again, how often, and what is reported in the end. Delays are a millisecond at most.
@Suite struct RetryingClientTests {
    static func configuration(port: Int, attempts: Int = 4) throws -> S3Configuration {
        S3Configuration(
            endpoint: try S3Endpoint("http://127.0.0.1:\(port)"),
            credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret"),
            retry: .init(
                maximumAttempts: attempts, baseDelay: .milliseconds(1), throttledBaseDelay: .milliseconds(1),
                maximumDelay: .milliseconds(1), budget: nil))
    }

    static let slowDown = ScriptedPeer.Step.answer(
        status: 503, headers: ["Content-Type": "application/xml"],
        body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")

    @Test func throttlingAndServerErrorsAreRetriedUntilAnAnswerSucceeds() async throws {
        let peer = try ScriptedPeer([
            Self.slowDown, .answer(status: 500), .answer(status: 200, headers: ["ETag": "\"abc\""], body: "hello"),
        ])
        defer { peer.stop() }
        let object = try await S3Client.withClient(try Self.configuration(port: peer.port)) { client in
            try await client.getObject(bucket: "bucket", key: "a key")
        }
        #expect(String(buffer: object.body) == "hello")
        #expect(object.attributes.etag == "abc")
        #expect(peer.requests == Array(repeating: "GET /bucket/a%20key HTTP/1.1", count: 3))
    }

    @Test func droppedConnectionsAreRetriedThenReportedAsLost() async throws {
        let peer = try ScriptedPeer([.close, .close, .close, .close])
        defer { peer.stop() }
        await #expect {
            try await S3Client.withClient(try Self.configuration(port: peer.port, attempts: 3)) { client in
                try await client.deleteObject(bucket: "bucket", key: "k")
            }
        } throws: { error in
            guard let error = error as? S3Error else { return false }
            return error.kind == .connectionLost && error.attempts == 3 && error.isTransportFailure
        }
        #expect(peer.requests.count == 3)
    }

    @Test func throttlingToTheLastAttemptReportsTheServicesError() async throws {
        let peer = try ScriptedPeer([Self.slowDown, Self.slowDown])
        defer { peer.stop() }
        await #expect {
            try await S3Client.withClient(try Self.configuration(port: peer.port, attempts: 2)) { client in
                try await client.listObjects(bucket: "bucket")
            }
        } throws: { error in
            guard let error = error as? S3Error else { return false }
            return error.serviceCode == .slowDown && error.status == 503 && error.attempts == 2
                && error.message == "Please reduce your request rate."
        }
    }

    @Test func aClientErrorIsNotRetried() async throws {
        let peer = try ScriptedPeer([
            .answer(status: 403, body: "<Error><Code>AccessDenied</Code><Message>no</Message></Error>"),
            .answer(status: 200),
        ])
        defer { peer.stop() }
        await #expect {
            try await S3Client.withClient(try Self.configuration(port: peer.port)) { client in
                try await client.putObject(ByteBuffer(string: "x"), bucket: "bucket", key: "k")
            }
        } throws: { ($0 as? S3Error)?.serviceCode == .accessDenied && ($0 as? S3Error)?.attempts == 1 }
        #expect(peer.requests.count == 1)
    }

    @Test func anErrorInsideA200CompletionIsThrownAndRetried() async throws {
        let peer = try ScriptedPeer([
            .answer(status: 200, body: "<Error><Code>InternalError</Code><Message>try again</Message></Error>"),
            .answer(
                status: 200,
                body: "<CompleteMultipartUploadResult><ETag>\"e-1\"</ETag></CompleteMultipartUploadResult>"),
        ])
        defer { peer.stop() }
        let etag = try await S3Client.withClient(try Self.configuration(port: peer.port)) { client in
            try await client.completeMultipartUpload(
                [CompletedPart(partNumber: 1, etag: "ab", size: 1)], uploadID: "u", bucket: "bucket", key: "k")
        }
        #expect(etag == "e-1")
        #expect(peer.requests == Array(repeating: "POST /bucket/k?uploadId=u HTTP/1.1", count: 2))
    }
}
