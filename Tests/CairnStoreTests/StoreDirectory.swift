import CairnDigest
import CairnStore
import Foundation
import LMDB
import StoreLayout
import Testing

/// A temporary store directory whose store can be closed and opened again,
/// removed when it goes.
///
/// Unlike ``StoreFixture``, it holds no store: each ``withStore(_:_:)``
/// opens one and checks that it is gone (its LMDB environment closed)
/// before returning, since LMDB must never be open twice in one process.
final class StoreDirectory: Sendable {
    let path: String
    let clock = TestClock()

    init() {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-store-test-\(UUID().uuidString)").path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The LMDB data file.
    var dataFile: String { path + "/data.mdb" }

    /// A configuration reading time from ``clock``.
    func configuration(
        _ configure: (inout ArtifactStore.Configuration) -> Void = { _ in }
    ) -> ArtifactStore.Configuration {
        var configuration = ArtifactStore.Configuration()
        let clock = self.clock
        configuration.clock = { clock.now }
        configure(&configuration)
        return configuration
    }

    /// Opens the store in the directory. The caller must drop it before the
    /// directory is opened again.
    func open(_ configure: (inout ArtifactStore.Configuration) -> Void = { _ in }) throws -> ArtifactStore {
        try ArtifactStore.open(directory: path, configuration: configuration(configure), logger: quietLogger)
    }

    /// Opens the store, runs `body` with it, flushes it, and checks that
    /// nothing holds it any more, so that its environment is closed.
    @discardableResult
    func withStore<R>(
        _ configure: (inout ArtifactStore.Configuration) -> Void = { _ in },
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (ArtifactStore) async throws -> R
    ) async throws -> R {
        weak var opened: ArtifactStore?
        let result: R
        do {
            let store = try open(configure)
            opened = store
            result = try await body(store)
            try store.flush()
        }
        #expect(
            opened == nil, "the store outlived its scope: its environment is still open", sourceLocation: sourceLocation
        )
        return result
    }

    /// Runs `body` in a write transaction of the store's environment opened
    /// directly, without the store (which must be closed).
    func withRawWriteTransaction<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        let environment = try Environment(path: path)
        return try environment.withWriteTransaction(body)
    }

    /// Runs `body` in a read transaction of the store's environment opened
    /// directly, without the store (which must be closed).
    func withRawReadTransaction<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        let environment = try Environment(path: path)
        return try environment.withReadTransaction(body)
    }

    /// The number of entries in one of the store's databases, read directly.
    func rawCount(of database: DatabaseName) throws -> Int {
        try withRawReadTransaction { txn in
            guard let handle = try txn.openDatabase(database.rawValue, create: false) else { return 0 }
            return try txn.count(of: handle)
        }
    }

    /// The value under `key` in one of the store's databases, read directly.
    func rawValue(for key: [UInt8], in database: DatabaseName) throws -> [UInt8]? {
        try withRawReadTransaction { txn in
            guard let handle = try txn.openDatabase(database.rawValue, create: false) else { return nil }
            return try txn.get(key, in: handle).map { Array($0) }
        }
    }

    /// Stores `value` under `key` in one of the store's databases, directly.
    func setRawValue(_ value: [UInt8], for key: [UInt8], in database: DatabaseName) throws {
        try withRawWriteTransaction { txn in
            guard let handle = try txn.openDatabase(database.rawValue, create: true) else {
                throw StoreTestFailure("cannot open \(database)")
            }
            try txn.put(value, for: key, in: handle)
        }
    }
}

extension StoreDirectory {
    /// Replaces, directly, every chunk value for which `transform` returns a
    /// new one. The store must be closed.
    func rewriteChunks(_ transform: (_ key: [UInt8], _ value: [UInt8]) throws -> [UInt8]?) throws {
        try withRawWriteTransaction { txn in
            guard let chunks = try txn.openDatabase(DatabaseName.chunks.rawValue, create: false) else { return }
            var rewritten: [([UInt8], [UInt8])] = []
            try txn.withCursor(on: chunks) { cursor in
                var entry = try cursor.first()
                while let current = entry {
                    if let value = try transform(Array(current.key), Array(current.value)) {
                        rewritten.append((Array(current.key), value))
                    }
                    entry = try cursor.next()
                }
            }
            for (key, value) in rewritten { try txn.put(value, for: key, in: chunks) }
        }
    }

    /// Gives every chunk the header layouts 1 to 4 wrote: the SHA-256 of its data.
    func giveChunksSHA256Headers() throws {
        try rewriteChunks { _, value in
            let data = Array(value[ChunkHeader.byteCount...])
            return SHA256Hasher.digest(data).bytes + data
        }
    }

    /// The extent holding the tenant's blob of `content`, read directly.
    func extent(ofBlob content: [UInt8], tenant: String = "acme") throws -> UInt64 {
        let key = Keys.blob(tenant: tenant, sha256: SHA256Hasher.digest(content).bytes)
        guard let value = try rawValue(for: key, in: .blobs) else { throw StoreTestFailure("no blob") }
        return try BlobRecord(decoding: value).extent
    }

    /// The forms of the headers of the chunks of the tenant's blob of `content`, in order, read directly.
    func chunkHeaderForms(ofBlob content: [UInt8], tenant: String = "acme") throws -> [ChunkHeader.Form] {
        try chunkHeaderForms(extent: try extent(ofBlob: content, tenant: tenant))
    }

