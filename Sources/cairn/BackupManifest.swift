import CairnDigest
import CairnProtocol
import CairnServer
import CairnStore
import Foundation

/// `MANIFEST.json` of a backup directory: the store's manifest (every
/// tenant's, see ``ManifestCoding``), the store manifest's digest, and the
/// size and SHA-256 of every file of the backup, so that the backup can be
/// checked with `sha256sum` alone. Its form is specified in
/// `docs/backup-restore.md`.
struct BackupManifest {
    static let fileName = "MANIFEST.json"

    /// One file of the backup, by its path relative to the backup directory.
    struct File: Equatable {
        var path: String
        var sizeBytes: UInt64
        var sha256: SHA256Digest
    }

    var createdAt: String
    var layoutVersion: UInt32
    /// `data.mdb` first, then the copied configuration files.
    var files: [File]
    var store: StoreManifest

    var json: JSONValue {
        let files: [JSONValue] = files.map {
            .object(
                JSONObject([
                    ("path", .string($0.path)), ("sizeBytes", .number(JSONNumber($0.sizeBytes))),
                    ("sha256", .string($0.sha256.hex)),
                ]))
        }
        return .object(
            JSONObject([
                ("format", "cairn-backup"), ("version", 1), ("createdAt", .string(createdAt)),
                ("layoutVersion", .number(JSONNumber(UInt64(layoutVersion)))), ("files", .array(files)),
                ("digest", .string(store.digest.hex)),
                ("tenants", .array(store.tenants.map(ManifestCoding.encode))),
            ]))
    }

    init(createdAt: String, layoutVersion: UInt32, files: [File], store: StoreManifest) {
        self.createdAt = createdAt
        self.layoutVersion = layoutVersion
        self.files = files
        self.store = store
    }

    /// Reads `MANIFEST.json` from `directory`, checking every tenant's digest
    /// and the store digest against the entries.
    init(readingFrom directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LocalFailure("cannot read \(path): no such file, or it is not readable")
        }
        try self.init(parsing: Array(data), path: path)
    }

    /// Parses a manifest's bytes, checking every tenant's digest and the store digest against
    /// the entries; `path` names it in errors.
    init(parsing data: [UInt8], path: String) throws {
        let json: JSONValue
        do { json = try JSONParser.parse(data) } catch {
            throw LocalFailure("\(path) is not JSON: \(error.reason)")
        }
        guard json["format"] == "cairn-backup", json["version"] == 1 else {
            throw LocalFailure("\(path) is not a Cairn backup manifest of version 1")
        }
        do {
            let tenants = try (json["tenants"]?.arrayValue ?? []).map(ManifestCoding.decode)
            store = StoreManifest(tenants: tenants)
        } catch {
            throw LocalFailure("\(path): \(error)")
        }
        guard let digest = json["digest"]?.stringValue, digest == store.digest.hex else {
            throw LocalFailure(
                "\(path): the recorded store digest is not the digest of its tenants' manifests (\(store.digest.hex))")
        }
        createdAt = json["createdAt"]?.stringValue ?? ""
        layoutVersion = UInt32(json["layoutVersion"]?.uint64 ?? 0)
        files = try (json["files"]?.arrayValue ?? []).map { entry in
            guard let path = entry["path"]?.stringValue, let size = entry["sizeBytes"]?.uint64,
                let digest = entry["sha256"]?.stringValue.flatMap({ SHA256Digest(parsing: $0) }),
                !path.hasPrefix("/"), !path.split(separator: "/").contains("..")
            else { throw LocalFailure("\(path): a malformed files entry: \(entry)") }
            return File(path: path, sizeBytes: size, sha256: digest)
        }
        guard files.first?.path == ArtifactStore.backupDataFileName else {
            throw LocalFailure("\(path): the first file must be \(ArtifactStore.backupDataFileName)")
        }
    }
}
