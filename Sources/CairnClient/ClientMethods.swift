import CairnDigest
import CairnProtocol
import Foundation

/// An artifact's meta as the server reports it.
public struct ArtifactInfo: Sendable, Equatable {
    public var artifactId: String
    public var tenantId: String
    public var providerId: String
    public var mimeType: String
    public var sizeBytes: UInt64
    public var sha256: String
    public var stagedAt: String
    public var stagedBy: String
    /// Set on results of uploads: whether the tenant already held the content.
    public var deduplicated: Bool?
    /// The JSON object the server sent.
    public var json: JSONValue

    /// The meta of a typed result.
    public init(_ result: ArtifactMetaResult) {
        artifactId = result.artifactId.uuidString.lowercased()
        tenantId = result.tenantId
        providerId = result.providerId
        mimeType = result.mimeType
        sizeBytes = result.sizeBytes
        sha256 = result.sha256.hex
        stagedAt = result.stagedAt
        stagedBy = result.stagedBy
        deduplicated = result.deduplicated
        json = result.encoded
    }

    public init(json: JSONValue) throws {
        func string(_ key: String) throws -> String {
            guard let value = json[key]?.stringValue else {
                throw CairnClientError.protocolViolation("meta without \(key)")
            }
            return value
        }
        guard case .number(let size)? = json["sizeBytes"], let sizeBytes = size.int64, sizeBytes >= 0 else {
            throw CairnClientError.protocolViolation("meta without sizeBytes")
        }
        artifactId = try string("artifactId")
        tenantId = try string("tenantId")
        providerId = try string("providerId")
        mimeType = try string("mimeType")
        self.sizeBytes = UInt64(sizeBytes)
        sha256 = try string("sha256")
        stagedAt = try string("stagedAt")
        stagedBy = try string("stagedBy")
        deduplicated = json["deduplicated"]?.boolValue
        self.json = json
    }
}

/// A range of an artifact's content, as read.
public struct ReadChunk: Sendable, Equatable {
    public var bytes: [UInt8]
    public var offset: UInt64
    public var eof: Bool
    /// The whole artifact's digest.
    public var sha256: String
}

extension CairnClient {
    /// `system.hello`.
    public func hello() async throws -> JSONValue { try await call(Methods.systemHello, NoParams()).json }

    /// `system.hello`, asked once per connection.
    private func cachedHelloResult() async throws -> JSONValue {
        if let cachedHello { return cachedHello }
        let hello = try await hello()
        cachedHello = hello
        return hello
    }

    /// The server's chunk limit, from `system.hello`.
    public func maxChunkBytes() async throws -> Int { try await limit("maxChunkBytes") }

    /// The server's request limit (the largest attachment of `artifacts.upload` and
    /// `artifacts.importBatch`), from `system.hello`.
    public func maxRequestBytes() async throws -> Int { try await limit("maxRequestBytes") }

    /// One of `system.hello`'s `limits`.
    private func limit(_ name: String) async throws -> Int {
        guard case .number(let n)? = try await cachedHelloResult()["limits"]?[name], let value = n.int64, value > 0
        else {
            throw CairnClientError.protocolViolation("hello without limits.\(name)")
        }
        return Int(value)
    }

    /// Whether `system.hello` lists `capability` (e.g. `xxh128`: ``commit(uploadId:sha256:xxh128:)``
    /// checks an XXH3-128).
    public func supports(_ capability: String) async throws -> Bool {
        guard case .array(let listed)? = try await cachedHelloResult()["capabilities"] else { return false }
        return listed.contains { $0.stringValue == capability }
    }

    /// Stores small content in one request (`artifacts.upload`, as an attachment).
    public func upload(
        tenant: String, providerId: String, mimeType: String, bytes: [UInt8], sha256: String? = nil
    ) async throws -> ArtifactInfo {
        let params = UploadArtifactParams(
            tenant: tenant, providerId: providerId, mimeType: mimeType, sha256: try sha256.map { try Self.digest($0) })
        return ArtifactInfo(try await call(Methods.artifactsUpload, params, attachment: bytes))
    }

    /// `uploads.begin`; returns the upload id.
    public func beginUpload(
        tenant: String, providerId: String, mimeType: String, sizeBytes: UInt64? = nil, sha256: String? = nil
    ) async throws -> String {
        let params = BeginUploadParams(
            tenant: tenant, providerId: providerId, mimeType: mimeType, sizeBytes: sizeBytes,
            sha256: try sha256.map { try Self.digest($0) })
        return try await call(Methods.uploadsBegin, params).uploadId.uuidString.lowercased()
    }

    /// `uploads.append` with the bytes as an attachment; returns the new offset.
    public func append(uploadId: String, offset: UInt64, bytes: [UInt8]) async throws -> UInt64 {
        let params = AppendParams(uploadId: try Self.uuid(uploadId, "uploadId"), offset: offset)
        return try await call(Methods.uploadsAppend, params, attachment: bytes).offset
    }

    /// Sends an `uploads.append` without waiting; take its new offset with
    /// ``receiveAppendOffset()``. Keeping two appends in flight overlaps the
    /// client's reading and hashing with the server's storing.
    public func sendAppend(uploadId: String, offset: UInt64, bytes: [UInt8]) async throws {
        let params = AppendParams(uploadId: try Self.uuid(uploadId, "uploadId"), offset: offset)
        try await send(Request(Methods.uploadsAppend, params, attachment: bytes))
    }

    /// The new offset answered to the oldest ``sendAppend(uploadId:offset:bytes:)``.
    public func receiveAppendOffset() async throws -> UInt64 {
        try Self.decode(Methods.uploadsAppend, try await receive().get()).offset
    }

