import ArgumentParser
import CairnClient
import CairnDigest
import CairnProtocol
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `cairn put FILE|-`: stores a file or standard input as an artifact.
struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store a file, or standard input (-), as an artifact.",
        discussion: """
            Content of up to 1 MiB (and no more than one chunk) goes in one request (artifacts.upload) \
            with the SHA-256 of the bytes read, which the server checks. Larger content is streamed in \
            chunks (uploads.begin, uploads.append, uploads.commit). A checksum of the bytes read is \
            computed while reading and checked by the server at the commit, so the commit is refused if \
            a byte went astray: XXH3-128 where the server offers it (xxh128 in system.hello's \
            capabilities), else SHA-256. The server computes the content's sha256 itself; --sha256 makes \
            it refuse content with another digest. An interrupted put of a regular file over one request \
            resumes where it stopped when the same command is run again (state in \
            $XDG_STATE_HOME/cairn/uploads/); standard input never resumes. Prints the artifact's meta.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Argument(help: ArgumentHelp("The file to store, or - for standard input.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("The provider the artifact is staged for, e.g. excititor:oci-openvex.", valueName: "id"))
    var provider: String

    @Option(help: ArgumentHelp("The artifact's media type.", valueName: "type"))
    var mimeType = "application/octet-stream"

    @Option(
        help: ArgumentHelp(
            "Send at most this many bytes per append (default and upper bound: the server's maxChunkBytes, at most 4 MiB).",
            valueName: "bytes"))
    var chunkBytes: Int?

    @Option(
        help: ArgumentHelp(
            "Store the content only if its sha256 is this one (64 hex digits, optionally prefixed with sha256:).",
            valueName: "digest"))
    var sha256: String?

    /// The largest append the CLI sends, whatever the server allows.
    static let maxChunk = 4 << 20

    /// The most content sent in one `artifacts.upload` instead of an upload of several requests
    /// (begin, appends, commit, and a resume record flushed to disk): one durable commit instead of
    /// three, at the price of a SHA-256 of the content on this side.
    static let maxOneRequest = 1 << 20

    func validate() throws {
        guard Names.isProvider(provider) else {
            throw ValidationError("'\(provider)' is not a provider id (^[a-z0-9][a-z0-9._:-]{0,127}$)")
        }
        if let chunkBytes, chunkBytes < 1 { throw ValidationError("--chunk-bytes must be at least 1") }
        if let sha256, SHA256Digest(parsing: sha256) == nil {
            throw ValidationError("--sha256 must be 64 hex digits, optionally prefixed with sha256:")
        }
        if file != "-" {
            guard let info = FileIO.status(path: file) else {
                throw ValidationError("cannot read \(file): \(SystemError())")
            }
            if FileIO.isDirectory(info) { throw ValidationError("\(file) is a directory") }
        }
    }

    func run() async throws {
        let fd: Int32
        if file == "-" {
            fd = 0
        } else {
            fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw LocalFailure.system("cannot open", file) }
        }
        defer { if fd != 0 { close(fd) } }
        let meta = try await client.withClient { connection in
            let serverChunk = try await connection.maxChunkBytes()
            let chunk = min(serverChunk, Self.maxChunk, chunkBytes ?? .max)
            let oneRequest = min(Self.maxOneRequest, chunk, try await connection.maxRequestBytes())
            let info = try FileIO.status(fd)
            let upload = Upload(
                connection: connection, tenant: tenant.name, providerId: provider, mimeType: mimeType, chunk: chunk,
                oneRequest: oneRequest, expectedSHA256: sha256.flatMap { SHA256Digest(parsing: $0)?.hex },
                check: try await TransferCheck.Algorithm.offered(by: connection),
                label: file == "-" ? "stdin" : (file as NSString).lastPathComponent, json: client.json)
            if file != "-", FileIO.isRegular(info) {
                if info.st_size > 0, info.st_size <= oneRequest {
                    return try await upload.whole(fd, path: file, status: info)
                }
                let key = ResumeRecords.Key(
                    socket: FileIO.absolute(client.socket), tenant: tenant.name, providerId: provider,
                    mimeType: mimeType,
                    path: FileIO.absolute(file), sizeBytes: UInt64(info.st_size),
                    modified: FileIO.modificationNanoseconds(info))
                return try await upload.file(fd, path: file, key: key)
            }
            return try await upload.stream(fd, path: file)
        }
        if client.json {
            Output.json(meta.json)
        } else {
            printMeta(meta)
        }
    }
}

/// One put in progress: the connection, what to stage, and the progress shown.
struct Upload {
    let connection: CairnClient
    let tenant: String
    let providerId: String
    let mimeType: String
    let chunk: Int
    /// The most content sent in one request (``Put/maxOneRequest``, at most `chunk`).
    let oneRequest: Int
    /// The digest the content must have (`--sha256`), in canonical hex.
    let expectedSHA256: String?
    /// The transfer check computed over the bytes sent.
    let check: TransferCheck.Algorithm
    let label: String
    let json: Bool
    let records = ResumeRecords()

    /// Uploads a regular file of known size, resuming the upload remembered under `key` if there is one.
    func file(_ fd: Int32, path: String, key: ResumeRecords.Key) async throws -> ArtifactInfo {
        records.prune()
        let size = key.sizeBytes
        let checksum = TransferCheck(check)
        var offset: UInt64 = 0
        var uploadId: String? = nil
        if let saved = records.uploadId(for: key) {
            if let resumeAt = try await ChunkedUpload.resumeOffset(of: saved, on: connection) {
                if resumeAt <= size {
                    uploadId = saved
                    offset = resumeAt
                } else {
                    try? await connection.abort(uploadId: saved)
                    records.remove(key)
                }
            } else {
                // Expired or aborted: start over.
                records.remove(key)
            }
        }
        if let uploadId {
            if !json {
                Output.error("cairn: resuming upload \(uploadId) at \(Output.bytes(offset)) of \(Output.bytes(size))")
            }
            // The server holds the first `offset` bytes; hash them again here to continue the check.
            var position: UInt64 = 0
            while position < offset {
                let bytes = try readChunk(
                    fd, path: path, count: Int(min(UInt64(Put.maxChunk), offset - position)), at: position)
                guard !bytes.isEmpty else {
                    throw LocalFailure("\(path) is shorter than the upload \(uploadId) it resumes")
                }
                checksum.update(bytes)
                position += UInt64(bytes.count)
            }
        } else {
            let id = try await connection.beginUpload(
                tenant: tenant, providerId: providerId, mimeType: mimeType, sizeBytes: size, sha256: expectedSHA256)
            records.save(id, for: key)
            uploadId = id
        }
        let id = uploadId!
        var progress = ProgressBar(
            label: label, total: size, resumedBytes: offset, enabled: ProgressBar.shouldShow(json: json))
        defer { progress.interrupt() }
        progress.update(offset)
        try await sendAppends(to: id, from: offset, checking: checksum, progress: &progress) { sent in
            guard sent < size else { return nil }
            let count = Int(min(UInt64(chunk), size - sent))
            let bytes = try readChunk(fd, path: path, count: count, at: sent)
            guard bytes.count == count else {
                await connection.discardResponsesInFlight()
                try? await connection.abort(uploadId: id)
                records.remove(key)
                throw LocalFailure("\(path) shrank while it was being uploaded; nothing was stored")
            }
            return bytes
        }
        let after = try FileIO.status(fd)
        guard UInt64(after.st_size) == size, FileIO.modificationNanoseconds(after) == key.modified else {
            try? await connection.abort(uploadId: id)
            records.remove(key)
            throw LocalFailure("\(path) changed while it was being uploaded; nothing was stored")
        }
        progress.finish()
        do {
            let meta = try await checksum.commit(uploadId: id, sha256: expectedSHA256, on: connection)
            records.remove(key)
            return meta
        } catch CairnClientError.server(let error) where error.code == .digestMismatch || error.code == .sizeMismatch {
            // The server's bytes are not this file's: resuming would never succeed.
            records.remove(key)
            try? await connection.abort(uploadId: id)
            throw CairnClientError.server(error)
        }
    }

    /// Stores a regular file that fits in one request (``oneRequest``); nothing to resume.
    func whole(_ fd: Int32, path: String, status: stat) async throws -> ArtifactInfo {
        let size = Int(status.st_size)
        // One byte more than the size, to see a file that grew.
        let bytes = try readChunk(fd, path: path, count: size + 1, at: 0)
        let after = try FileIO.status(fd)
        guard bytes.count == size, after.st_size == status.st_size,
            FileIO.modificationNanoseconds(after) == FileIO.modificationNanoseconds(status)
        else {
            throw LocalFailure("\(path) changed while it was being uploaded; nothing was stored")
        }
        return try await storeInOneRequest(bytes)
    }

    /// Uploads a stream of unknown size (standard input, a pipe); nothing to resume.
    func stream(_ fd: Int32, path: String) async throws -> ArtifactInfo {
        func next() throws -> [UInt8] {
            do {
                return try FileIO.read(fd, upTo: chunk)
            } catch {
                throw LocalFailure("cannot read \(path == "-" ? "standard input" : path): \(error)")
            }
        }
        // A read comes back short only at the end of the input.
        var first: [UInt8]? = try next()
        if let bytes = first, !bytes.isEmpty, bytes.count < chunk, bytes.count <= oneRequest {
            return try await storeInOneRequest(bytes)
        }
        let id = try await connection.beginUpload(
            tenant: tenant, providerId: providerId, mimeType: mimeType, sha256: expectedSHA256)
        var progress = ProgressBar(label: label, total: nil, enabled: ProgressBar.shouldShow(json: json))
        defer { progress.interrupt() }
        do {
            let checksum = TransferCheck(check)
            try await sendAppends(to: id, from: 0, checking: checksum, progress: &progress) { _ in
                let bytes = try first ?? next()
                first = nil
                return bytes.isEmpty ? nil : bytes
            }
            progress.finish()
            return try await checksum.commit(uploadId: id, sha256: expectedSHA256, on: connection)
        } catch {
            // Best effort: over a connection that still works, leave nothing open behind.
            try? await connection.abort(uploadId: id)
            throw error
        }
    }

    /// Stores `bytes` with one `artifacts.upload`. The server checks them against the digest given
    /// with `--sha256`, else against the SHA-256 of the bytes read, so that a byte gone astray on
    /// the way is refused as at the commit of a longer upload.
    private func storeInOneRequest(_ bytes: [UInt8]) async throws -> ArtifactInfo {
        var progress = ProgressBar(
            label: label, total: UInt64(bytes.count), enabled: ProgressBar.shouldShow(json: json))
        defer { progress.interrupt() }
        let digest = expectedSHA256 ?? SHA256Hasher.digest(bytes).hex
        let meta = try await connection.upload(
            tenant: tenant, providerId: providerId, mimeType: mimeType, bytes: bytes, sha256: digest)
        progress.update(UInt64(bytes.count))
        progress.finish()
        return meta
    }

    /// Sends the pieces `next` reads (given the offset they start at; `nil`
    /// at the end) through ``ChunkedUpload``, showing the acknowledged offsets.
    private func sendAppends(
        to uploadId: String, from start: UInt64, checking checksum: TransferCheck, progress: inout ProgressBar,
        next: (UInt64) async throws -> [UInt8]?
    ) async throws {
        try await ChunkedUpload(connection: connection, uploadId: uploadId).send(
            from: start, checking: checksum, progress: { progress.update($0) }, next: next)
    }

    private func readChunk(_ fd: Int32, path: String, count: Int, at offset: UInt64) throws -> [UInt8] {
        do {
            return try FileIO.read(fd, upTo: count, at: offset)
        } catch {
            throw LocalFailure("cannot read \(path): \(error)")
        }
    }
}

/// Prints an artifact's meta as `key: value` lines (with `deduplicated` after an upload).
func printMeta(_ meta: ArtifactInfo) {
    var lines: [(String, String)] = [
        ("artifactId", meta.artifactId), ("tenantId", meta.tenantId), ("providerId", meta.providerId),
        ("mimeType", meta.mimeType), ("sizeBytes", Output.exactBytes(meta.sizeBytes)), ("sha256", meta.sha256),
        ("stagedAt", meta.stagedAt), ("stagedBy", meta.stagedBy),
    ]
    if let deduplicated = meta.deduplicated { lines.append(("deduplicated", deduplicated ? "true" : "false")) }
    Output.fields(lines)
}
