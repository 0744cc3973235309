import CairnDigest
import CairnManifest
import CairnProtocol

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A request the grammar made valid: a method of ``Methods`` with params
/// its typed params type encodes, and for the methods that take bytes the
/// content to send (as base64 `data` or as an attachment; the generator
/// decides).
public struct ValidRequest: Sendable {
    /// The wire name.
    public var method: String
    /// The params, as the method's params type encodes them.
    public var params: JSONObject
    /// The bytes of `artifacts.upload`, `artifacts.importBatch` and `uploads.append`; `nil` for the others.
    public var content: [UInt8]?
}

/// The grammar of every method: for each one, how to make valid params
/// from what the fuzzer knows (``FuzzWorld``).
///
/// Each entry is built from the method's definition in ``Methods`` and its
/// typed params (`MethodParams`), so wire names and param names come from
/// the method table; ``methods`` must cover ``Methods/names`` exactly.
public struct MethodGrammar: Sendable {
    /// The wire name.
    public let name: String
    /// Whether the method takes an attachment.
    public let takesAttachment: Bool
    /// Whether the server may answer it with raw bytes after the line.
    public let mayAnswerWithAttachment: Bool
    private let make: @Sendable (inout FuzzRandom, FuzzWorld) -> ValidRequest

    init<P: MethodParams, R: MethodResult>(
        _ method: RPCMethod<P, R>, answersWithAttachment: Bool = false,
        _ make: @escaping @Sendable (inout FuzzRandom, FuzzWorld) -> (P, [UInt8]?)
    ) {
        name = method.name
        takesAttachment = method.takesAttachment
        mayAnswerWithAttachment = answersWithAttachment
        let name = method.name
        self.make = { random, world in
            let (params, content) = make(&random, world)
            return ValidRequest(method: name, params: params.encoded, content: content)
        }
    }

    /// Valid params for this method.
    public func valid(_ random: inout FuzzRandom, _ world: FuzzWorld) -> ValidRequest { make(&random, world) }
}

/// Every method's grammar.
public enum RequestGrammar {
    /// Mime types that pass the store's check.
    static let mimeTypes = ["text/plain", "application/octet-stream", "application/x-pem-file", "application/json"]

