import Crypto
import Foundation
import NIOCore
import ObjectStorage

/// A backup repository under an S3 prefix: packs of content, their indexes, snapshots and locks.
///
/// Objects, all under the location's prefix:
/// - `config` — the repository's kind, format and encryption (``RepositoryConfig``), in clear;
/// - `data/PACK` — packs: blobs laid end to end, stored as segments (see ``RepositoryCipher``);
/// - `index/PACK` — the blobs of one pack (``PackIndex``), written after the pack;
/// - `snapshots/ID` — one backup each (``SnapshotRecord``), written after everything it references;
/// - `locks/ID` — processes at work (``LockRecord``).
///
/// Every object but `config` is sealed when the repository is encrypted. Blobs are named by
/// ``blobName(sha256:)``, so one content is stored once whatever number of backups, tenants or
/// hosts hold it.
public final class BackupRepository: Sendable {
    /// The S3 client.
    public let s3: S3Client
    /// Where the repository is.
    public let location: RepositoryLocation
    /// How objects are sealed.
    public let cipher: RepositoryCipher

    private init(s3: S3Client, location: RepositoryLocation, cipher: RepositoryCipher) {
        self.s3 = s3
        self.location = location
        self.cipher = cipher
    }

    private static let keyCheckText = Array("cairn-backup key check".utf8)

    /// Opens the repository at `location`, or creates it when `create` and there is none.
    ///
    /// - Parameters:
    ///   - s3: the client.
    ///   - location: the bucket and prefix.
    ///   - keyFile: the encryption key file's contents; `nil` for a repository in clear.
    ///   - create: whether to create a missing repository (and its bucket), encrypted when a key is given.
    /// - Throws: ``RepositoryError``: `notARepository` when there is none and `create` is false, or
    ///   the location holds something else; `invalidKey` when the key does not open it, or a key
    ///   is missing or given where it is not used. ``S3Error`` for the service's failures.
    public static func open(
        s3: S3Client, location: RepositoryLocation, keyFile: [UInt8]?, create: Bool
    ) async throws -> BackupRepository {
        let configKey = location.key("config")
        let config: RepositoryConfig
        do {
            let object = try await s3.getObject(bucket: location.bucket, key: configKey, maximumSize: 1 << 20)
            config = try decode(RepositoryConfig.self, Array(buffer: object.body), what: "\(location)/config")
        } catch let error as S3Error where error.status == 404 {
            guard create else {
                throw RepositoryError(
                    .notARepository,
                    error.serviceCode == .noSuchBucket
                        ? "there is no bucket \(location.bucket)" : "there is no backup repository at \(location)")
            }
            if error.serviceCode == .noSuchBucket { try await s3.ensureBucket(location.bucket) }
            config = try makeConfig(keyFile: keyFile)
            do {
                try await s3.putObject(
                    ByteBuffer(bytes: try encode(config)), bucket: location.bucket, key: configKey,
                    contentType: "application/json", onlyIfAbsent: true)
            } catch let error as S3Error where error.status == 412 {
                // Another backup created it first: use theirs.
                return try await open(s3: s3, location: location, keyFile: keyFile, create: false)
            }
        }
        guard config.kind == "cairn-backup", config.format == 1 else {
            throw RepositoryError(
                .notARepository, "\(location) holds a \(config.kind) repository of format \(config.format)")
        }
        switch (config.encryption, keyFile) {
        case ("none", nil):
            return BackupRepository(s3: s3, location: location, cipher: .plain)
        case ("none", .some):
            throw RepositoryError(
                .invalidKey, "the repository at \(location) is not encrypted; run without an encryption key")
        case ("aes-256-gcm", nil):
            throw RepositoryError(
                .invalidKey,
                "the repository at \(location) is encrypted; give its key (--encryption-key-file or CAIRN_BACKUP_KEY_FILE)"
            )
        case ("aes-256-gcm", .some(let keyFile)):
            guard let salt = config.salt.flatMap({ Data(base64Encoded: $0) }),
                let check = config.keyCheck.flatMap({ Data(base64Encoded: $0) })
            else { throw RepositoryError(.notARepository, "\(location)/config has no salt or key check") }
            let cipher = RepositoryCipher.aes256GCM(try RepositoryKey(keyFile: keyFile, salt: Array(salt)))
            guard (try? cipher.openObject(Array(check), object: "config")) == keyCheckText else {
                throw RepositoryError(.invalidKey, "the encryption key does not open the repository at \(location)")
            }
            return BackupRepository(s3: s3, location: location, cipher: cipher)
        default:
            throw RepositoryError(.notARepository, "\(location) uses encryption \(config.encryption), unknown here")
        }
    }

