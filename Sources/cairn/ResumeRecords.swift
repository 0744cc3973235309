import CairnDigest
import CairnProtocol
import DurableFiles
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where `cairn put` remembers the uploads of files it has begun but not
/// committed, so that running the same command again continues the upload
/// instead of sending every byte again.
///
/// A record is one small JSON file, `<key>.json`, in
/// `$XDG_STATE_HOME/cairn/uploads/` (default
/// `~/.local/state/cairn/uploads/`); the directories are created 0700 and
/// the files 0600, and a record is flushed to disk (file, rename, directory)
/// before the put sends its first byte, so that a power cut does not make
/// the next run start over. The key is a SHA-256 of everything that must match for a
/// resume to be safe: the socket path, tenant, provider, media type, the
/// file's absolute path, its size and its modification time. A file that
/// changed, or a put to another server or tenant, therefore never resumes a
/// stale upload. Records are best-effort: one that cannot be written only
/// costs the ability to resume, and records older than a week are pruned.
struct ResumeRecords {
    /// The directory holding the records.
    let directory: String

    /// What identifies one resumable put.
    struct Key {
        var socket: String
        var tenant: String
        var providerId: String
        var mimeType: String
        var path: String
        var sizeBytes: UInt64
        var modified: Int64

        /// The record's file name stem: the SHA-256 of the fields, NUL-separated.
        var hex: String {
            let text = [
                "cairn-put-v1", socket, tenant, providerId, mimeType, path, String(sizeBytes), String(modified),
            ]
            .joined(separator: "\u{0}")
            return SHA256Hasher.digest(Array(text.utf8)).hex
        }
    }

    /// Records older than this are removed when a put starts; the server will have expired their uploads.
    static let maxAge: TimeInterval = 7 * 24 * 3600

    /// The records' directory under `$XDG_STATE_HOME`, else `$HOME/.local/state`.
    static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base: String
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            base = state
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            base = (home as NSString).appendingPathComponent(".local/state")
        }
        return (base as NSString).appendingPathComponent("cairn/uploads")
    }

    init(directory: String = ResumeRecords.defaultDirectory()) {
        self.directory = directory
    }

    /// The upload id remembered for `key`, if any; an unreadable record is removed and ignored.
    func uploadId(for key: Key) -> String? {
        let path = self.path(for: key)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let json = try? JSONParser.parse(Array(data)), let id = json["uploadId"]?.stringValue else {
            unlink(path)
            return nil
        }
        return id
    }

    /// Remembers `uploadId` for `key`, replacing any earlier record.
    ///
    /// - Returns: whether the record was written; a put goes on without one.
    @discardableResult
    func save(_ uploadId: String, for key: Key) -> Bool {
        guard createDirectory() else { return false }
        let record: JSONValue = .object(
            JSONObject([
                ("uploadId", .string(uploadId)), ("path", .string(key.path)),
                ("sizeBytes", .number(JSONNumber(key.sizeBytes))),
                ("tenant", .string(key.tenant)), ("providerId", .string(key.providerId)),
                ("socket", .string(key.socket)),
            ]))
        var bytes = record.serialized()
        bytes.append(0x0a)
        let final = path(for: key)
        // A name `prune` knows, so that one left by a killed put goes too.
        guard let file = try? NewFile(creating: final + ".\(FileIO.randomHex(bytes: 4)).tmp") else { return false }
        do {
            try file.write(bytes)
            try file.publish(as: final)
        } catch {
            file.discard()
            return false
        }
        return true
    }

    /// Forgets `key`'s upload.
    func remove(_ key: Key) {
        unlink(path(for: key))
    }

    /// Whether a record for `key` exists.
    func contains(_ key: Key) -> Bool {
        access(path(for: key), F_OK) == 0
    }

    /// Removes records not touched for ``maxAge``.
    func prune(now: Date = Date()) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasSuffix(".json") || name.hasSuffix(".tmp") {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let info = FileIO.status(path: path) else { continue }
            let modified = Date(timeIntervalSince1970: Double(FileIO.modificationNanoseconds(info)) / 1e9)
            if now.timeIntervalSince(modified) > Self.maxAge { unlink(path) }
        }
    }

    func path(for key: Key) -> String {
        (directory as NSString).appendingPathComponent(key.hex + ".json")
    }

    /// Creates the directory and any missing parent, each 0700 and each
    /// flushed into its parent.
    private func createDirectory() -> Bool {
        (try? Durable.createDirectory(directory)) != nil
    }
}