    /// Receives and drops every response still in flight (after a failure,
    /// before the connection is used for something else).
    public func discardResponsesInFlight() async {
        while requestsInFlight > 0 {
            guard (try? await receive()) != nil else { return }
        }
    }

    /// `uploads.status`: the offset to resume at.
    public func uploadOffset(uploadId: String) async throws -> UInt64 {
        try await call(Methods.uploadsStatus, UploadParams(uploadId: try Self.uuid(uploadId, "uploadId"))).offset
    }

    /// `uploads.commit`, checking the content against `sha256` and `xxh128`
    /// (32 hex digits) when given. Send `xxh128` only where ``supports(_:)``
    /// reports it: a server without the capability ignores the parameter
    /// and checks nothing.
    public func commit(uploadId: String, sha256: String? = nil, xxh128: String? = nil) async throws -> ArtifactInfo {
        let params = CommitUploadParams(
            uploadId: try Self.uuid(uploadId, "uploadId"), sha256: try sha256.map { try Self.digest($0) },
            xxh128: try xxh128.map { text in
                guard let checksum = XXH3Hash128(hex: text) else {
                    throw CairnClientError.server(
                        .invalidParams("xxh128", "xxh128 must be 32 hex digits (an XXH3-128, as xxhsum -H2 prints it)"))
                }
                return checksum
            })
        return ArtifactInfo(try await call(Methods.uploadsCommit, params))
    }

    /// `uploads.abort`.
    public func abort(uploadId: String) async throws {
        _ = try await call(Methods.uploadsAbort, UploadParams(uploadId: try Self.uuid(uploadId, "uploadId")))
    }

    /// `artifacts.meta`.
    public func meta(tenant: String, artifactId: String) async throws -> ArtifactInfo {
        ArtifactInfo(
            try await call(
                Methods.artifactsMeta,
                ArtifactParams(tenant: tenant, artifactId: try Self.uuid(artifactId, "artifactId"))
            ))
    }

    /// `artifacts.read` with the bytes as an attachment.
    public func read(tenant: String, artifactId: String, offset: UInt64 = 0, length: Int? = nil) async throws
        -> ReadChunk
    {
        let params = ReadParams(
            tenant: tenant, artifactId: try Self.uuid(artifactId, "artifactId"), offset: offset,
            length: length.map(UInt64.init), binary: true)
        let range = try await call(Methods.artifactsRead, params)
        return ReadChunk(bytes: range.bytes, offset: range.offset, eof: range.eof, sha256: range.sha256.hex)
    }

    /// Reads a whole artifact in chunks, handing each to `sink`, and checks
    /// the digest of everything received against the artifact's.
    ///
    /// - Throws: ``CairnClientError/digestMismatch(expected:actual:)`` after
    ///   the last chunk when the bytes do not match; the caller must then
    ///   discard what `sink` received.
    public func download(
        tenant: String, artifactId: String, chunkBytes: Int? = nil, _ sink: ([UInt8]) throws -> Void
    ) async throws -> ArtifactInfo {
        let meta = try await meta(tenant: tenant, artifactId: artifactId)
        return try await download(meta, chunkBytes: chunkBytes, sink)
    }

    /// Reads the whole artifact described by `meta` (as from
    /// ``meta(tenant:artifactId:)``), like ``download(tenant:artifactId:chunkBytes:_:)``.
    ///
    /// Keeps a few reads in flight, so the server verifies the next range
    /// while this side hashes and writes the previous one.
    public func download(
        _ meta: ArtifactInfo, chunkBytes: Int? = nil, _ sink: ([UInt8]) throws -> Void
    ) async throws -> ArtifactInfo {
        let chunk = UInt64(try await min(chunkBytes ?? .max, maxChunkBytes()))
        let window = 3
        var hasher = SHA256Hasher()
        var requested: UInt64 = 0
        var offset: UInt64 = 0
        let artifactId = try Self.uuid(meta.artifactId, "artifactId")
        func request(at position: UInt64) -> Request {
            Request(
                Methods.artifactsRead,
                ReadParams(tenant: meta.tenantId, artifactId: artifactId, offset: position, length: chunk, binary: true)
            )
        }
        do {
            // Artifacts never change, so every range can be asked for up
            // front; an empty artifact still takes one read.
            let end = max(meta.sizeBytes, 1)
            repeat {
                while requestsInFlight < window && requested < end {
                    try await send(request(at: requested))
                    requested += chunk
                }
                let range = try Self.decode(Methods.artifactsRead, try await receive().get())
                guard range.offset == offset else {
                    throw CairnClientError.protocolViolation("a read answered the wrong offset")
                }
                let bytes = range.bytes
                hasher.update(bytes)
                try sink(bytes)
                offset += UInt64(bytes.count)
            } while requestsInFlight > 0
        } catch {
            await discardResponsesInFlight()
            throw error
        }
        let actual = hasher.finalize().hex
        guard actual == meta.sha256, offset == meta.sizeBytes else {
            throw CairnClientError.digestMismatch(expected: meta.sha256, actual: actual)
        }
        return meta
    }

    /// `artifacts.delete`; returns whether the blob was freed.
    public func delete(tenant: String, artifactId: String) async throws -> Bool {
        try await call(
            Methods.artifactsDelete, ArtifactParams(tenant: tenant, artifactId: try Self.uuid(artifactId, "artifactId"))
        ).blobFreed
    }

    /// The SHA-256 a caller gave as text, or the error the server would give for it.
    static func digest(_ text: String) throws -> SHA256Digest {
        guard let digest = SHA256Digest(parsing: text) else {
            throw CairnClientError.server(
                .invalidParams("sha256", "sha256 must be 64 hex digits, optionally prefixed with sha256:"))
        }
        return digest
    }
}