    private static func makeConfig(keyFile: [UInt8]?) throws -> RepositoryConfig {
        guard let keyFile else { return RepositoryConfig(encryption: "none") }
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let cipher = RepositoryCipher.aes256GCM(try RepositoryKey(keyFile: keyFile, salt: salt))
        return RepositoryConfig(
            encryption: "aes-256-gcm", salt: Data(salt).base64EncodedString(),
            keyCheck: Data(try cipher.sealObject(keyCheckText, object: "config")).base64EncodedString())
    }

    // MARK: - Names

    /// The name of content whose SHA-256 is `sha256` (32 bytes).
    public func blobName(sha256: [UInt8]) -> String {
        if case .aes256GCM(let key) = cipher { return key.blobName(sha256: sha256) }
        return sha256.hexString
    }

    /// A new random id for a pack or lock.
    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexString
    }

    // MARK: - Whole objects

    /// Seals and stores a small object.
    func putSealed(_ plaintext: [UInt8], name: String) async throws {
        let stored = try cipher.sealObject(plaintext, object: name)
        try await s3.putObject(ByteBuffer(bytes: stored), bucket: location.bucket, key: location.key(name))
    }

    /// Reads and opens a small object.
    func getSealed(_ name: String, maximumSize: Int = 256 << 20) async throws -> [UInt8] {
        let object: S3Object
        do {
            object = try await s3.getObject(bucket: location.bucket, key: location.key(name), maximumSize: maximumSize)
        } catch let error as S3Error where error.status == 404 {
            throw RepositoryError(.damaged, "\(location.key(name)) is missing")
        }
        return try cipher.openObject(Array(buffer: object.body), object: name)
    }

    /// The names (after `directory/`) of every object under `directory/`.
    func names(in directory: String) async throws -> [String] {
        let prefix = location.key(directory + "/")
        var names: [String] = []
        for try await object in s3.objects(in: location.bucket, prefix: prefix) {
            names.append(String(object.key.dropFirst(prefix.count)))
        }
        return names
    }

    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw RepositoryError(.damaged, "\(what) is not a valid record: \(error)")
        }
    }

    // MARK: - Index

    /// Every blob the repository's indexes list, by name.
    ///
    /// An index that cannot be read is skipped (its blobs are stored again by the next backup);
    /// its name is returned in `unreadable`.
    public func loadIndex(parallelism: Int = 16) async throws -> (blobs: [String: BlobLocation], unreadable: [String]) {
        let packs = try await names(in: "index")
        var blobs: [String: BlobLocation] = [:]
        var unreadable: [String] = []
        try await withThrowingTaskGroup(of: (String, PackIndex?).self) { group in
            var next = 0
            func start() {
                let pack = packs[next]
                next += 1
                group.addTask {
                    do {
                        let bytes = try await self.getSealed("index/\(pack)", maximumSize: 64 << 20)
                        return (pack, try Self.decode(PackIndex.self, bytes, what: "index/\(pack)"))
                    } catch is RepositoryError {
                        return (pack, nil)
                    }
                }
            }
            while next < min(parallelism, packs.count) { start() }
            while let (pack, index) = try await group.next() {
                if next < packs.count { start() }
                guard let index, index.pack == pack else {
                    unreadable.append(pack)
                    continue
                }
                for entry in index.blobs {
                    blobs[entry.blob] = BlobLocation(
                        pack: pack, offset: entry.offset, length: entry.length, packLength: index.packLength)
                }
            }
        }
        return (blobs, unreadable)
    }

    // MARK: - Snapshots

    /// The ids of every backup, oldest first.
    public func snapshotIDs() async throws -> [String] {
        try await names(in: "snapshots").filter(SnapshotID.isValid).sorted()
    }

    /// The backup `id`.
    ///
    /// - Throws: ``RepositoryError`` `notFound` when there is none.
    public func snapshot(_ id: String) async throws -> SnapshotRecord {
        let bytes: [UInt8]
        do {
            bytes = try await getSealed("snapshots/\(id)", maximumSize: 16 << 20)
        } catch let error as RepositoryError where error.code == .damaged && error.message.hasSuffix("is missing") {
            throw RepositoryError(.notFound, "there is no backup \(id) in \(location)")
        }
        let record = try Self.decode(SnapshotRecord.self, bytes, what: "snapshots/\(id)")
        guard record.id == id else { throw RepositoryError(.damaged, "snapshots/\(id) holds backup \(record.id)") }
        return record
    }

    /// The backup the location names, or the newest.
    public func selectedSnapshot() async throws -> SnapshotRecord {
        if let id = location.backupID { return try await snapshot(id) }
        guard let newest = try await snapshotIDs().last else {
            throw RepositoryError(.notFound, "there is no backup in \(location)")
        }
        return try await snapshot(newest)
    }

    /// Stores `record`: the commit point of a backup.
    public func putSnapshot(_ record: SnapshotRecord) async throws {
        try await putSealed(try Self.encode(record), name: "snapshots/\(record.id)")
    }

    /// Removes the backup `id` (its objects stay until a prune finds them unreferenced).
    public func deleteSnapshot(_ id: String) async throws {
        try await s3.deleteObject(bucket: location.bucket, key: location.key("snapshots/\(id)"))
    }

    /// Reads a backup's tree, checked against the digest its record holds.
    public func tree(of snapshot: SnapshotRecord) async throws -> SnapshotTree {
        let bytes = try await readBlob(snapshot.tree)
        return try Self.decode(SnapshotTree.self, bytes, what: "the tree of backup \(snapshot.id)")
    }

    // MARK: - Reading blobs

    /// Reads one blob into memory and checks it against its reference's SHA-256 and size.
    ///
    /// - Throws: ``RepositoryError`` `damaged` when its pack is missing or short, does not
    ///   decrypt, or the bytes are not the content.
    public func readBlob(_ reference: ContentReference) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(reference.sizeBytes))
        try await streamBlob(reference) { bytes += $0 }
        return bytes
    }

    /// Reads one blob in pieces of at most a segment, in order, and checks the whole against its
    /// reference's SHA-256 and size before returning. `body` sees every piece before the check:
    /// a caller that keeps them must drop them when this throws.
    public func streamBlob(
        _ reference: ContentReference, _ body: ([UInt8]) async throws -> Void
    ) async throws {
        let location = reference.location
        guard location.length == reference.sizeBytes, location.offset >= 0,
            location.offset + location.length <= location.packLength
        else {
            throw RepositoryError(.damaged, "the reference to content sha256:\(reference.sha256) is inconsistent")
        }
        var hasher = SHA256()
        let name = "data/\(location.pack)"
        let range = location.offset..<location.offset + location.length
        let span = cipher.segments(covering: range, plaintextLength: location.packLength)
        // Read a few segments per request: a range of up to 8 MiB.
        var segment = span.first
        while segment <= span.last {
            let last = min(span.last, segment + 7)
            let part = cipher.segments(
                covering: segment
                    * Int64(RepositoryCipher.segmentSize)..<min(
                        location.packLength, (last + 1) * Int64(RepositoryCipher.segmentSize)),
                plaintextLength: location.packLength)
            let stored = try await readRange(name, part.storedRange)
            let stride = RepositoryCipher.segmentSize + cipher.overhead
            var cursor = 0
            for index in part.first...part.last {
                let end = min(stored.count, cursor + stride)
                let plaintext = try cipher.open(
                    stored[cursor..<end], index: index, isFinal: index == span.finalSegment, object: name)
                cursor = end
                let plainStart = index * Int64(RepositoryCipher.segmentSize)
                let from = max(range.lowerBound, plainStart) - plainStart
                let to = min(range.upperBound, plainStart + Int64(plaintext.count)) - plainStart
                guard from <= to, to <= Int64(plaintext.count) else {
                    throw RepositoryError(.damaged, "\(location.pack): segment \(index) is short")
                }
                let piece = Array(plaintext[Int(from)..<Int(to)])
                hasher.update(data: piece)
                if !piece.isEmpty { try await body(piece) }
            }
            segment = last + 1
        }
        let digest = Array(hasher.finalize()).hexString
        guard digest == reference.sha256 else {
            throw RepositoryError(
                .damaged, "content sha256:\(reference.sha256) in pack \(location.pack) reads back as sha256:\(digest)")
        }
    }

    private func readRange(_ name: String, _ range: Range<Int64>) async throws -> [UInt8] {
        do {
            let object = try await s3.getObject(
                bucket: location.bucket, key: location.key(name),
                range: .bytes(range.lowerBound...(range.upperBound - 1)), maximumSize: Int(range.count) + 1)
            let bytes = Array(buffer: object.body)
            guard bytes.count == range.count else {
                throw RepositoryError(
                    .damaged,
                    "\(location.key(name)) is short: \(bytes.count) of \(range.count) bytes at \(range.lowerBound)")
            }
            return bytes
        } catch let error as S3Error where error.status == 404 || error.status == 416 {
            throw RepositoryError(.damaged, "\(location.key(name)) is missing or short")
        }
    }

    // MARK: - Locks

    /// Takes a lock of `kind` (`backup` or `prune`), checks it against the others, and returns its
    /// name; the caller renews it with ``renewLock(_:kind:holder:now:)`` and removes it with
    /// ``releaseLock(_:)``. A kind that ``RepositoryLocks/waits(_:)`` keeps its lock and looks
    /// again every ``RepositoryLocks/retry`` while a live lock is in the way, for up to `patience`.
    ///
    /// - Parameter now: The time, in seconds since 1970, read afresh at each look.
    /// - Throws: ``RepositoryError`` `locked` when a live lock is still in the way (its own is
    ///   removed first).
    public func takeLock(
        kind: String, holder: String, now: @Sendable () -> Int64, patience: Duration = .zero
    ) async throws -> String {
        let name = Self.randomID()
        try await renewLock(name, kind: kind, holder: holder, now: now())
        let started = ContinuousClock.now
        do {
            while true {
                var locks: [(name: String, record: LockRecord)] = []
                for other in try await names(in: "locks") where other != name {
                    guard let bytes = try? await getSealed("locks/\(other)", maximumSize: 1 << 20),
                        let record = try? Self.decode(LockRecord.self, bytes, what: "locks/\(other)")
                    else { continue }
                    locks.append((other, record))
                }
                guard let conflict = RepositoryLocks.conflict(for: kind, mine: name, among: locks, now: now()) else {
                    return name
                }
                guard RepositoryLocks.waits(kind), ContinuousClock.now - started < patience else {
                    throw RepositoryError(
                        .locked,
                        "\(location) is locked by a \(conflict.record.kind) of \(conflict.record.holder) until \(CivilTime.iso8601(epochSeconds: conflict.record.expires)); try again later"
                    )
                }
                try await Task.sleep(for: RepositoryLocks.retry)
            }
        } catch {
            try? await releaseLock(name)
            throw error
        }
    }

    /// Writes (or pushes forward) the lock `name`.
    public func renewLock(_ name: String, kind: String, holder: String, now: Int64) async throws {
        let record = LockRecord(kind: kind, holder: holder, renewed: now, expires: now + RepositoryLocks.lease)
        try await putSealed(try Self.encode(record), name: "locks/\(name)")
    }

    /// Removes the lock `name`.
    public func releaseLock(_ name: String) async throws {
        try await s3.deleteObject(bucket: location.bucket, key: location.key("locks/\(name)"))
    }
}

