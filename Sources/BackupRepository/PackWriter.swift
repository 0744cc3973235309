import Crypto
import NIOCore
import ObjectStorage

/// Writes blobs into packs: small ones laid end to end until a pack is full, large ones
/// streamed as a pack of their own with a multipart upload. Each pack is stored, then its index;
/// ``locations`` says where every blob went once ``finish()`` returns.
///
/// At most `parallelism` packs are in flight at once, each at most ``targetPackSize`` (plus one
/// blob) in memory, or `parallelism` + 2 parts of ``partSize`` for a streamed one: the memory
/// used does not grow with the store.
///
/// Used by one task at a time.
public final class PackWriter {
    /// The size at which a pack of small blobs is closed and sent.
    public static let targetPackSize = 8 << 20
    /// Blobs at least this large get a pack of their own, streamed.
    public static let streamedBlobSize: Int64 = 8 << 20
    /// The plaintext of one part of a streamed pack: whole segments.
    public static let partSize = 8 * RepositoryCipher.segmentSize

    /// The repository written to.
    public let repository: BackupRepository
    /// How many packs are sent at once.
    public let parallelism: Int
    /// Where each blob written went, by name; complete after ``finish()``.
    public private(set) var locations: [String: BlobLocation] = [:]
    /// Stored bytes sent, packs and indexes included.
    public private(set) var sentBytes: Int64 = 0
    /// Packs sent.
    public private(set) var sentPacks = 0

    private var pack: (id: String, bytes: [UInt8], entries: [PackIndex.Entry])?
    private var inFlight: [Task<Int64, any Error>] = []

    /// A writer into `repository`.
    public init(repository: BackupRepository, parallelism: Int = 4) {
        self.repository = repository
        self.parallelism = max(1, parallelism)
    }

    /// Adds a blob held in memory to the current pack, sending the pack when it is full.
    public func add(_ bytes: [UInt8], blob: String) async throws {
        if pack == nil { pack = (BackupRepository.randomID(), [], []) }
        pack!.entries.append(.init(blob: blob, offset: Int64(pack!.bytes.count), length: Int64(bytes.count)))
        pack!.bytes += bytes
        if pack!.bytes.count >= Self.targetPackSize { try await closePack() }
    }

    /// Streams a large blob as a pack of its own, reading it in parts with `read` and checking its
    /// SHA-256 on the way; a mismatch aborts the upload.
    ///
    /// - Parameters:
    ///   - blob: the blob's name.
    ///   - length: its length.
    ///   - sha256: the digest its bytes must have.
    ///   - read: reads the blob's bytes at these offsets.
    ///   - progress: called with the plaintext bytes of each part once it is stored.
    public func addStreamed(
        blob: String, length: Int64, sha256: [UInt8],
        read: @escaping @Sendable (Range<Int64>) async throws -> [UInt8],
        progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws {
        let id = BackupRepository.randomID()
        let name = "data/\(id)"
        let cipher = repository.cipher
        let segmentsPerPart = Int64(Self.partSize / RepositoryCipher.segmentSize)
        let segmentCount = RepositoryCipher.segmentCount(plaintextLength: length)
        let state = PartReader(
            length: length, sha256: sha256, segmentsPerPart: segmentsPerPart, segmentCount: segmentCount)
        let parts = AsyncThrowingStream<ByteBuffer, any Error>(unfolding: {
            guard let (range, firstSegment, isLast) = state.nextPart() else { return nil }
            let plaintext = try await read(range)
            guard plaintext.count == range.count else {
                throw RepositoryError(.damaged, "blob \(blob) reads short at \(range.lowerBound)")
            }
            try state.hash(plaintext, isLast: isLast, blob: blob)
            var out: [UInt8] = []
            out.reserveCapacity(plaintext.count + Int(segmentsPerPart) * cipher.overhead)
            var index = firstSegment
            var start = 0
            repeat {
                let end = min(plaintext.count, start + RepositoryCipher.segmentSize)
                out += try cipher.seal(
                    plaintext[start..<end], index: index, isFinal: index == segmentCount - 1, object: name)
                start = end
                index += 1
            } while start < plaintext.count
            return ByteBuffer(bytes: out)
        })
        let uploaded = try await repository.s3.upload(
            bucket: repository.location.bucket, key: repository.location.key(name), parts: parts,
            parallelism: parallelism + 2,
            onPartUploaded: { part in progress(Int64(part.size)) })
        let index = PackIndex(pack: id, packLength: length, blobs: [.init(blob: blob, offset: 0, length: length)])
        try await repository.putSealed(try BackupRepository.encode(index), name: "index/\(id)")
        locations[blob] = BlobLocation(pack: id, offset: 0, length: length, packLength: length)
        sentBytes += uploaded.size
        sentPacks += 1
    }

    /// Sends the last pack, waits for every pack and index in flight, and throws the first failure.
    public func finish() async throws {
        try await closePack()
        try await drain(until: 0)
    }

    /// Cancels what is in flight (after a failure elsewhere).
    public func cancel() {
        for task in inFlight { task.cancel() }
        inFlight.removeAll()
    }

    private func closePack() async throws {
        guard let pack else { return }
        self.pack = nil
        let packLength = Int64(pack.bytes.count)
        for entry in pack.entries {
            locations[entry.blob] = BlobLocation(
                pack: pack.id, offset: entry.offset, length: entry.length, packLength: packLength)
        }
        try await drain(until: parallelism - 1)
        let repository = repository
        inFlight.append(
            Task {
                let name = "data/\(pack.id)"
                let stored = try repository.cipher.sealObject(pack.bytes, object: name)
                try await repository.s3.putObject(
                    ByteBuffer(bytes: stored), bucket: repository.location.bucket, key: repository.location.key(name))
                let index = try BackupRepository.encode(
                    PackIndex(pack: pack.id, packLength: packLength, blobs: pack.entries))
                try await repository.putSealed(index, name: "index/\(pack.id)")
                return Int64(stored.count + index.count)
            })
        sentPacks += 1
    }

    private func drain(until count: Int) async throws {
        while inFlight.count > count {
            let task = inFlight.removeFirst()
            do {
                sentBytes += try await task.value
            } catch {
                cancel()
                throw error
            }
        }
    }
}

/// The order of a streamed pack's parts and the running digest of their plaintext.
private final class PartReader: @unchecked Sendable {
    // Parts are asked for one at a time, in order, by the upload's single reader.
    private let length: Int64
    private let sha256: [UInt8]
    private let segmentsPerPart: Int64
    private let segmentCount: Int64
    private var nextSegment: Int64 = 0
    private var hasher = SHA256()

    init(length: Int64, sha256: [UInt8], segmentsPerPart: Int64, segmentCount: Int64) {
        self.length = length
        self.sha256 = sha256
        self.segmentsPerPart = segmentsPerPart
        self.segmentCount = segmentCount
    }

    func nextPart() -> (Range<Int64>, Int64, Bool)? {
        guard nextSegment < segmentCount else { return nil }
        let first = nextSegment
        let last = min(segmentCount, first + segmentsPerPart)
        nextSegment = last
        let size = Int64(RepositoryCipher.segmentSize)
        return (first * size..<min(length, last * size), first, last == segmentCount)
    }

    func hash(_ bytes: [UInt8], isLast: Bool, blob: String) throws {
        hasher.update(data: bytes)
        guard isLast else { return }
        let digest = Array(hasher.finalize())
        guard digest == sha256 else {
            throw RepositoryError(
                .damaged, "the content of blob \(blob) does not hash to sha256:\(sha256.hexString) as it is read")
        }
    }
}
