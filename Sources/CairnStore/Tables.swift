import LMDB
import StoreLayout

/// The handles of the store's databases, opened once at start-up.
struct Tables: Sendable {
    let meta: Database
    let tenants: Database
    let artifacts: Database
    let tenantArtifacts: Database
    let providerArtifacts: Database
    let blobs: Database
    let blobArtifacts: Database
    let chunks: Database
    let uploads: Database
    let garbage: Database
    let events: Database
    let providerConfigs: Database
    let artifactReferences: Database

    /// The databases of the current layout, in the order a store creates them.
    static let names: [DatabaseName] = [
        .meta, .tenants, .artifacts, .tenantArtifacts, .providerArtifacts, .blobs, .blobArtifacts, .chunks, .uploads,
        .garbage, .events, .providerConfigs, .artifactReferences,
    ]

    init(opening transaction: borrowing Transaction) throws {
        func open(_ name: DatabaseName) throws -> Database {
            guard let database = try transaction.openDatabase(name.rawValue, create: true) else {
                throw StoreError(.internalError, .none, "database \(name) is missing")
            }
            return database
        }
        meta = try open(.meta)
        tenants = try open(.tenants)
        artifacts = try open(.artifacts)
        tenantArtifacts = try open(.tenantArtifacts)
        providerArtifacts = try open(.providerArtifacts)
        blobs = try open(.blobs)
        blobArtifacts = try open(.blobArtifacts)
        chunks = try open(.chunks)
        uploads = try open(.uploads)
        garbage = try open(.garbage)
        events = try open(.events)
        providerConfigs = try open(.providerConfigs)
        artifactReferences = try open(.artifactReferences)
    }
}

extension Transaction {
    /// Decodes the record under `key`, or `nil` when there is none.
    func record<R: LayoutRecord>(_: R.Type, _ key: [UInt8], in database: Database) throws -> R? {
        guard let bytes = try get(key, in: database) else { return nil }
        return try R(decoding: bytes)
    }

    /// Stores `record` under `key`.
    func put(_ record: some LayoutRecord, _ key: [UInt8], in database: Database) throws {
        try put(record.encoded(), for: key, in: database)
    }

    /// Visits the entries whose keys start with `prefix`, from the first key
    /// ≥ `start` (which must itself start with `prefix`), until `body`
    /// returns false.
    func scan(
        _ database: Database,
        prefix: [UInt8],
        from start: [UInt8]? = nil,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try withCursor(on: database) { cursor in
            let origin = start ?? prefix
            // LMDB refuses an empty key; an empty origin means the first entry.
            var entry = origin.isEmpty ? try cursor.first() : try cursor.seek(atOrAfter: origin)
            while let current = entry, current.key.starts(with: prefix) {
                guard try body(current.key, current.value) else { return }
                entry = try cursor.next()
            }
        }
    }
}

/// Migrations read and write through the same transaction the store opens.
extension Transaction: LayoutStorage {
    public func value(for key: [UInt8], in database: DatabaseName) throws -> [UInt8]? {
        guard let handle = try openDatabase(database.rawValue, create: false) else { return nil }
        return try get(key, in: handle).map { Array($0) }
    }

    public func setValue(_ value: [UInt8], for key: [UInt8], in database: DatabaseName) throws {
        guard let handle = try openDatabase(database.rawValue, create: true) else {
            throw StoreError(.internalError, .none, "cannot create database \(database)")
        }
        try put(value, for: key, in: handle)
    }

    public func forEach(
        in database: DatabaseName,
        from start: [UInt8],
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        guard let handle = try openDatabase(database.rawValue, create: false) else { return }
        try scan(handle, prefix: [], from: start) { key, value in try body(Array(key), Array(value)) }
    }

    public func removeDatabase(_ database: DatabaseName) throws {
        guard let handle = try openDatabase(database.rawValue, create: false) else { return }
        try removeDatabase(handle)
    }
}