    /// One entry per method of ``Methods``, in the table's order.
    public static let methods: [MethodGrammar] = [
        MethodGrammar(Methods.systemHello) { _, _ in (NoParams(), nil) },
        MethodGrammar(Methods.systemHealth) { _, _ in (NoParams(), nil) },
        MethodGrammar(Methods.systemMetrics) { _, _ in (NoParams(), nil) },
        MethodGrammar(Methods.artifactsUpload) { random, world in
            let content = random.bytes(random.size(small: 512, large: 16 << 10))
            let digest = SHA256Hasher.digest(content)
            let params = UploadArtifactParams(
                tenant: random.pick(world.tenants), providerId: random.pick(world.providers).id,
                mimeType: random.pick(mimeTypes),
                sha256: random.percent(30) ? (random.percent(80) ? digest : SHA256Hasher.digest(random.bytes(4))) : nil,
                artifactId: random.percent(20) ? (random.percent(50) ? random.uuid() : world.artifact(&random).id) : nil
            )
            return (params, content)
        },
        MethodGrammar(Methods.artifactsList) { random, world in
            let params = ListArtifactsParams(
                tenant: random.pick(world.tenants),
                providerId: random.percent(30) ? random.pick(world.providers).id : nil,
                limit: random.percent(50) ? random.within(1...5) : random.within(1...1000))
            return (params, nil)
        },
        MethodGrammar(Methods.artifactsMeta) { random, world in
            (ArtifactParams(tenant: random.pick(world.tenants), artifactId: someArtifactId(&random, world)), nil)
        },
        MethodGrammar(Methods.artifactsRead, answersWithAttachment: true) { random, world in
            let artifact = world.artifact(&random)
            let tenant = random.percent(90) ? artifact.tenant : random.pick(world.tenants)
            let size = Int(min(artifact.sizeBytes, UInt64(Int.max / 2)))
            let params = ReadParams(
                tenant: tenant, artifactId: random.percent(90) ? artifact.id : random.uuid(),
                offset: UInt64(random.below(size + 16)),
                length: random.percent(50) ? UInt64(random.below(min(size + 8, world.limits.maxChunkBytes) + 1)) : nil,
                binary: random.percent(60))
            return (params, nil)
        },
        MethodGrammar(Methods.artifactsDelete) { random, world in
            let artifact = world.artifact(&random)
            return (ArtifactParams(tenant: artifact.tenant, artifactId: artifact.id), nil)
        },
        MethodGrammar(Methods.artifactsImport) { random, world in
            let count = random.below(5)
            var entries: [ImportParams.Entry] = []
            for _ in 0..<count {
                let known = world.artifact(&random)
                let fresh = random.percent(40)
                entries.append(
                    ImportParams.Entry(
                        artifactId: fresh ? random.uuid() : known.id, sha256: known.sha256,
                        sizeBytes: random.percent(90) ? known.sizeBytes : UInt64(random.below(1000)),
                        providerId: known.providerId, mimeType: random.pick(mimeTypes)))
            }
            return (
                ImportParams(tenant: random.pick(world.tenants), artifacts: entries, dryRun: random.percent(70)), nil
            )
        },
        MethodGrammar(Methods.artifactsImportBatch) { random, world in
            // Fresh contents with entries that bring them, and entries for what the world knows.
            var entries: [ImportParams.Entry] = []
            var contents: [ImportBatchParams.Content] = []
            var bytes: [UInt8] = []
            for _ in 0..<random.below(4) {
                let content = random.bytes(random.size(small: 256, large: 4 << 10))
                let digest = SHA256Hasher.digest(content)
                let honest = random.percent(90)
                contents.append(
                    ImportBatchParams.Content(
                        sha256: honest ? digest : SHA256Hasher.digest(random.bytes(4)),
                        sizeBytes: UInt64(content.count)))
                bytes += content
                entries.append(
                    ImportParams.Entry(
                        artifactId: random.uuid(), sha256: digest, sizeBytes: UInt64(content.count),
                        providerId: random.pick(world.providers).id, mimeType: random.pick(mimeTypes)))
            }
            for _ in 0..<random.below(3) {
                let known = world.artifact(&random)
                entries.append(
                    ImportParams.Entry(
                        artifactId: random.percent(50) ? random.uuid() : known.id, sha256: known.sha256,
                        sizeBytes: known.sizeBytes, providerId: known.providerId, mimeType: random.pick(mimeTypes)))
            }
            return (
                ImportBatchParams(tenant: random.pick(world.tenants), artifacts: entries, contents: contents), bytes
            )
        },
        MethodGrammar(Methods.uploadsBegin) { random, world in
            let params = BeginUploadParams(
                tenant: random.pick(world.tenants), providerId: random.pick(world.providers).id,
                mimeType: random.pick(mimeTypes),
                sizeBytes: random.percent(40) ? UInt64(random.below(64 << 10)) : nil,
                sha256: random.percent(20) ? SHA256Hasher.digest(random.bytes(8)) : nil)
            return (params, nil)
        },
        MethodGrammar(Methods.uploadsAppend) { random, world in
            let (_, upload) = world.upload(&random)
            let offset = random.percent(85) ? upload.offset : UInt64(random.below(Int(upload.offset % 4096) + 64))
            let content = random.bytes(random.size(small: 256, large: 8 << 10))
            return (AppendParams(uploadId: upload.id, offset: offset), content)
        },
        MethodGrammar(Methods.uploadsStatus) { random, world in
            (UploadParams(uploadId: someUploadId(&random, world)), nil)
        },
        MethodGrammar(Methods.uploadsCommit) { random, world in
            let params = CommitUploadParams(
                uploadId: someUploadId(&random, world),
                sha256: random.percent(20) ? SHA256Hasher.digest(random.bytes(8)) : nil,
                xxh128: random.percent(20) ? XXH3Hash128.hash(random.bytes(8)) : nil,
                artifactId: random.percent(20) ? random.uuid() : nil)
            return (params, nil)
        },
        MethodGrammar(Methods.uploadsAbort) { random, world in
            (UploadParams(uploadId: someUploadId(&random, world)), nil)
        },
        MethodGrammar(Methods.blobsStat) { random, world in
            let artifact = world.artifact(&random)
            let digest = random.percent(80) ? artifact.sha256 : SHA256Hasher.digest(random.bytes(8))
            return (
                BlobParams(tenant: random.percent(90) ? artifact.tenant : random.pick(world.tenants), sha256: digest),
                nil
            )
        },
        MethodGrammar(Methods.blobsVerify) { random, world in
            let artifact = world.artifact(&random)
            let params = VerifyBlobsParams(
                tenant: artifact.tenant, maxBytes: random.percent(50) ? UInt64(random.below(1 << 20)) : nil,
                sha256: random.percent(40) ? artifact.sha256 : nil)
            return (params, nil)
        },
        MethodGrammar(Methods.tenantsList) { _, _ in (NoParams(), nil) },
        MethodGrammar(Methods.tenantsUsage) { random, world in
            (TenantParams(tenant: random.pick(world.tenants + [world.quotaTenant])), nil)
        },
        MethodGrammar(Methods.tenantsSetQuota) { random, world in
            func quota(_ random: inout FuzzRandom) -> Nullable<UInt64> {
                switch random.below(4) {
                case 0: .absent
                case 1: .null
                default: .value(UInt64(random.below(1 << 30)))
                }
            }
            return (
                SetQuotaParams(tenant: world.quotaTenant, maxBytes: quota(&random), maxArtifacts: quota(&random)), nil
            )
        },
        MethodGrammar(Methods.tenantsManifest) { random, world in
            (TenantParams(tenant: random.pick(world.tenants)), nil)
        },
        MethodGrammar(Methods.eventsList) { random, world in
            (ListEventsParams(tenant: random.pick(world.tenants), limit: random.within(1...1000)), nil)
        },
        MethodGrammar(Methods.eventsVerify) { random, world in
            let anchor =
                random.percent(40)
                ? VerifyEventsParams.Anchor(
                    seq: UInt64(random.below(20)),
                    sha256: random.percent(50) ? SHA256Hasher.digest(random.bytes(8)) : nil)
                : nil
            return (VerifyEventsParams(tenant: random.pick(world.tenants), anchor: anchor), nil)
        },
        MethodGrammar(Methods.providersList) { _, _ in (NoParams(), nil) },
        MethodGrammar(Methods.providersConfigGet) { random, world in
            (ProviderParams(tenant: random.pick(world.tenants), providerId: random.pick(world.providers).id), nil)
        },
        MethodGrammar(Methods.providersConfigSet) { random, world in
            let provider = random.pick(world.providers)
            var values: [(key: String, value: JSONValue)] = []
            var clear: [String] = []
            for field in provider.fields {
                switch random.below(6) {
                case 0: values.append((field.key, fieldValue(shape: field.shape, &random, world)))
                case 1: clear.append(field.key)
                default: break
                }
            }
            let params = ConfigureProviderParams(
                tenant: random.pick(world.tenants), providerId: provider.id, values: values, clear: clear,
                expectedRevision: random.percent(20) ? UInt64(random.below(8)) : nil)
            return (params, nil)
        },
        MethodGrammar(Methods.providersReadiness) { random, world in
            (ProviderParams(tenant: random.pick(world.tenants), providerId: random.pick(world.providers).id), nil)
        },
        MethodGrammar(Methods.backupBegin) { random, _ in
            (BackupBeginParams(content: random.percent(50) ? .separate : .included), nil)
        },
        MethodGrammar(Methods.backupRead, answersWithAttachment: true) { random, world in
            let params = BackupReadParams(
                snapshotId: random.uuid(), path: random.pick(["data.mdb", "config/access.json", "../data.mdb"]),
                offset: UInt64(random.below(1 << 20)),
                length: random.percent(50) ? UInt64(random.below(world.limits.maxChunkBytes + 8)) : nil)
            return (params, nil)
        },
        MethodGrammar(Methods.backupReadContent, answersWithAttachment: true) { random, world in
            let artifact = world.artifact(&random)
            let content: BackupContentParams.Content =
                random.percent(80) ? .blob(tenant: artifact.tenant, sha256: artifact.sha256) : .upload(random.uuid())
            let params = BackupContentParams(
                snapshotId: random.uuid(), content: content, offset: UInt64(random.below(1 << 20)),
                length: random.percent(50) ? UInt64(random.below(world.limits.maxChunkBytes + 8)) : nil)
            return (params, nil)
        },
        MethodGrammar(Methods.backupEnd) { random, _ in (BackupSnapshotParams(snapshotId: random.uuid()), nil) },
    ]

