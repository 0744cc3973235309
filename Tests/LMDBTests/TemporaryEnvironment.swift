import Dispatch
import Foundation
import LMDB
import Synchronization

/// A fresh directory under the system's temporary directory, removed with
/// everything in it when the value goes.
final class TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-lmdb-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Creates an empty directory `name` inside this one and returns its path.
    func subdirectory(_ name: String) throws -> String {
        let sub = (path as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        return sub
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// An environment in a fresh temporary directory with one database,
/// `entries`, created at open.
final class TemporaryEnvironment: Sendable {
    let directory: TemporaryDirectory
    let environment: Environment
    let database: Database

    init(mapSize: Int = 8 << 20, readOnly: Bool = false) throws {
        directory = try TemporaryDirectory()
        environment = try Environment(
            path: directory.path,
            configuration: .init(mapSize: mapSize, maxDatabases: 8, readOnly: readOnly)
        )
        database = try environment.withWriteTransaction { transaction in
            try transaction.openDatabase("entries", create: true)!
        }
    }

    /// Stores each pair in one write transaction.
    func store(_ pairs: [(key: String, value: String)]) throws {
        try environment.withWriteTransaction { transaction in
            for pair in pairs {
                try transaction.put(bytes(pair.value), for: bytes(pair.key), in: database)
            }
        }
    }

    /// Every entry of `entries`, in key order, read in one read transaction.
    func contents() throws -> [String: String] {
        try environment.withReadTransaction { transaction in try transaction.strings(in: database) }
    }
}

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A key that sorts by `index`: `key-000042`.
func numberedKey(_ index: Int) -> [UInt8] {
    bytes("key-" + String(repeating: "0", count: max(0, 6 - String(index).count)) + String(index))
}

extension Transaction {
    /// The value under `key` as text, copied out of the map.
    func string(_ key: String, in database: Database) throws -> String? {
        try get(bytes(key), in: database).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every entry of `database` as text, walked with a cursor.
    func strings(in database: Database) throws -> [String: String] {
        try withCursor(on: database) { cursor in
            var result: [String: String] = [:]
            var entry = try cursor.first()
            while let current = entry {
                result[String(decoding: current.key, as: UTF8.self)] = String(decoding: current.value, as: UTF8.self)
                entry = try cursor.next()
            }
            return result
        }
    }
}

/// The bytes of disk the file at `path` occupies.
func allocatedBytes(_ path: String) throws -> Int {
    var status = stat()
    guard stat(path, &status) == 0 else { throw LMDBError(code: errno, operation: "stat(\(path))") }
    return Int(status.st_blocks) * 512
}

/// The permission bits of the file at `path`.
func permissions(of path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

/// Runs `body(index)` on `count` new threads and waits for all of them.
///
/// - Returns: descriptions of the errors the bodies threw, or `nil` when they
///   had not all finished within `timeout` seconds (a deadlock, for the
///   tests here).
func runOnThreads(
    _ count: Int,
    timeout: Double = 10,
    _ body: @escaping @Sendable (_ index: Int) throws -> Void
) -> [String]? {
    let group = DispatchGroup()
    let errors = Mutex<[String]>([])
    for index in 0..<count {
        group.enter()
        Thread.detachNewThread {
            do { try body(index) } catch { errors.withLock { $0.append("thread \(index): \(error)") } }
            group.leave()
        }
    }
    guard group.wait(timeout: .now() + timeout) == .success else { return nil }
    return errors.withLock { $0 }
}
