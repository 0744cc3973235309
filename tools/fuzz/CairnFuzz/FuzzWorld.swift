import CairnDigest
import CairnProtocol

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the fuzzer knows about the server it talks to: its limits, the
/// tenants and artifacts it staged, uploads it has open, and the provider
/// catalog. Valid params are made from these, so that requests reach the
/// store instead of stopping at `NOT_FOUND`.
///
/// Artifacts and uploads live in rings of fixed size: what a session learns
/// from its answers replaces an entry, and picking one always takes one
/// draw, so the sequence of draws does not depend on what was learned.
public struct FuzzWorld: Sendable {
    /// The limits `system.hello` announced.
    public struct Limits: Sendable, Equatable {
        /// The longest request line.
        public var maxRequestBytes: Int
        /// The most bytes of one append or read.
        public var maxChunkBytes: Int
        /// The largest artifact.
        public var maxArtifactBytes: UInt64

        /// Limits as `system.hello` lists them.
        public init(maxRequestBytes: Int, maxChunkBytes: Int, maxArtifactBytes: UInt64) {
            self.maxRequestBytes = maxRequestBytes
            self.maxChunkBytes = maxChunkBytes
            self.maxArtifactBytes = maxArtifactBytes
        }

        /// The largest attachment any method accepts: beyond it a connection
        /// cannot stay framed and is closed.
        public var attachmentLimit: Int { max(maxRequestBytes, maxChunkBytes) }
    }

    /// An artifact the fuzzer staged or saw staged.
    public struct Artifact: Sendable, Equatable {
        /// The tenant that holds it.
        public var tenant: String
        /// The artifact's id.
        public var id: UUID
        /// The content's digest.
        public var sha256: SHA256Digest
        /// The content's size.
        public var sizeBytes: UInt64
        /// The provider it was staged for.
        public var providerId: String

        /// An artifact as its meta describes it.
        public init(tenant: String, id: UUID, sha256: SHA256Digest, sizeBytes: UInt64, providerId: String) {
            self.tenant = tenant
            self.id = id
            self.sha256 = sha256
            self.sizeBytes = sizeBytes
            self.providerId = providerId
        }
    }

    /// An upload the fuzzer began, and the offset it last saw.
    public struct Upload: Sendable, Equatable {
        /// The upload's id.
        public var id: UUID
        /// Where the next append goes, as last seen.
        public var offset: UInt64

        /// An upload at an offset.
        public init(id: UUID, offset: UInt64) {
            self.id = id
            self.offset = offset
        }
    }

    /// A provider of the catalog and its fields' keys and shapes.
    public struct Provider: Sendable, Equatable {
        /// The provider's id.
        public var id: String
        /// Its fields' keys and shapes, in the catalog's order.
        public var fields: [(key: String, shape: String)]

        /// A provider as `providers.list` lists it.
        public init(id: String, fields: [(key: String, shape: String)]) {
            self.id = id
            self.fields = fields
        }

        /// Same id and the same fields in the same order.
        public static func == (lhs: Provider, rhs: Provider) -> Bool {
            lhs.id == rhs.id && lhs.fields.elementsEqual(rhs.fields, by: { $0 == $1 })
        }
    }

    /// The server's limits.
    public var limits: Limits
    /// Tenants the fuzzer stages into; each has a byte quota set up front.
    public var tenants: [String]
    /// The tenant whose quotas `tenants.setQuota` changes (nothing is staged there).
    public var quotaTenant: String
    /// The catalog; never empty.
    public var providers: [Provider]
    /// A well-formed provider id that no catalog has.
    public var unknownProviderId = "fuzz:no-such-provider"
    private(set) var artifactRing: [Artifact]
    private(set) var uploadRing: [Upload]
    private var nextArtifactSlot = 0
    private var nextUploadSlot = 0

    /// A world from what the set-up created.
    ///
    /// - Parameters:
    ///   - artifacts: at least one; the ring keeps this many entries.
    ///   - uploads: at least one; the ring keeps this many entries.
    public init(
        limits: Limits, tenants: [String], quotaTenant: String, providers: [Provider], artifacts: [Artifact],
        uploads: [Upload]
    ) {
        precondition(!tenants.isEmpty && !providers.isEmpty && !artifacts.isEmpty && !uploads.isEmpty)
        self.limits = limits
        self.tenants = tenants
        self.quotaTenant = quotaTenant
        self.providers = providers
        artifactRing = artifacts
        uploadRing = uploads
    }

    /// The artifacts known now, in ring order.
    public var artifacts: [Artifact] { artifactRing }
    /// The uploads known now, in ring order.
    public var uploads: [Upload] { uploadRing }

    /// One known artifact, taking one draw.
    public func artifact(_ random: inout FuzzRandom) -> Artifact { random.pick(artifactRing) }

    /// One known upload and its ring slot, taking one draw.
    public func upload(_ random: inout FuzzRandom) -> (slot: Int, upload: Upload) {
        let slot = random.below(uploadRing.count)
        return (slot, uploadRing[slot])
    }

    /// Records an artifact seen in an answer, replacing the oldest learned one.
    public mutating func learn(artifact: Artifact) {
        if let index = artifactRing.firstIndex(where: { $0.id == artifact.id && $0.tenant == artifact.tenant }) {
            artifactRing[index] = artifact
            return
        }
        artifactRing[nextArtifactSlot] = artifact
        nextArtifactSlot = (nextArtifactSlot + 1) % artifactRing.count
    }

    /// Records a new upload, replacing the oldest learned one.
    public mutating func learn(upload: Upload) {
        if let index = uploadRing.firstIndex(where: { $0.id == upload.id }) {
            uploadRing[index] = upload
            return
        }
        uploadRing[nextUploadSlot] = upload
        nextUploadSlot = (nextUploadSlot + 1) % uploadRing.count
    }

    /// A world without a server, for the connection state machine: ids are
    /// drawn from `random`, and the catalog has one made-up provider.
    public static func synthetic(limits: Limits, random: inout FuzzRandom) -> FuzzWorld {
        let tenants = ["fuzz-a", "fuzz-b"]
        let provider = Provider(
            id: "fuzz:provider",
            fields: [("scalarKey", "scalar"), ("listKey", "list<string>"), ("refKey", "artifactRef")])
        let artifacts = (0..<6).map { index -> Artifact in
            let content = random.bytes(random.below(64))
            return Artifact(
                tenant: tenants[index % tenants.count], id: random.uuid(),
                sha256: SHA256Hasher.digest(content), sizeBytes: UInt64(content.count), providerId: provider.id)
        }
        let uploads = (0..<4).map { _ in Upload(id: random.uuid(), offset: 0) }
        return FuzzWorld(
            limits: limits, tenants: tenants, quotaTenant: "fuzz-quota", providers: [provider], artifacts: artifacts,
            uploads: uploads)
    }
}

extension FuzzRandom {
    /// A version-4 UUID from two draws.
    public mutating func uuid() -> UUID {
        var bytes = bytes(16)
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
                bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }
}