    /// The forms of the headers of the chunks of `extent`, in order, read directly.
    func chunkHeaderForms(extent: UInt64) throws -> [ChunkHeader.Form] {
        try withRawReadTransaction { txn in
            guard let chunks = try txn.openDatabase(DatabaseName.chunks.rawValue, create: false) else { return [] }
            var forms: [ChunkHeader.Form] = []
            try txn.withCursor(on: chunks) { cursor in
                var entry = try cursor.seek(atOrAfter: Keys.extent(extent))
                while let current = entry, current.key.starts(with: Keys.extent(extent)) {
                    forms.append(
                        ChunkHeader.form(of: UnsafeRawBufferPointer(rebasing: current.value[..<ChunkHeader.byteCount])))
                    entry = try cursor.next()
                }
            }
            return forms
        }
    }
}

struct StoreTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, which must throw a ``StoreError`` with `code` (and, when
/// given, `detail`); records an issue otherwise.
///
/// - Returns: the error, for further checks.
@discardableResult
func expectStoreError<R>(
    _ code: StoreError.Code,
    _ detail: StoreError.Detail? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> R
) async -> StoreError? {
    do {
        let result = try await body()
        Issue.record("expected \(code), but it succeeded with \(result)", sourceLocation: sourceLocation)
        return nil
    } catch let error as StoreError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        if let detail {
            #expect(error.detail == detail, "\(error)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected \(code), but it threw \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The most pages the paging helpers fetch: a listing that does not end
/// by then is a failure, not a hang.
let maxPages = 10_000

/// Every artifact of the tenant (optionally of one provider), paging with `limit`.
func allArtifacts(
    _ store: ArtifactStore, tenant: TenantID, providerId: ProviderID? = nil, limit: Int = 1000
) throws -> [ArtifactMeta] {
    var result: [ArtifactMeta] = []
    var cursor: String?
    for _ in 0..<maxPages {
        let page = try store.list(tenant: tenant, providerId: providerId, limit: limit, cursor: cursor)
        result += page.artifacts
        cursor = page.nextCursor
        if cursor == nil { return result }
    }
    throw StoreTestFailure("the listing of \(tenant) did not end after \(maxPages) pages")
}

/// Every event of the tenant.
func allEvents(_ store: ArtifactStore, tenant: TenantID) throws -> [AuditEvent] {
    var result: [AuditEvent] = []
    var cursor: String?
    for _ in 0..<maxPages {
        let page = try store.events(tenant: tenant, limit: 1000, cursor: cursor)
        result += page.events
        cursor = page.nextCursor
        if cursor == nil { return result }
    }
    throw StoreTestFailure("the events of \(tenant) did not end after \(maxPages) pages")
}

/// Stages `content` for `tenant` with the usual provider and type.
@discardableResult
func stage(
    _ store: ArtifactStore, _ tenant: TenantID, _ content: [UInt8], providerId: ProviderID = provider("p"),
    actor: Actor = alice
) async throws -> CommittedArtifact {
    try await store.stage(
        tenant: tenant, providerId: providerId, mimeType: "application/octet-stream", content: content, actor: actor)
}

/// Stages up to `count` artifacts of `size` pseudo-random bytes (seeds from
/// `seed` on) until the store refuses one.
///
/// - Returns: what was staged, in order, and the refusal (nil when all fit).
func stageUntilRefused(
    _ store: ArtifactStore, _ tenant: TenantID, count: Int, size: Int, seed: UInt64
) async throws -> (staged: [(id: UUID, content: [UInt8])], failure: StoreError?) {
    var staged: [(id: UUID, content: [UInt8])] = []
    for index in 0..<count {
        let content = pseudoRandomBytes(size, seed: seed + UInt64(index))
        do {
            let committed = try await stage(store, tenant, content)
            staged.append((committed.meta.artifactId, content))
        } catch let error as StoreError {
            return (staged, error)
        }
    }
    return (staged, nil)
}

/// The whole content of an artifact, read in one range.
func readAll(_ store: ArtifactStore, _ tenant: TenantID, _ artifactId: UUID) throws -> [UInt8] {
    let meta = try store.meta(tenant: tenant, artifactId: artifactId)
    let range = try store.read(tenant: tenant, artifactId: artifactId, length: Int(meta.sizeBytes))
    return range.bytes
}

/// The chunk size, as an `Int`.
let chunkBytes = Int(ChunkGeometry.standard.chunkSize)

extension StoreDirectory {
    /// Puts artifacts and the reference index back the way layouts 1 to 5
    /// keyed them, directly: by artifact id alone, in the databases of those
    /// layouts. Stores opened at an older target layout are written with
    /// the current keys; this makes them what an older build wrote.
    func giveArtifactsLegacyKeys() throws {
        let moves: [(DatabaseName, DatabaseName)] = [
            (.artifacts, .legacyArtifacts), (.artifactReferences, .legacyArtifactReferences),
        ]
        for (current, legacy) in moves {
            try withRawWriteTransaction { txn in
                guard let source = try txn.openDatabase(current.rawValue, create: true),
                    let target = try txn.openDatabase(legacy.rawValue, create: true)
                else { throw StoreTestFailure("cannot open \(current) or \(legacy)") }
                var moved: [([UInt8], [UInt8])] = []
                try txn.withCursor(on: source) { cursor in
                    var entry = try cursor.first()
                    while let (key, value) = entry {
                        // Drop the tenant prefix: the id (and any reference suffix) remains.
                        guard let end = key.firstIndex(of: 0) else { throw StoreTestFailure("no tenant prefix") }
                        moved.append((Array(key[(end + 1)...]), Array(value)))
                        entry = try cursor.next()
                    }
                }
                for (key, value) in moved { try txn.put(value, for: key, in: target) }
                try txn.removeDatabase(source)
            }
        }
    }
}
