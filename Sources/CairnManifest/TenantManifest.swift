import CairnDigest

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What one tenant holds, in a deterministic form anyone can recompute.
///
/// The manifest lists every artifact (id, sha256, size, provider, media
/// type), the usage and quotas, the audit chain head and the revision of
/// every provider configuration. Its ``digest`` is the SHA-256 of
/// ``canonicalText``, whose form `docs/auditing.md` specifies, so that an
/// auditor can compare a store, its backup and its restore without trusting
/// Cairn: equal digests mean equal content.
public struct TenantManifest: Sendable, Equatable {
    /// One artifact as the manifest records it.
    public struct Artifact: Sendable, Equatable {
        public var artifactId: UUID
        /// The digest of the artifact's content.
        public var sha256: SHA256Digest
        public var sizeBytes: UInt64
        /// The provider the artifact was staged for.
        public var providerId: String
        public var mimeType: String

        /// An artifact's entry, as the manifest lists it.
        public init(artifactId: UUID, sha256: SHA256Digest, sizeBytes: UInt64, providerId: String, mimeType: String) {
            self.artifactId = artifactId
            self.sha256 = sha256
            self.sizeBytes = sizeBytes
            self.providerId = providerId
            self.mimeType = mimeType
        }

        /// The id in lowercase canonical form, which is also the manifest's order.
        public var id: String { String(decoding: CanonicalBytes.uuid(artifactId), as: UTF8.self) }
    }

    /// A provider configuration: which provider, at which revision.
    public struct Configuration: Sendable, Equatable {
        public var providerId: String
        /// The configuration's revision: 1 after its first change, one more with every change.
        public var revision: UInt64

        /// A configuration's entry, as the manifest lists it.
        public init(providerId: String, revision: UInt64) {
            self.providerId = providerId
            self.revision = revision
        }
    }

    /// The tenant the manifest describes.
    public var tenant: TenantID
    /// Its usage and quotas.
    public var usage: TenantUsage
    /// The head of its audit chain.
    public var events: EventChainHead
    /// In artifact id order.
    public var artifacts: [Artifact]
    /// In provider id order.
    public var configurations: [Configuration]

    /// A manifest of these facts; sorts artifacts and configurations into the manifest's order.
    public init(
        tenant: TenantID, usage: TenantUsage, events: EventChainHead, artifacts: [Artifact],
        configurations: [Configuration]
    ) {
        self.tenant = tenant
        self.usage = usage
        self.events = events
        // By the id's bytes, which order exactly as its lowercase canonical
        // form does (hex digits keep byte order, the hyphens stand in the same
        // places), without formatting two strings for every comparison.
        self.artifacts = artifacts.sorted { $0.artifactId.orderKey < $1.artifactId.orderKey }
        self.configurations = configurations.sorted { $0.providerId < $1.providerId }
    }

    /// The canonical form: ASCII lines, each ending in `\n`, fields separated by one space.
    ///
    ///     cairn-manifest 1
    ///     tenant <name>
    ///     usage <artifactCount> <logicalBytes> <storedBytes>
    ///     quota <maxBytes|none> <maxArtifacts|none>
    ///     events <last seq> <chain head hex|none>
    ///     artifact <artifactId> <sha256> <sizeBytes> <providerId> <mimeType>   (one per artifact, by id)
    ///     config <providerId> <revision>                                       (one per provider, by id)
    public var canonicalText: String { String(decoding: canonicalBytes, as: UTF8.self) }

    /// ``canonicalText`` as the bytes that are hashed, built without formatting a string per field.
    public var canonicalBytes: [UInt8] {
        var out = CanonicalBytes()
        out.reserve(160 + artifacts.count * 200 + configurations.count * 64)
        out.append("cairn-manifest 1\ntenant ")
        out.append(tenant.rawValue)
        out.append("\nusage ")
        out.append(usage.artifactCount)
        out.space()
        out.append(usage.logicalBytes)
        out.space()
        out.append(usage.storedBytes)
        out.append("\nquota ")
        out.append(usage.maxBytes)
        out.space()
        out.append(usage.maxArtifacts)
        out.append("\nevents ")
        out.append(events.seq)
        out.space()
        if let head = events.sha256 { out.appendHex(head.bytes) } else { out.append("none") }
        out.newline()
        for artifact in artifacts {
            out.append("artifact ")
            out.bytes += CanonicalBytes.uuid(artifact.artifactId)
            out.space()
            out.appendHex(artifact.sha256.bytes)
            out.space()
            out.append(artifact.sizeBytes)
            out.space()
            out.append(artifact.providerId)
            out.space()
            out.append(artifact.mimeType)
            out.newline()
        }
        for configuration in configurations {
            out.append("config ")
            out.append(configuration.providerId)
            out.space()
            out.append(configuration.revision)
            out.newline()
        }
        return out.bytes
    }

    /// The SHA-256 of ``canonicalText``.
    public var digest: SHA256Digest { SHA256Hasher.digest(canonicalBytes) }
}

/// The canonical text's bytes, appended field by field.
struct CanonicalBytes {
    var bytes: [UInt8] = []

    private static let hexDigits = Array("0123456789abcdef".utf8)

    mutating func reserve(_ count: Int) { bytes.reserveCapacity(count) }
    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
    mutating func space() { bytes.append(0x20) }
    mutating func newline() { bytes.append(0x0a) }

    /// A decimal number, or `none`.
    mutating func append(_ value: UInt64?) {
        guard let value else { return append("none") }
        if value == 0 { return bytes.append(UInt8(ascii: "0")) }
        var digits: [UInt8] = []
        var rest = value
        while rest > 0 {
            digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        }
        bytes.append(contentsOf: digits.reversed())
    }

    mutating func appendHex(_ raw: [UInt8]) {
        for byte in raw {
            bytes.append(Self.hexDigits[Int(byte >> 4)])
            bytes.append(Self.hexDigits[Int(byte & 0x0f)])
        }
    }

    /// The lowercase canonical form of `id`: 8-4-4-4-12 hex digits.
    static func uuid(_ id: UUID) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(36)
        withUnsafeBytes(of: id.uuid) { raw in
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0f)])
            }
        }
        return out
    }
}

/// The manifests of every tenant of a store.
public struct StoreManifest: Sendable, Equatable {
    /// In tenant name order.
    public var tenants: [TenantManifest]

    /// The store's manifest from its tenants' (in any order).
    public init(tenants: [TenantManifest]) {
        self.tenants = tenants.sorted { $0.tenant.rawValue < $1.tenant.rawValue }
    }

    /// The SHA-256 of `cairn-store-manifest 1\n` followed by one line
    /// `tenant <name> <manifest digest>\n` per tenant, in name order.
    public var digest: SHA256Digest {
        var text = "cairn-store-manifest 1\n"
        for manifest in tenants { text += "tenant \(manifest.tenant.rawValue) \(manifest.digest.hex)\n" }
        return SHA256Hasher.digest(Array(text.utf8))
    }
}

extension UUID {
    /// The 16 bytes as two big-endian integers: compared as a tuple, they
    /// order UUIDs as their canonical text does.
    public var orderKey: (UInt64, UInt64) {
        withUnsafeBytes(of: uuid) { bytes in
            (
                UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
    }
}
