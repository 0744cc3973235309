import CairnDigest
import CairnProtocol
import CairnServer
import CairnStore
import DurableFiles
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `EXPORT.json`, the index of an export: the tenant's manifest (every
/// artifact with its meta), the content files by digest, and the provider
/// configurations without their secrets. Specified in docs/auditing.md.
struct ExportDocument {
    static let fileName = "EXPORT.json"

    /// One content file: `blobs/sha256/<hex>`.
    struct Blob: Equatable {
        var sha256: SHA256Digest
        var sizeBytes: UInt64
        var path: String { "blobs/sha256/\(sha256.hex)" }
    }

    /// A provider configuration: the non-secret values as `providers.config.get` shows them.
    struct Configuration {
        var providerId: String
        var revision: UInt64
        /// Field key to value (a string or an array of strings).
        var values: JSONObject
        /// Secret fields that were set: an export carries no secret.
        var secretFields: [String]
    }

    var exportedAt: String
    var manifest: TenantManifest
    var blobs: [Blob]
    var configurations: [Configuration]

    /// The distinct contents of `manifest`, in the manifest's order.
    static func blobs(of manifest: TenantManifest) -> [Blob] {
        var seen = Set<SHA256Digest>()
        return manifest.artifacts.compactMap { artifact in
            seen.insert(artifact.sha256).inserted ? Blob(sha256: artifact.sha256, sizeBytes: artifact.sizeBytes) : nil
        }
    }

    var json: JSONValue {
        .object(
            JSONObject([
                ("format", "cairn-export"), ("version", 1), ("exportedAt", .string(exportedAt)),
                ("tenant", .string(manifest.tenant.rawValue)), ("manifest", ManifestCoding.encode(manifest)),
                (
                    "blobs",
                    .array(
                        blobs.map {
                            .object(
                                JSONObject([
                                    ("path", .string($0.path)), ("sha256", .string($0.sha256.hex)),
                                    ("sizeBytes", .number(JSONNumber($0.sizeBytes))),
                                ]))
                        })
                ),
                (
                    "configurations",
                    .array(
                        configurations.map {
                            .object(
                                JSONObject([
                                    ("providerId", .string($0.providerId)),
                                    ("revision", .number(JSONNumber($0.revision))), ("values", .object($0.values)),
                                    ("secretFields", .array($0.secretFields.map(JSONValue.string))),
                                ]))
                        })
                ),
            ]))
    }

    init(exportedAt: String, manifest: TenantManifest, configurations: [Configuration]) {
        self.exportedAt = exportedAt
        self.manifest = manifest
        self.blobs = Self.blobs(of: manifest)
        self.configurations = configurations
    }

