import CairnDigest
import CairnManifest

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The JSON form of manifests: the result of `tenants.manifest`, and the
/// entries of a backup's `MANIFEST.json` and an export's `EXPORT.json`.
///
/// The JSON carries the facts; the digest is always that of the canonical
/// text rebuilt from them (``TenantManifest/canonicalText``), so a reader
/// that decodes a manifest can check the digest it was given.
public enum ManifestCoding {
    /// Why a manifest's JSON could not be read.
    public struct DecodingError: Error, Sendable, CustomStringConvertible {
        /// What is wrong, and where (`manifest.artifacts[3].sha256: not a sha256`).
        public let description: String
    }

    /// A tenant's manifest as a JSON object, its digest included.
    public static func encode(_ manifest: TenantManifest) -> JSONValue {
        let usage = manifest.usage
        let artifacts: [JSONValue] = manifest.artifacts.map { artifact in
            .object(
                JSONObject([
                    ("artifactId", .string(artifact.id)), ("sha256", .string(artifact.sha256.hex)),
                    ("sizeBytes", number(artifact.sizeBytes)), ("providerId", .string(artifact.providerId)),
                    ("mimeType", .string(artifact.mimeType)),
                ]))
        }
        let configurations: [JSONValue] = manifest.configurations.map {
            .object(JSONObject([("providerId", .string($0.providerId)), ("revision", number($0.revision))]))
        }
        return .object(
            JSONObject([
                ("tenant", .string(manifest.tenant.rawValue)),
                ("digest", .string(manifest.digest.hex)),
                (
                    "usage",
                    .object(
                        JSONObject([
                            ("artifactCount", number(usage.artifactCount)),
                            ("logicalBytes", number(usage.logicalBytes)),
                            ("storedBytes", number(usage.storedBytes)),
                            ("maxBytes", usage.maxBytes.map(number) ?? .null),
                            ("maxArtifacts", usage.maxArtifacts.map(number) ?? .null),
                        ]))
                ),
                (
                    "events",
                    .object(
                        JSONObject([
                            ("seq", number(manifest.events.seq)),
                            ("head", manifest.events.sha256.map { .string($0.hex) } ?? .null),
                        ]))
                ),
                ("artifacts", .array(artifacts)),
                ("configurations", .array(configurations)),
            ]))
    }

    /// Reads a tenant's manifest and checks its `digest` against the
    /// canonical text of the facts it lists.
    ///
    /// - Throws: ``DecodingError`` when a member is missing or malformed, or
    ///   the digest is not the facts' digest.
    public static func decode(_ json: JSONValue) throws -> TenantManifest {
        let reader = Reader(json: json, path: "manifest")
        guard let tenant = TenantID(try reader.string("tenant")) else { throw reader.failure("tenant", "not a tenant") }
        let usage = try reader.object("usage")
        let events = try reader.object("events")
        let head = try events.optionalString("head")
        let manifest = TenantManifest(
            tenant: tenant,
            usage: TenantUsage(
                tenant: tenant, artifactCount: try usage.integer("artifactCount"),
                logicalBytes: try usage.integer("logicalBytes"), storedBytes: try usage.integer("storedBytes"),
                maxBytes: try usage.optionalInteger("maxBytes"), maxArtifacts: try usage.optionalInteger("maxArtifacts")
            ),
            events: EventChainHead(
                seq: try events.integer("seq"), sha256: try head.map { try events.digest($0, "head") }),
            artifacts: try reader.array("artifacts").map { entry in
                TenantManifest.Artifact(
                    artifactId: try entry.uuid("artifactId"),
                    sha256: try entry.digest(try entry.string("sha256"), "sha256"),
                    sizeBytes: try entry.integer("sizeBytes"), providerId: try entry.string("providerId"),
                    mimeType: try entry.string("mimeType"))
            },
            configurations: try reader.array("configurations").map { entry in
                TenantManifest.Configuration(
                    providerId: try entry.string("providerId"), revision: try entry.integer("revision"))
            })
        let recorded = try reader.digest(try reader.string("digest"), "digest")
        guard recorded == manifest.digest else {
            throw DecodingError(
                description:
                    "the manifest of tenant \(tenant) records digest \(recorded.hex), but its entries give \(manifest.digest.hex)"
            )
        }
        return manifest
    }

    private static func number(_ value: UInt64) -> JSONValue { .number(JSONNumber(value)) }

    /// Typed access to a JSON object, failing with the member's path.
    struct Reader {
        let json: JSONValue
        let path: String

        func failure(_ key: String, _ what: String) -> DecodingError {
            DecodingError(description: "\(path).\(key): \(what)")
        }

        func value(_ key: String) throws -> JSONValue {
            guard let value = json[key] else { throw failure(key, "missing") }
            return value
        }

        func string(_ key: String) throws -> String {
            guard let text = try value(key).stringValue else { throw failure(key, "not a string") }
            return text
        }

        func optionalString(_ key: String) throws -> String? {
            if json[key] == nil || json[key] == .null { return nil }
            return try string(key)
        }

        func integer(_ key: String) throws -> UInt64 {
            guard case .number(let number) = try value(key), number.isInteger, let value = number.int64, value >= 0
            else { throw failure(key, "not a non-negative integer") }
            return UInt64(value)
        }

        func optionalInteger(_ key: String) throws -> UInt64? {
            if json[key] == nil || json[key] == .null { return nil }
            return try integer(key)
        }

        func object(_ key: String) throws -> Reader {
            guard case .object = try value(key) else { throw failure(key, "not an object") }
            return Reader(json: try value(key), path: "\(path).\(key)")
        }

        func array(_ key: String) throws -> [Reader] {
            guard let elements = try value(key).arrayValue else { throw failure(key, "not an array") }
            return elements.enumerated().map { Reader(json: $0.element, path: "\(path).\(key)[\($0.offset)]") }
        }

        func uuid(_ key: String) throws -> UUID {
            let text = try string(key)
            guard text.utf8.count == 36, let id = UUID(uuidString: text) else { throw failure(key, "not a UUID") }
            return id
        }

        func digest(_ text: String, _ key: String) throws -> SHA256Digest {
            guard let digest = SHA256Digest(parsing: text) else { throw failure(key, "not a sha256") }
            return digest
        }
    }
}
