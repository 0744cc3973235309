import CairnDigest
import CairnManifest

/// How an import is sent, decided from the server's plan without I/O.
///
/// Contents larger than ``Limits/inlineBytes`` travel alone as resumable
/// chunked uploads (``large``), each creating the first artifact that
/// needs it. Every other artifact to create goes into a batch
/// (`artifacts.importBatch`): at most ``Limits/entries`` entries and
/// ``Limits/bytes`` bytes of attached contents, each content attached once,
/// in the first batch with an entry that needs it; an entry whose content
/// the server holds, or receives in an earlier batch or as a large upload,
/// is linked without bytes. Artifacts the tenant has already are left out,
/// so a plan made after an interruption sends only what is missing.
public struct ImportBatches: Sendable, Equatable {
    /// The sizes that bound a batch.
    public struct Limits: Sendable, Equatable {
        /// Entries per batch (the server's page size).
        public var entries: Int
        /// Attached bytes per batch.
        public var bytes: UInt64
        /// Contents up to this size are attached to a batch; larger ones are uploaded alone.
        public var inlineBytes: UInt64

        public init(entries: Int, bytes: UInt64, inlineBytes: UInt64) {
            self.entries = entries
            self.bytes = bytes
            self.inlineBytes = min(inlineBytes, bytes)
        }
    }

    /// One request: the artifacts it creates, and the contents it attaches (in order).
    public struct Batch: Sendable, Equatable {
        /// Indexes into the manifest's artifacts.
        public var artifacts: [Int]
        /// Indexes into the manifest's artifacts whose content is attached, one per distinct content.
        public var contents: [Int]
        /// The attached bytes.
        public var bytes: UInt64

        public init(artifacts: [Int], contents: [Int], bytes: UInt64) {
            self.artifacts = artifacts
            self.contents = contents
            self.bytes = bytes
        }
    }

    /// Indexes of the artifacts created by a chunked upload of their content.
    public var large: [Int]
    /// The batches, in the order they are to be sent.
    public var batches: [Batch]

    /// The sending plan for `artifacts` given the server's `statuses` (`present`, `link`,
    /// `needsContent`, in the same order).
    public init(artifacts: [TenantManifest.Artifact], statuses: [String], limits: Limits) {
        var large: [Int] = []
        var batches: [Batch] = []
        var current = Batch(artifacts: [], contents: [], bytes: 0)
        var sent = Set<SHA256Digest>()
        // Large contents first: their artifacts exist before any batch links to them.
        for (index, artifact) in artifacts.enumerated()
        where statuses[index] == "needsContent" && artifact.sizeBytes > limits.inlineBytes {
            if sent.insert(artifact.sha256).inserted { large.append(index) }
        }
        let largeArtifacts = Set(large)
        for (index, artifact) in artifacts.enumerated() {
            let status = statuses[index]
            guard status == "link" || status == "needsContent", !largeArtifacts.contains(index) else { continue }
            let attach = status == "needsContent" && !sent.contains(artifact.sha256)
            let adds = attach ? artifact.sizeBytes : 0
            if current.artifacts.count == limits.entries
                || (attach && !current.contents.isEmpty && current.bytes + adds > limits.bytes)
            {
                batches.append(current)
                current = Batch(artifacts: [], contents: [], bytes: 0)
            }
            current.artifacts.append(index)
            if attach {
                sent.insert(artifact.sha256)
                current.contents.append(index)
                current.bytes += adds
            }
        }
        if !current.artifacts.isEmpty { batches.append(current) }
        self.large = large
        self.batches = batches
    }
}
