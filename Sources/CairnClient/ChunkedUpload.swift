import CairnDigest
import CairnProtocol

/// An upload under way on one connection: appends sent in order, several
/// in flight, and the way back into an upload after a dropped connection.
///
/// Both `cairn put` and the web console (`cairn web`) send bytes through
/// it: `put` reads them from a file, the console from the pieces the page
/// posts. It keeps up to ``appendsInFlight`` appends unanswered, so the next
/// piece is read and checked on this side while the server stores earlier
/// ones (the server stores up to four of a connection's appends at once).
///
/// It does not remember anything across processes (the CLI's resume records
/// and the page's own bookkeeping do that), begin or commit the upload, or
/// choose piece sizes: the caller hands it pieces of at most `maxChunkBytes`.
///
/// ```swift
/// let id = try await client.beginUpload(tenant: "acme", providerId: "p", mimeType: "text/plain", sizeBytes: 13)
/// let upload = ChunkedUpload(connection: client, uploadId: id)
/// _ = try await upload.send(from: 0) { sent in sent == 0 ? Array("hello, cairn\n".utf8) : nil }
/// ```
public struct ChunkedUpload {
    /// The connection the appends travel on.
    public let connection: CairnClient
    /// The upload, as `uploads.begin` named it.
    public let uploadId: String

    /// Appends sent and not yet answered, at most.
    public static let appendsInFlight = 4

    /// - Parameters:
    ///   - connection: the connection to send on; use it for nothing else while ``send(from:checking:progress:next:)`` runs.
    ///   - uploadId: an upload of the connection's peer.
    public init(connection: CairnClient, uploadId: String) {
        self.connection = connection
        self.uploadId = uploadId
    }

    /// Where an upload begun earlier stands (`uploads.status`): the offset to
    /// append at, or `nil` when the server no longer has it (expired,
    /// aborted, or never this peer's: `NOT_FOUND`).
    ///
    /// - Throws: every other error of the call.
    public static func resumeOffset(of uploadId: String, on connection: CairnClient) async throws -> UInt64? {
        do {
            return try await connection.uploadOffset(uploadId: uploadId)
        } catch CairnClientError.server(let error) where error.code == .notFound {
            return nil
        }
    }

    /// Sends the pieces `next` reads, given the offset each starts at (`nil`
    /// at the end), from `start` on, and returns once every append is stored.
    ///
    /// - Parameters:
    ///   - start: the upload's current offset.
    ///   - checksum: fed every byte sent, in order, when given.
    ///   - progress: told each offset the server acknowledges.
    ///   - next: the piece at the given offset, at most the server's `maxChunkBytes`.
    /// - Returns: the offset after the last append.
    /// - Throws: the first failure; responses still in flight are read and dropped first, so the
    ///   connection can go on to an abort or a status call.
    @discardableResult
    public func send(
        from start: UInt64, checking checksum: TransferCheck? = nil, progress: (UInt64) -> Void = { _ in },
        next: (UInt64) async throws -> [UInt8]?
    ) async throws -> UInt64 {
        var sent = start
        var stored = start
        var ended = false
        do {
            while !ended || connection.requestsInFlight > 0 {
                if !ended && connection.requestsInFlight < Self.appendsInFlight {
                    guard let bytes = try await next(sent) else {
                        ended = true
                        continue
                    }
                    checksum?.update(bytes)
                    try await connection.sendAppend(uploadId: uploadId, offset: sent, bytes: bytes)
                    sent += UInt64(bytes.count)
                    continue
                }
                let offset = try await connection.receiveAppendOffset()
                guard offset > stored, offset <= sent else {
                    throw CairnClientError.protocolViolation("uploads.append answered offset \(offset) after \(stored)")
                }
                stored = offset
                progress(stored)
            }
        } catch {
            await connection.discardResponsesInFlight()
            throw error
        }
        return stored
    }
}

@available(*, unavailable)
extension ChunkedUpload: Sendable {}

/// What an uploader computes over the bytes it sends, so that the server
/// refuses the commit when they are not the bytes it stored.
///
/// XXH3-128 costs a tenth of a SHA-256 pass, and the server computes the
/// content's SHA-256 anyway; SHA-256 is for servers that do not offer
/// `xxh128`. Either way the check is end to end: from the bytes the client
/// read to the bytes the server accepted.
public final class TransferCheck {
    /// The checksum computed.
    public enum Algorithm: Sendable {
        case xxh128
        case sha256

        /// XXH3-128 where the server lists `xxh128` in its capabilities, else SHA-256.
        public static func offered(by connection: CairnClient) async throws -> Algorithm {
            try await connection.supports("xxh128") ? .xxh128 : .sha256
        }
    }

    /// The checksum computed.
    public let algorithm: Algorithm
    private var xxh128 = XXH3Hasher128()
    private var sha256 = SHA256Hasher()

    /// A check computed with `algorithm`, over nothing yet.
    public init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
    }

    /// Feeds the next bytes sent.
    public func update(_ bytes: [UInt8]) {
        switch algorithm {
        case .xxh128: xxh128.update(bytes)
        case .sha256: sha256.update(bytes)
        }
    }

    /// `uploads.commit` with the check of every byte fed, and the digest the content must have, if any.
    public func commit(uploadId: String, sha256 expected: String?, on connection: CairnClient) async throws
        -> ArtifactInfo
    {
        switch algorithm {
        case .xxh128:
            return try await connection.commit(uploadId: uploadId, sha256: expected, xxh128: xxh128.finalize().hex)
        case .sha256:
            // An expected digest checks the content as well as this one would.
            let digest = expected ?? sha256.copy().finalize().hex
            return try await connection.commit(uploadId: uploadId, sha256: digest)
        }
    }
}

@available(*, unavailable)
extension TransferCheck: Sendable {}
