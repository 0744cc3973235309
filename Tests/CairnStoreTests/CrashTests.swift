import CairnDigest
import CairnStore
import Foundation
import LMDB
import StoreLayout
import Testing

/// Killing the store's process at arbitrary points loses nothing it
/// reported, shows nothing partial, and leaves usage, reference counts and
/// chunks consistent.
@Suite struct CrashTests {
    /// Kill/restart cycles of `cairn-crash-driver churn` on one directory.
    static let rounds = 3
    /// Completed commits each round waits for before the kill.
    static let commitsBeforeKill = 20

    /// One churner at a time, and six at once (their durable writes are
    /// committed in groups, which a kill must not tear either).
    @Test(.timeLimit(.minutes(3)), arguments: [1, 6])
    func killedChurnLeavesAConsistentStore(workers: Int) async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-crash-test-\(UUID().uuidString)").path
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            for round in 0..<Self.rounds {
                try? FileManager.default.removeItem(atPath: "\(directory).round\(round).stderr")
            }
        }

        var ledger = ChurnLedger()
        for round in 0..<Self.rounds {
            // Each restart reopens the directory: start-up expiry and
            // reclamation run on what the kill left.
            let driver = try CrashDriverProcess(
                arguments: ["churn", "--dir", directory, "--seed", "\(7000 + round)", "--workers", "\(workers)"],
                stderrPath: "\(directory).round\(round).stderr")
            let started = ContinuousClock.now
            let killAfter = Duration.milliseconds(Int.random(in: 300...800))
            _ = try await driver.waitForLines(timeout: .seconds(90)) { lines in
                lines.count { $0.hasPrefix("committed ") } >= Self.commitsBeforeKill
                    && ContinuousClock.now - started >= killAfter
            }
            let lines = try await driver.killNow()
            try #require(
                lines.first == "ready",
                "round \(round): the driver's first line is \(lines.first ?? "nothing")")
            try ledger.apply(lines, round: round)
        }

        // Before the store opens (and reclaims): what the kill left on disk.
        let audit = try ChunkAudit(directory: directory)
        #expect(
            audit.orphanExtents.isEmpty,
            "chunks of extents nothing refers to: \(audit.orphanExtents.sorted())")
        #expect(audit.problems.isEmpty, "\(audit.problems)")

        let store = try ArtifactStore.open(directory: directory, logger: quietLogger)
        var unreported: [UUID] = []
        for tenantName in ["crash-a", "crash-b"] {
            let tenant = tenant(tenantName)
            let listed = try listAll(store, tenant: tenant)
            let listedIds = Set(listed.map(\.artifactId))
            #expect(listedIds.count == listed.count, "\(tenant): an artifact is listed twice")

            // Every listed artifact is whole and verifies: nothing partial shows.
            for meta in listed {
                let range = try store.read(
                    tenant: tenant, artifactId: meta.artifactId, length: Int(meta.sizeBytes) + 1)
                #expect(
                    UInt64(range.bytes.count) == meta.sizeBytes && range.eof,
                    "\(tenant) \(meta.artifactId): short read")
                #expect(
                    SHA256Hasher.digest(range.bytes) == meta.sha256,
                    "\(tenant) \(meta.artifactId): content does not match its digest")
                if let reported = ledger.committed[meta.artifactId] {
                    #expect(
                        reported.tenant == tenantName && reported.sha256 == meta.sha256.hex
                            && reported.size == meta.sizeBytes,
                        "\(meta.artifactId): listed as \(tenant) \(meta.sha256) \(meta.sizeBytes), reported as \(reported)"
                    )
                } else if !ledger.inDoubt.contains(meta.artifactId) {
                    unreported.append(meta.artifactId)
                }
                #expect(
                    !ledger.deleted.contains(meta.artifactId),
                    "\(tenant) \(meta.artifactId): reported deleted, still listed")
            }

            // Everything reported committed and not (maybe) deleted is there.
            for (id, reported) in ledger.committed where reported.tenant == tenantName {
                guard !ledger.deleted.contains(id), !ledger.inDoubt.contains(id) else { continue }
                let isListed = listedIds.contains(id)
                #expect(
                    isListed, "\(tenant) \(id): reported committed (round \(reported.round)), not listed")
                let meta = try? store.meta(tenant: tenant, artifactId: id)
                #expect(
                    meta?.sha256.hex == reported.sha256 && meta?.sizeBytes == reported.size,
                    "\(tenant) \(id): meta is \(String(describing: meta))")
            }
            for id in ledger.deleted {
                #expect(throws: StoreError.self, "\(id): reported deleted, still readable") {
                    try store.meta(tenant: tenant, artifactId: id)
                }
            }

            // Usage agrees with the listing.
            var digests: [SHA256Digest: (size: UInt64, ids: Set<UUID>)] = [:]
            for meta in listed {
                digests[meta.sha256, default: (meta.sizeBytes, [])].ids.insert(meta.artifactId)
                #expect(digests[meta.sha256]!.size == meta.sizeBytes, "\(meta.sha256): two sizes")
            }
            let usage = try store.usage(tenant: tenant)
            #expect(
                usage.artifactCount == UInt64(listed.count),
                "\(tenant): usage \(usage), \(listed.count) listed")
            #expect(
                usage.logicalBytes == listed.reduce(0) { $0 + $1.sizeBytes }, "\(tenant): usage \(usage)")
            #expect(
                usage.storedBytes == digests.values.reduce(0) { $0 + $1.size }, "\(tenant): usage \(usage)")
            for (digest, expected) in digests {
                let stat = try store.stat(tenant: tenant, sha256: digest)
                #expect(
                    stat.refCount == UInt64(expected.ids.count),
                    "\(tenant) \(digest): refCount \(stat.refCount), \(expected.ids.count) listed")
                #expect(
                    Set(stat.artifactIds) == expected.ids,
                    "\(tenant) \(digest): stat lists \(stat.artifactIds)")
                #expect(stat.sizeBytes == expected.size)
            }
        }
        // Each churner runs one operation at a time: at most one commit per
        // churner and kill can have gone unreported.
        #expect(unreported.count <= Self.rounds * workers, "unreported artifacts: \(unreported)")

        try store.flush()
        let health = try store.health()
        #expect(health.pendingReclaim == 0)
        #expect(
            health.openUploads == audit.uploads,
            "open uploads \(health.openUploads), \(audit.uploads) on disk before the open")
    }

    private func listAll(_ store: ArtifactStore, tenant: TenantID) throws -> [ArtifactMeta] {
        var all: [ArtifactMeta] = []
        var cursor: String?
        repeat {
            let page = try store.list(tenant: tenant, limit: ArtifactStore.maxPageSize, cursor: cursor)
            all += page.artifacts
            cursor = page.nextCursor
        } while cursor != nil
        return all
    }
}