extension BackupRepository {
    /// Reads several blobs of one pack with one ranged read of the segments that hold them, and
    /// checks each against its SHA-256 and size.
    ///
    /// - Returns: each reference with its bytes, or with the reason it is damaged.
    public func readBlobs(
        _ references: [ContentReference], inPack pack: String
    ) async throws -> [(reference: ContentReference, bytes: Result<[UInt8], RepositoryError>)] {
        guard let first = references.first else { return [] }
        let packLength = first.location.packLength
        let lower = references.map(\.location.offset).min() ?? 0
        let upper = references.map { $0.location.offset + $0.location.length }.max() ?? 0
        guard references.allSatisfy({ $0.location.pack == pack && $0.location.packLength == packLength }),
            lower >= 0, upper <= packLength
        else { throw RepositoryError(.damaged, "the references to pack \(pack) are inconsistent") }
        let name = "data/\(pack)"
        let span = cipher.segments(covering: lower..<upper, plaintextLength: packLength)
        let plaintext: [UInt8]
        do {
            let stored = try await readRange(name, span.storedRange)
            let stride = RepositoryCipher.segmentSize + cipher.overhead
            var out: [UInt8] = []
            out.reserveCapacity(stored.count)
            var cursor = 0
            for index in span.first...span.last {
                let end = min(stored.count, cursor + stride)
                out += try cipher.open(
                    stored[cursor..<end], index: index, isFinal: index == span.finalSegment, object: name)
                cursor = end
            }
            plaintext = out
        } catch let error as RepositoryError {
            return references.map { ($0, .failure(error)) }
        }
        return references.map { reference in
            let from = Int(reference.location.offset - span.plaintextStart)
            let to = from + Int(reference.location.length)
            guard from >= 0, to <= plaintext.count else {
                return (reference, .failure(RepositoryError(.damaged, "pack \(pack) is short")))
            }
            let bytes = Array(plaintext[from..<to])
            let digest = Array(SHA256.hash(data: bytes)).hexString
            guard digest == reference.sha256, bytes.count == reference.sizeBytes else {
                return (
                    reference,
                    .failure(
                        RepositoryError(
                            .damaged,
                            "content sha256:\(reference.sha256) in pack \(pack) reads back as sha256:\(digest)"))
                )
            }
            return (reference, .success(bytes))
        }
    }

    /// Removes `data/PACK` and `index/PACK`, the index first so that no new backup reuses the pack.
    func deletePack(_ pack: String) async throws {
        try await s3.deleteObject(bucket: location.bucket, key: location.key("index/\(pack)"))
        try await s3.deleteObject(bucket: location.bucket, key: location.key("data/\(pack)"))
    }

    /// The ids of every pack stored, whether or not an index lists it.
    func storedPacks() async throws -> [String] { try await names(in: "data") }
}
