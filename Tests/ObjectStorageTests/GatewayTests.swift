import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TestDaemons
import Testing

@testable import ObjectStorage

/// The client against a real S3 service: a single-node Ceph RADOS Gateway on loopback, started
/// once for the suite (``CephGateway``); every test works in a bucket of its own.
@Suite(.cephGateway, .timeLimit(.minutes(5)))
struct GatewayTests {
    /// Runs `body` with a client of the suite's gateway and a new bucket whose name starts with `name`.
    func withBucket(
        _ name: String, configure: (inout S3Configuration) -> Void = { _ in },
        _ body: (S3Client, String) async throws -> Void
    ) async throws {
        let gateway = try #require(CephGateway.current, "the suite's gateway is not running")
        var configuration = try gateway.configuration()
        configure(&configuration)
        let bucket = "\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        try await S3Client.withClient(configuration) { client in
            try await client.createBucket(bucket)
            try await body(client, bucket)
        }
    }

    @Test func putGetHeadWithMetadataRangesAndAStream() async throws {
        try await withBucket("roundtrip") { client, bucket in
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
            let key = "dir/sub dir/ünïcode € (1)+[x].bin"
            let stored = try await client.putObject(
                ByteBuffer(bytes: bytes), bucket: bucket, key: key, contentType: "application/octet-stream",
                metadata: ["Sha256": "abc123", "origin": "cairn test"])
            #expect(stored.etag == Hex.encode(PayloadDigests.md5(of: ByteBuffer(bytes: bytes))))

            let object = try await client.getObject(bucket: bucket, key: key)
            #expect(Array(object.body.readableBytesView) == bytes)
            #expect(object.attributes.size == Int64(bytes.count))
            #expect(object.attributes.etag == stored.etag)

            let head = try await client.headObject(bucket: bucket, key: key)
            #expect(head.size == Int64(bytes.count))
            #expect(head.etag == stored.etag)
            #expect(head.contentType == "application/octet-stream")
            #expect(head.metadata == ["sha256": "abc123", "origin": "cairn test"])

            let range = try await client.getObject(bucket: bucket, key: key, range: .bytes(1000...1999))
            #expect(Array(range.body.readableBytesView) == Array(bytes[1000...1999]))
            #expect(range.attributes.size == Int64(bytes.count))
            let tail = try await client.getObject(bucket: bucket, key: key, range: .suffix(10))
            #expect(Array(tail.body.readableBytesView) == Array(bytes.suffix(10)))

            let stream = try await client.getObjectStream(bucket: bucket, key: key, range: .from(100))
            #expect(stream.contentLength == Int64(bytes.count - 100))
            var streamed: [UInt8] = []
            for try await chunk in stream.body { streamed += chunk.readableBytesView }
            #expect(streamed == Array(bytes[100...]))

            let empty = try await client.putObject(ByteBuffer(), bucket: bucket, key: "empty")
            #expect(try await client.headObject(bucket: bucket, key: "empty").size == 0)
            #expect(empty.etag == "d41d8cd98f00b204e9800998ecf8427e")
        }
    }

    @Test func listingPagesThroughEveryKindOfKey() async throws {
        try await withBucket("listing") { client, bucket in
            let keys = (0..<23).map { index -> String in
                ["plain-\(index)", "with space \(index)", "ü€😀/\(index)", "a+b&c=d?e/\(index)", "x//y/./\(index)"][
                    index % 5]
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for key in keys {
                    group.addTask { try await client.putObject(ByteBuffer(string: key), bucket: bucket, key: key) }
                }
                try await group.waitForAll()
            }
            try await client.putObject(ByteBuffer(string: "other"), bucket: bucket, key: "zzz/other")

            var listed: [ObjectSummary] = []
            for try await object in client.objects(in: bucket, pageSize: 4) { listed.append(object) }
            let expected = (keys + ["zzz/other"]).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            #expect(listed.map(\.key) == expected)
            #expect(listed.first { $0.key == "zzz/other" }?.size == 5)

            let firstPage = try await client.listObjects(bucket: bucket, maximumKeys: 4)
            #expect(firstPage.objects.count == 4)
            #expect(firstPage.isTruncated)
            let secondPage = try await client.listObjects(
                bucket: bucket, continuationToken: firstPage.nextContinuationToken, maximumKeys: 4)
            #expect(secondPage.objects.first?.key == expected[4])

            let unicode = try await client.listObjects(bucket: bucket, prefix: "ü€😀/")
            #expect(unicode.objects.count == keys.filter { $0.hasPrefix("ü€😀/") }.count)
            let grouped = try await client.listObjects(bucket: bucket, delimiter: "/")
            #expect(grouped.commonPrefixes.contains("a+b&c=d?e/"))
            #expect(grouped.commonPrefixes.contains("x/"))
            #expect(grouped.objects.allSatisfy { !$0.key.contains("/") })
        }
    }

    @Test func deleteOneAndDeleteInABatch() async throws {
        try await withBucket("deletes") { client, bucket in
            let keys = (0..<30).map { "batch/\($0) ü" }
            for key in keys + ["single"] {
                try await client.putObject(ByteBuffer(string: key), bucket: bucket, key: key)
            }

            try await client.deleteObject(bucket: bucket, key: "single")
            await #expect {
                try await client.headObject(bucket: bucket, key: "single")
            } throws: { ($0 as? S3Error)?.isNotFound == true && ($0 as? S3Error)?.status == 404 }
            try await client.deleteObject(bucket: bucket, key: "single")  // gone already: still fine

            let failures = try await client.deleteObjects(keys + ["never-there"], bucket: bucket)
            #expect(failures.isEmpty)
            #expect(try await client.listObjects(bucket: bucket).objects.isEmpty)

            await #expect {
                try await client.deleteObjects((0...1000).map { "k\($0)" }, bucket: bucket)
            } throws: { ($0 as? S3Error)?.kind == .invalidRequest && ($0 as? S3Error)?.attempts == 0 }
        }
    }

    @Test func aWrongSecretIsSignatureDoesNotMatchAndAWrongKeyIDIsInvalidAccessKeyID() async throws {
        let gateway = try #require(CephGateway.current)
        var wrongSecret = try gateway.configuration()
        wrongSecret.credentials.secretAccessKey = "0123456789abcdef0123456789abcdef01234567"
        try await S3Client.withClient(wrongSecret) { client in
            await #expect {
                try await client.putObject(ByteBuffer(string: "x"), bucket: "anything", key: "k")
            } throws: { error in
                guard let error = error as? S3Error else { return false }
                return error.kind == .service && error.status == 403 && error.serviceCode == .signatureDoesNotMatch
                    && error.attempts == 1 && !"\(error)".contains(wrongSecret.credentials.secretAccessKey)
            }
        }
        var wrongKey = try gateway.configuration()
        wrongKey.credentials.accessKeyID = "NOSUCHACCESSKEY00000"
        try await S3Client.withClient(wrongKey) { client in
            await #expect {
                try await client.listObjects(bucket: "anything")
            } throws: { ($0 as? S3Error)?.serviceCode == .invalidAccessKeyID }
        }
    }

    @Test func missingBucketsAndKeys() async throws {
        try await withBucket("missing") { client, bucket in
            await #expect {
                try await client.getObject(bucket: "no-such-bucket-\(bucket)", key: "k")
            } throws: { ($0 as? S3Error)?.serviceCode == .noSuchBucket && ($0 as? S3Error)?.status == 404 }
            await #expect {
                try await client.headBucket("no-such-bucket-\(bucket)")
            } throws: { ($0 as? S3Error)?.serviceCode == .notFound && ($0 as? S3Error)?.isNotFound == true }
            await #expect {
                try await client.getObject(bucket: bucket, key: "no such key")
            } throws: { error in
                let error = error as? S3Error
                return error?.serviceCode == .noSuchKey && error?.resource == "\(bucket)/no such key"
                    && error?.requestID != nil
            }
            try await client.headBucket(bucket)
            try await client.ensureBucket(bucket)
            try await client.ensureBucket(bucket)
        }
    }

    @Test func aClosedPortIsUnreachableAtTheFirstAttempt() async throws {
        var configuration = try #require(CephGateway.current).configuration()
        configuration.endpoint = try S3Endpoint("http://127.0.0.1:\(try closedPort())")
        try await S3Client.withClient(configuration) { client in
            await #expect {
                try await client.headBucket("anything")
            } throws: { error in
                guard let error = error as? S3Error else { return false }
                return error.kind == .endpointUnreachable && error.isTransportFailure && error.attempts == 1
                    && error.status == nil
            }
        }
    }

    @Test func aMultipartUploadInParallelHoldsAtMostItsParallelismInMemory() async throws {
        try await withBucket("multipart") { client, bucket in
            let partSize = 5 << 20
            let partCount = 8
            let ledger = PartLedger()
            let parts = AsyncStream<ByteBuffer>(unfolding: {
                guard let number = ledger.produce(limit: partCount) else { return nil }
                return Self.part(number, size: partSize)
            })
            let uploaded = try await client.upload(
                bucket: bucket, key: "big/object", parts: parts, parallelism: 4,
                metadata: ["kind": "pack"]
            ) { _ in ledger.uploaded() }
            #expect(uploaded.partCount == partCount)
            #expect(uploaded.size == Int64(partCount * partSize))
            #expect(uploaded.etag.hasSuffix("-\(partCount)"))
            #expect(ledger.peak <= 4)

            let head = try await client.headObject(bucket: bucket, key: "big/object")
            #expect(head.size == Int64(partCount * partSize))
            #expect(head.metadata["kind"] == "pack")
            let stream = try await client.getObjectStream(bucket: bucket, key: "big/object")
            let body = try await stream.body.collect(upTo: partCount * partSize)
            for number in 1...partCount {
                #expect(
                    body.getSlice(at: (number - 1) * partSize, length: partSize) == Self.part(number, size: partSize),
                    "part \(number)")
            }
        }
    }

    @Test func aFailingPartSequenceAbortsTheUploadAndRethrows() async throws {
        struct SourceBroke: Error {}
        try await withBucket("aborted") { client, bucket in
            let parts = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
                continuation.yield(Self.part(1, size: 5 << 20))
                continuation.finish(throwing: SourceBroke())
            }
            await #expect(throws: SourceBroke.self) {
                try await client.upload(bucket: bucket, key: "broken", parts: parts, parallelism: 2)
            }
            await #expect {
                try await client.headObject(bucket: bucket, key: "broken")
            } throws: { ($0 as? S3Error)?.isNotFound == true }
        }
    }

    /// A PUT's body is checked by the service against the SHA-256 the request is signed with
    /// (`x-amz-content-sha256`): a body changed on the way is refused and nothing is stored, which
    /// is why a PUT carries no `Content-MD5` unless the caller knows the MD5 it meant to send.
    @Test func aBodyOtherThanTheSignedOneIsRefused() async throws {
        try await withBucket("payload") { client, bucket in
            let configuration = try #require(CephGateway.current).configuration()
            let meant = ByteBuffer(string: "these bytes")
            let request = S3Request(method: .PUT, bucket: bucket, key: "k", body: meant)
            let signed = S3Client.signed(
                request, digests: PayloadDigests(of: meant, withMD5: false), configuration: configuration,
                at: SigningTime(secondsSince1970: Int64(Date().timeIntervalSince1970)))
            #expect(signed.header("content-md5") == nil)
            var http = HTTPClientRequest(url: configuration.endpoint.origin + signed.path)
            http.method = .PUT
            for header in signed.headers { http.headers.add(name: header.name, value: header.value) }
            http.body = .bytes(ByteBuffer(string: "those bytes"))  // as long, other bytes
            let response = try await HTTPClient.shared.execute(http, timeout: .seconds(30))
            let answer = String(buffer: try await response.body.collect(upTo: 1 << 16))
            #expect(response.status.code == 400, "\(answer)")
            #expect(answer.contains("XAmzContentSHA256Mismatch") || answer.contains("BadDigest"), "\(answer)")
            await #expect {
                try await client.headObject(bucket: bucket, key: "k")
            } throws: { ($0 as? S3Error)?.isNotFound == true }
        }
    }

    @Test func unfinishedUploadsAreListedPageByPageAndAborted() async throws {
        try await withBucket("unfinished") { client, bucket in
            var begun: [MultipartUploadSummary] = []
            for key in ["data/one", "data/two two", "data/three", "index/other"] {
                let id = try await client.createMultipartUpload(bucket: bucket, key: key)
                begun.append(MultipartUploadSummary(key: key, uploadID: id, initiated: ""))
            }
            let first = try await client.listMultipartUploads(bucket: bucket, prefix: "data/", maximumUploads: 2)
            #expect(first.uploads.count == 2 && first.isTruncated && first.nextKeyMarker != nil)
            let listed = try await client.multipartUploads(bucket: bucket, prefix: "data/", pageSize: 1)
            #expect(listed.map(\.key) == ["data/one", "data/three", "data/two two"])
            #expect(Set(listed.map(\.uploadID)) == Set(begun.prefix(3).map(\.uploadID)))
            #expect(listed.allSatisfy { !$0.initiated.isEmpty })
            for upload in listed {
                try await client.abortMultipartUpload(uploadID: upload.uploadID, bucket: bucket, key: upload.key)
            }
            #expect(try await client.multipartUploads(bucket: bucket, prefix: "data/").isEmpty)
            #expect(try await client.multipartUploads(bucket: bucket).map(\.key) == ["index/other"])
        }
    }

    @Test func aWrongContentMD5IsBadDigest() async throws {
        try await withBucket("digest") { client, bucket in
            let wrong = PayloadDigests.md5(of: ByteBuffer(string: "other bytes"))
            await #expect {
                try await client.putObject(
                    ByteBuffer(string: "these bytes"), bucket: bucket, key: "k", contentMD5: wrong)
            } throws: { ($0 as? S3Error)?.serviceCode == .badDigest && ($0 as? S3Error)?.status == 400 }
            let right = PayloadDigests.md5(of: ByteBuffer(string: "these bytes"))
            try await client.putObject(ByteBuffer(string: "these bytes"), bucket: bucket, key: "k", contentMD5: right)
        }
    }

    @Test func ifNoneMatchRefusesAnExistingKey() async throws {
        try await withBucket("conditional") { client, bucket in
            try await client.putObject(ByteBuffer(string: "first"), bucket: bucket, key: "once", onlyIfAbsent: true)
            await #expect {
                try await client.putObject(
                    ByteBuffer(string: "second"), bucket: bucket, key: "once", onlyIfAbsent: true)
            } throws: { ($0 as? S3Error)?.serviceCode == .preconditionFailed && ($0 as? S3Error)?.status == 412 }
            #expect(String(buffer: try await client.getObject(bucket: bucket, key: "once").body) == "first")
        }
    }

    /// Part `number` of a test object: a 64 KiB pattern repeated, its first bytes the part's number.
    static func part(_ number: Int, size: Int) -> ByteBuffer {
        var block = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 8) }
        withUnsafeBytes(of: UInt64(number).bigEndian) { block.replaceSubrange(0..<8, with: $0) }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        while buffer.readableBytes < size {
            buffer.writeBytes(block.prefix(size - buffer.readableBytes))
        }
        return buffer
    }
}

/// Counts parts handed out and parts stored, and the most ever alive at once.
final class PartLedger: Sendable {
    private let state = Mutex((produced: 0, uploaded: 0, peak: 0))

    /// The next part's number, or `nil` after `limit`; counts it as alive.
    func produce(limit: Int) -> Int? {
        state.withLock { state in
            guard state.produced < limit else { return nil }
            state.produced += 1
            state.peak = max(state.peak, state.produced - state.uploaded)
            return state.produced
        }
    }

    func uploaded() {
        state.withLock { $0.uploaded += 1 }
    }

    var peak: Int { state.withLock { $0.peak } }
}

/// A TCP port on 127.0.0.1 that nothing listens on: bound, then closed again.
func closedPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}