    /// Reads an `EXPORT.json`, checking the manifest's digest and that every
    /// artifact's content is listed.
    init(parsing bytes: [UInt8]) throws {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch {
            throw LocalFailure("EXPORT.json is not JSON: \(error.reason)")
        }
        guard json["format"] == "cairn-export", json["version"] == 1, let manifestJSON = json["manifest"] else {
            throw LocalFailure("EXPORT.json is not a Cairn export of version 1")
        }
        do { manifest = try ManifestCoding.decode(manifestJSON) } catch {
            throw LocalFailure("EXPORT.json: \(error)")
        }
        exportedAt = json["exportedAt"]?.stringValue ?? ""
        blobs = try (json["blobs"]?.arrayValue ?? []).map { entry in
            guard let digest = entry["sha256"]?.stringValue.flatMap({ SHA256Digest(parsing: $0) }),
                let size = entry["sizeBytes"]?.uint64, entry["path"]?.stringValue == "blobs/sha256/\(digest.hex)"
            else { throw LocalFailure("EXPORT.json: a malformed blobs entry: \(entry)") }
            return Blob(sha256: digest, sizeBytes: size)
        }
        guard Set(blobs.map(\.sha256)) == Set(manifest.artifacts.map(\.sha256)) else {
            throw LocalFailure("EXPORT.json: the blobs listed are not the contents of the manifest's artifacts")
        }
        configurations = try (json["configurations"]?.arrayValue ?? []).map { entry in
            guard let providerId = entry["providerId"]?.stringValue, let revision = entry["revision"]?.uint64,
                let values = entry["values"]?.objectValue
            else { throw LocalFailure("EXPORT.json: a malformed configurations entry") }
            return Configuration(
                providerId: providerId, revision: revision, values: values,
                secretFields: entry["secretFields"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
    }
}

/// Where an export is written: a directory, or a tar file when the path ends in `.tar`. Either way
/// the files go to a temporary name beside the target first, which becomes the target only when
/// ``publish()`` is called; ``discard()`` removes it. Every file is flushed as it is finished, and
/// the directories holding them before the rename that publishes them (``Durable``).
struct ExportWriter {
    let target: String
    let tar: Bool
    private let staging: String
    private var file: PrivateFiles.Writer?
    private var remaining: UInt64 = 0
    private var current: (path: String, size: UInt64)?
    private let modified = Date()

    init(target: String) throws {
        self.target = target
        tar = target.hasSuffix(".tar")
        let directory = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        staging = ((directory.isEmpty ? "." : directory) as NSString)
            .appendingPathComponent(".\(name).cairn-\(FileIO.randomHex(bytes: 6)).part")
        if tar {
            guard FileIO.status(path: target) == nil else { throw LocalFailure("\(target) already exists") }
            file = try PrivateFiles.Writer(creating: staging)
        } else {
            if let info = FileIO.status(path: target) {
                guard FileIO.isDirectory(info),
                    (try? FileManager.default.contentsOfDirectory(atPath: target))?.isEmpty == true
                else { throw LocalFailure("\(target) exists and is not an empty directory") }
            }
            try PrivateFiles.createEmptyDirectory(staging)
            try PrivateFiles.createDirectory((staging as NSString).appendingPathComponent("blobs/sha256"))
        }
    }

    /// Starts the file `path` of `size` bytes; write exactly that many, then call ``endFile()``.
    mutating func beginFile(_ path: String, sizeBytes: UInt64) throws {
        if tar {
            do {
                try file!.write(try TarArchive.header(name: path, sizeBytes: sizeBytes, modified: modified))
            } catch let failure as TarArchive.Failure {
                throw LocalFailure(failure.description)
            }
        } else {
            file = try PrivateFiles.Writer(creating: (staging as NSString).appendingPathComponent(path))
        }
        current = (path, sizeBytes)
        remaining = sizeBytes
    }

    mutating func write(_ bytes: [UInt8]) throws {
        guard UInt64(bytes.count) <= remaining else {
            throw LocalFailure("\(current?.path ?? "a file") got more bytes than announced")
        }
        remaining -= UInt64(bytes.count)
        try file!.write(bytes)
    }

    mutating func endFile() throws {
        guard let current, remaining == 0 else { throw LocalFailure("\(current?.path ?? "a file") is incomplete") }
        if tar {
            try file!.write(TarArchive.padding(after: current.size))
        } else {
            try file!.finish()
            file!.close()
            file = nil
        }
        self.current = nil
    }

    /// Writes a whole small file.
    mutating func add(_ path: String, _ bytes: [UInt8]) throws {
        try beginFile(path, sizeBytes: UInt64(bytes.count))
        try write(bytes)
        try endFile()
    }

    /// Makes the export the target: flushed, renamed, the directory flushed.
    mutating func publish() throws {
        do {
            if tar {
                try file!.write(TarArchive.trailer)
                try file!.publish(as: target, naming: "the export")
                file = nil
            } else {
                for directory in ["blobs/sha256", "blobs"] {
                    try PrivateFiles.syncDirectory((staging as NSString).appendingPathComponent(directory))
                }
                if FileIO.status(path: target) != nil { rmdir(target) }
                try Durable.publishDirectory(staging, as: target)
            }
        } catch let error as DurableFileError where error.code == .rename {
            throw LocalFailure.system("cannot rename the export to", target, errno: error.errorNumber)
        } catch let error as DurableFileError {
            throw LocalFailure(error.message)
        }
    }

    /// Removes what was written; the target is left as it was.
    mutating func discard() {
        file?.close()
        file = nil
        try? FileManager.default.removeItem(atPath: staging)
    }
}

/// An export being read: a directory or a tar file (see ``ExportWriter``).
final class ExportReader {
    let path: String
    private let tarFD: Int32?
    private let entries: [String: TarArchive.Entry]

    init(path: String) throws {
        self.path = path
        guard let info = FileIO.status(path: path) else { throw LocalFailure.system("cannot read", path) }
        if FileIO.isDirectory(info) {
            tarFD = nil
            entries = [:]
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw LocalFailure.system("cannot open", path) }
            tarFD = fd
            do { entries = try TarArchive.entries(of: fd, path: path) } catch {
                close(fd)
                throw LocalFailure("\(error)")
            }
        }
    }

    deinit { if let tarFD { close(tarFD) } }

    /// The size of the file `name` of the export, or `nil` when it has none.
    func size(of name: String) -> UInt64? {
        if tarFD != nil { return entries[name]?.sizeBytes }
        guard let info = FileIO.status(path: (path as NSString).appendingPathComponent(name)), FileIO.isRegular(info)
        else { return nil }
        return UInt64(info.st_size)
    }

    /// Calls `body` with the bytes of the file `name`, in pieces of at most `piece` bytes.
    func forEachPiece(of name: String, piece: Int, _ body: ([UInt8]) async throws -> Void) async throws {
        guard let size = size(of: name) else { throw LocalFailure("\(path) has no \(name)") }
        let fd: Int32
        let start: UInt64
        if let tarFD {
            fd = tarFD
            start = entries[name]!.offset
        } else {
            fd = open((path as NSString).appendingPathComponent(name), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw LocalFailure.system("cannot open", name) }
            start = 0
        }
        defer { if tarFD == nil { close(fd) } }
        var done: UInt64 = 0
        repeat {
            let count = Int(min(UInt64(piece), size - done))
            let bytes: [UInt8]
            do { bytes = try FileIO.read(fd, upTo: count, at: start + done) } catch {
                throw LocalFailure("cannot read \(name) of \(path): \(error)")
            }
            guard bytes.count == count else { throw LocalFailure("\(name) of \(path) is truncated") }
            try await body(bytes)
            done += UInt64(count)
        } while done < size
    }

    /// The whole file `name` (for the small index).
    func contents(of name: String) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        try await forEachPiece(of: name, piece: 4 << 20) { bytes += $0 }
        return bytes
    }
}