    /// The grammar of `name`, when it is a method of the table.
    public static func grammar(named name: String) -> MethodGrammar? {
        methods.first { $0.name == name }
    }

    /// A known artifact's id nine times in ten, else a fresh one.
    static func someArtifactId(_ random: inout FuzzRandom, _ world: FuzzWorld) -> UUID {
        let known = world.artifact(&random).id
        let fresh = random.uuid()
        return random.percent(90) ? known : fresh
    }

    /// A known upload's id nine times in ten, else a fresh one.
    static func someUploadId(_ random: inout FuzzRandom, _ world: FuzzWorld) -> UUID {
        let known = world.upload(&random).upload.id
        let fresh = random.uuid()
        return random.percent(90) ? known : fresh
    }

    /// A value of the right shape for a provider field (references name known artifacts).
    static func fieldValue(shape: String, _ random: inout FuzzRandom, _ world: FuzzWorld) -> JSONValue {
        let reference = JSONValue.string(world.artifact(&random).id.uuidString.lowercased())
        let text = JSONValue.string("value-\(random.below(1000))")
        switch shape {
        case "list<string>": return .array([text, .string("registry.example/app:\(random.below(9))")])
        case "artifactRef": return reference
        case "list<artifactRef>": return .array([reference])
        default: return text
        }
    }
}
