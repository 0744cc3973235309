import CairnDigest
import CairnManifest
import CairnProtocol

/// `EXPORT.json`, the index of an export: the tenant's manifest (every
/// artifact with its meta), the content files by digest, and the provider
/// configurations without their secrets. Specified in docs/auditing.md.
///
/// Written by ``TenantExport`` and read by ``TenantImport``; the CLI's
/// `cairn export` and `cairn import`, and any other Swift program, share it.
public struct ExportDocument: Sendable {
    /// The index's name inside an export.
    public static let fileName = "EXPORT.json"

    /// One content file: `blobs/sha256/<hex>`.
    public struct Blob: Sendable, Equatable {
        public var sha256: SHA256Digest
        public var sizeBytes: UInt64
        /// Its path inside the export.
        public var path: String { "blobs/sha256/\(sha256.hex)" }

        public init(sha256: SHA256Digest, sizeBytes: UInt64) {
            self.sha256 = sha256
            self.sizeBytes = sizeBytes
        }
    }

    /// A provider configuration: the non-secret values as `providers.config.get` shows them.
    public struct Configuration: Sendable {
        public var providerId: String
        public var revision: UInt64
        /// Field key to value (a string or an array of strings).
        public var values: JSONObject
        /// Secret fields that were set: an export carries no secret.
        public var secretFields: [String]

        public init(providerId: String, revision: UInt64, values: JSONObject, secretFields: [String]) {
            self.providerId = providerId
            self.revision = revision
            self.values = values
            self.secretFields = secretFields
        }
    }

    /// When the export was made (RFC 3339, UTC).
    public var exportedAt: String
    /// The tenant's manifest at the time of the export.
    public var manifest: TenantManifest
    /// The distinct contents, in the manifest's order.
    public var blobs: [Blob]
    public var configurations: [Configuration]

    /// The distinct contents of `manifest`, in the manifest's order.
    public static func blobs(of manifest: TenantManifest) -> [Blob] {
        var seen = Set<SHA256Digest>()
        return manifest.artifacts.compactMap { artifact in
            seen.insert(artifact.sha256).inserted ? Blob(sha256: artifact.sha256, sizeBytes: artifact.sizeBytes) : nil
        }
    }

    /// The index's JSON.
    public var json: JSONValue {
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

    /// The index of an export of `manifest` and `configurations`, made at `exportedAt`.
    public init(exportedAt: String, manifest: TenantManifest, configurations: [Configuration]) {
        self.exportedAt = exportedAt
        self.manifest = manifest
        self.blobs = Self.blobs(of: manifest)
        self.configurations = configurations
    }

    /// Reads an `EXPORT.json`, checking the manifest's digest and that every
    /// artifact's content is listed.
    ///
    /// - Throws: ``BulkTransferError`` ``BulkTransferError/Code/damagedExport``.
    public init(parsing bytes: [UInt8]) throws(BulkTransferError) {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch {
            throw Self.damaged("EXPORT.json is not JSON: \(error.reason)")
        }
        guard json["format"] == "cairn-export", json["version"] == 1, let manifestJSON = json["manifest"] else {
            throw Self.damaged("EXPORT.json is not a Cairn export of version 1")
        }
        do { manifest = try ManifestCoding.decode(manifestJSON) } catch {
            throw Self.damaged("EXPORT.json: \(error)")
        }
        exportedAt = json["exportedAt"]?.stringValue ?? ""
        var blobs: [Blob] = []
        for entry in json["blobs"]?.arrayValue ?? [] {
            guard let digest = entry["sha256"]?.stringValue.flatMap({ SHA256Digest(parsing: $0) }),
                let size = entry["sizeBytes"]?.uint64, entry["path"]?.stringValue == "blobs/sha256/\(digest.hex)"
            else { throw Self.damaged("EXPORT.json: a malformed blobs entry: \(entry)") }
            blobs.append(Blob(sha256: digest, sizeBytes: size))
        }
        self.blobs = blobs
        guard Set(blobs.map(\.sha256)) == Set(manifest.artifacts.map(\.sha256)) else {
            throw Self.damaged("EXPORT.json: the blobs listed are not the contents of the manifest's artifacts")
        }
        var configurations: [Configuration] = []
        for entry in json["configurations"]?.arrayValue ?? [] {
            guard let providerId = entry["providerId"]?.stringValue, let revision = entry["revision"]?.uint64,
                let values = entry["values"]?.objectValue
            else { throw Self.damaged("EXPORT.json: a malformed configurations entry") }
            configurations.append(
                Configuration(
                    providerId: providerId, revision: revision, values: values,
                    secretFields: entry["secretFields"]?.arrayValue?.compactMap(\.stringValue) ?? []))
        }
        self.configurations = configurations
    }

    private static func damaged(_ message: String) -> BulkTransferError {
        BulkTransferError(.damagedExport, message)
    }
}