/// What the churn driver reported over all rounds.
struct ChurnLedger {
    struct Reported: CustomStringConvertible {
        var tenant: String
        var sha256: String
        var size: UInt64
        var round: Int
        var description: String { "\(tenant) \(sha256) \(size) (round \(round))" }
    }

    /// Artifacts reported committed.
    var committed: [UUID: Reported] = [:]
    /// Artifacts reported deleted.
    var deleted: Set<UUID> = []
    /// Artifacts whose delete was issued but not reported done when the
    /// driver was killed: they may or may not exist.
    var inDoubt: Set<UUID> = []

    mutating func apply(_ lines: [String], round: Int) throws {
        for line in lines {
            let fields = line.split(separator: " ").map(String.init)
            switch fields.first {
            case "committed":
                guard fields.count == 6, let id = UUID(uuidString: fields[2]), let size = UInt64(fields[4])
                else {
                    throw CrashDriverProcess.Failure(description: "bad line: \(line)")
                }
                committed[id] = Reported(tenant: fields[1], sha256: fields[3], size: size, round: round)
            case "deleting":
                guard fields.count == 3, let id = UUID(uuidString: fields[2]) else {
                    throw CrashDriverProcess.Failure(description: "bad line: \(line)")
                }
                inDoubt.insert(id)
            case "deleted":
                guard fields.count == 3, let id = UUID(uuidString: fields[2]) else {
                    throw CrashDriverProcess.Failure(description: "bad line: \(line)")
                }
                inDoubt.remove(id)
                deleted.insert(id)
            default:
                continue
            }
        }
    }
}

