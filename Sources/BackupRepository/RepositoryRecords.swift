/// Where one blob's bytes are: a range of a pack's plaintext.
public struct BlobLocation: Codable, Sendable, Hashable {
    /// The pack's id (its object is `data/ID`).
    public var pack: String
    /// The blob's first byte in the pack's plaintext.
    public var offset: Int64
    /// The blob's length.
    public var length: Int64
    /// The pack's whole plaintext length, which says where its last segment is.
    public var packLength: Int64

    /// A location of these parts.
    public init(pack: String, offset: Int64, length: Int64, packLength: Int64) {
        self.pack = pack
        self.offset = offset
        self.length = length
        self.packLength = packLength
    }
}

/// One content of a backup: its SHA-256, size, name in the repository and where it is.
public struct ContentReference: Codable, Sendable, Hashable {
    /// The content's SHA-256, lowercase hex.
    public var sha256: String
    /// Its size in bytes.
    public var sizeBytes: Int64
    /// Its blob name: the SHA-256 in clear repositories, a keyed hash of it in encrypted ones.
    public var blob: String
    /// Where it is.
    public var location: BlobLocation

    /// A reference of these parts.
    public init(sha256: String, sizeBytes: Int64, blob: String, location: BlobLocation) {
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
        self.blob = blob
        self.location = location
    }
}

/// What `index/PACK` records: the blobs of one pack. Written after the pack itself, so an index
/// never names a pack that is not stored.
public struct PackIndex: Codable, Sendable, Hashable {
    /// One blob of the pack.
    public struct Entry: Codable, Sendable, Hashable {
        /// The blob's name.
        public var blob: String
        /// Its first byte in the pack's plaintext.
        public var offset: Int64
        /// Its length.
        public var length: Int64
    }

    /// The format, 1.
    public var format = 1
    /// The pack's id.
    public var pack: String
    /// The pack's plaintext length.
    public var packLength: Int64
    /// Its blobs, in order.
    public var blobs: [Entry]
}

/// A backup's contents, stored as a blob itself: its named parts (the store's metadata file, the
/// manifest, configuration files) and every distinct content it holds.
public struct SnapshotTree: Codable, Sendable, Hashable {
    /// The format, 1.
    public var format = 1
    /// Named parts, such as `metadata` (the store without its content) and `manifest`.
    public var parts: [String: ContentReference]
    /// Every distinct content, by SHA-256.
    public var contents: [ContentReference]
    /// Open uploads: upload id to the SHA-256 of the bytes received so far.
    public var uploads: [String: String]

    /// A tree of these parts.
    public init(parts: [String: ContentReference], contents: [ContentReference], uploads: [String: String]) {
        self.parts = parts
        self.contents = contents
        self.uploads = uploads
    }
}

/// The object `snapshots/ID`: one backup. It is written last, after every object it references;
/// a backup without it does not exist.
public struct SnapshotRecord: Codable, Sendable, Hashable {
    /// The format, 1.
    public var format = 1
    /// The backup's id (``SnapshotID``).
    public var id: String
    /// When it began, `YYYY-MM-DDTHH:MM:SSZ`.
    public var time: String
    /// The host it was taken on.
    public var host: String
    /// `data-dir` or `socket`: how the store was read.
    public var source: String
    /// The tenants it holds.
    public var tenants: [String]
    /// The artifacts, across tenants.
    public var artifacts: Int
    /// The sum of artifact sizes.
    public var logicalBytes: Int64
    /// The distinct contents, and their bytes.
    public var contents: Int
    /// Their bytes.
    public var contentBytes: Int64
    /// The tree.
    public var tree: ContentReference

    /// A record of these parts.
    public init(
        id: String, time: String, host: String, source: String, tenants: [String], artifacts: Int,
        logicalBytes: Int64, contents: Int, contentBytes: Int64, tree: ContentReference
    ) {
        self.id = id
        self.time = time
        self.host = host
        self.source = source
        self.tenants = tenants
        self.artifacts = artifacts
        self.logicalBytes = logicalBytes
        self.contents = contents
        self.contentBytes = contentBytes
        self.tree = tree
    }
}

/// The object `config`: what kind of repository this is. Written once, when the first backup
/// creates the repository, and in clear (it holds no secret).
public struct RepositoryConfig: Codable, Sendable, Hashable {
    /// Always `cairn-backup`.
    public var kind = "cairn-backup"
    /// The format, 1.
    public var format = 1
    /// `aes-256-gcm` or `none`.
    public var encryption: String
    /// The salt of the key derivation, base64 (encrypted repositories).
    public var salt: String?
    /// A known text sealed under the key, base64, so that a wrong key is told apart from damage.
    public var keyCheck: String?
}

/// The object `locks/ID`: a process working on the repository, until `expires`.
public struct LockRecord: Codable, Sendable, Hashable {
    /// `backup` (shared: many may run) or `prune` (exclusive).
    public var kind: String
    /// The host and process.
    public var holder: String
    /// Seconds since 1970 when it was taken or last renewed.
    public var renewed: Int64
    /// Seconds since 1970 after which it no longer counts.
    public var expires: Int64
}