/// The chunks on disk against what refers to them, read straight from
/// LMDB before the store opens (so before start-up reclamation).
struct ChunkAudit {
    /// Extents with chunks that no blob, upload or garbage entry names.
    let orphanExtents: Set<UInt64>
    /// Blobs or uploads whose chunks do not match their size, and extents
    /// named twice (a live extent in garbage would be reclaimed under it).
    let problems: [String]
    /// Open uploads.
    let uploads: Int

    init(directory: String) throws {
        // Opened and closed here: LMDB must not be open twice in a process.
        let environment = try Environment(path: directory)
        (orphanExtents, problems, uploads) = try environment.withReadTransaction { txn in
            // (A local function capturing `txn` crashes the 6.3 compiler.)
            guard let chunksDatabase = try txn.openDatabase(DatabaseName.chunks.rawValue, create: false),
                let blobsDatabase = try txn.openDatabase(DatabaseName.blobs.rawValue, create: false),
                let uploadsDatabase = try txn.openDatabase(DatabaseName.uploads.rawValue, create: false),
                let garbageDatabase = try txn.openDatabase(DatabaseName.garbage.rawValue, create: false)
            else { throw CrashDriverProcess.Failure(description: "a database of the store is missing") }
            let chunkSize = UInt64(ChunkGeometry.standard.chunkSize)
            var problems: [String] = []
            var chunks: [UInt64: UInt32] = [:]
            try Self.scan(txn, chunksDatabase) { key, _ in
                guard let position = Keys.chunkPosition(of: key) else {
                    problems.append("a chunk key of \(key.count) bytes")
                    return
                }
                chunks[position.extent, default: 0] += 1
            }
            var owners: [UInt64: String] = [:]
            func own(_ extent: UInt64, by owner: String, chunks expected: UInt32?) {
                if let other = owners[extent] {
                    problems.append("extent \(extent) belongs to \(other) and \(owner)")
                }
                owners[extent] = owner
                if let expected, chunks[extent, default: 0] != expected {
                    problems.append(
                        "\(owner): extent \(extent) has \(chunks[extent, default: 0]) chunks, not \(expected)")
                }
            }
            try Self.scan(txn, blobsDatabase) { key, value in
                let blob = try BlobRecord(decoding: value)
                let digest = key.suffix(32).map { String($0, radix: 16) }.joined()
                own(blob.extent, by: "blob \(digest)", chunks: blob.chunkCount)
            }
            var uploads = 0
            try Self.scan(txn, uploadsDatabase) { key, value in
                let upload = try UploadRecord(decoding: value)
                uploads += 1
                let expected = UInt32((upload.offset + chunkSize - 1) / chunkSize)
                own(
                    upload.extent, by: "upload \(key.map { String($0, radix: 16) }.joined())",
                    chunks: expected)
            }
            try Self.scan(txn, garbageDatabase) { key, _ in
                guard let extent = Keys.trailingSequence(of: key) else {
                    problems.append("a garbage key of \(key.count) bytes")
                    return
                }
                own(extent, by: "garbage", chunks: nil)
            }
            return (Set(chunks.keys).subtracting(owners.keys), problems, uploads)
        }
    }

    private static func scan(
        _ txn: borrowing Transaction, _ database: Database,
        _ body: (_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try txn.withCursor(on: database) { cursor in
            var entry = try cursor.first()
            while let current = entry {
                try body(Array(current.key), current.value)
                entry = try cursor.next()
            }
        }
    }
}
