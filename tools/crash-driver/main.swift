// cairn-crash-driver: drives an artifact store for fault and load tests.
//
// `churn` writes forever and reports every completed operation on stdout,
// so that a test can kill it at any point and check the store against what
// it was told. `stream` uploads one large artifact generated on the fly and
// reports how much anonymous memory the process needed meanwhile.
//
// Both print plain lines on stdout and flush after each, and write nothing
// else there; the store's own logs go to stderr.

import ArgumentParser
import CairnDigest
import CairnStore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

struct CrashDriver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn-crash-driver",
        abstract: "Fault and load driver for the Cairn artifact store.",
        subcommands: [Churn.self, StreamUpload.self]
    )
}

// MARK: - churn

/// Writes a deterministic pseudo-random mix to the store until killed.
///
/// Lines on stdout, each printed once its operation has returned:
///
/// - `ready` after the store opened (and finished start-up reclamation);
/// - `committed <tenant> <artifactId> <sha256> <size> <how>` for a new
///   artifact (`how` is `stage`, `upload`, `stage-dedup`, `upload-dedup`);
/// - `deleting <tenant> <artifactId>` before a delete is issued, then
///   `deleted <tenant> <artifactId>` once it returned: a kill between the
///   two leaves it open whether the artifact is gone;
/// - `quota <tenant> <maxBytes|-> <maxArtifacts|->`, `refused <tenant> <what>`,
///   `aborted <tenant> <uploadId>`, `abandoned <tenant> <uploadId> <offset>`
///   for information.
///
/// With `--workers N`, N churners write at once, each deleting only what it
/// (or, for the first, an earlier run) created, so that durable writes wait
/// for the store's writer together and are committed in groups.
///
/// It never exits by itself; an unexpected store error ends it with status 1.
struct Churn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a pseudo-random mix to the store until killed.")

    @Option(help: "The store directory.")
    var dir: String

    @Option(help: "Seed of the operation mix.")
    var seed: UInt64

    @Option(help: "Churners writing at once.")
    var workers = 1

    func validate() throws {
        guard workers > 0 else { throw ValidationError("--workers must be positive") }
    }

    func run() async throws {
        let store = try ArtifactStore.open(directory: dir)
        var first = Churner(store: store, seed: seed)
        try first.adoptExisting()
        emit("ready")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                let start = worker == 0 ? first : Churner(store: store, seed: seed &+ UInt64(worker) &* 0x9E37_79B9)
                group.addTask {
                    var churner = start
                    while true { try await churner.step() }
                }
            }
            try await group.next()
        }
    }
}

/// The state of one `churn` run: its random source and the artifacts it
/// may delete.
struct Churner {
    static let tenants = [TenantID("crash-a")!, TenantID("crash-b")!]
    static let actor = Actor("crash-driver")
    /// Above this many artifacts in a tenant, deletes become more likely.
    static let comfortableCount = 40
    /// Content seeds shared by every run and tenant, so that dedup happens
    /// within a tenant and identical content exists across tenants.
    static let sharedContent: [(seed: UInt64, size: Int)] = [
        (1, 0), (2, 1), (3, 4096), (4, 65_537), (5, (1 << 20) + 3), (6, 2 * (1 << 20)),
        (7, 3 * (1 << 20) - 1),
    ]

    let store: ArtifactStore
    var random: SplitMix64
    /// Artifacts known to exist, per tenant, in no particular order.
    var known: [TenantID: [UUID]] = [:]

    init(store: ArtifactStore, seed: UInt64) {
        self.store = store
        self.random = SplitMix64(seed: seed)
    }

    /// Picks up the artifacts earlier runs left, so this run deletes them too.
    mutating func adoptExisting() throws {
        for tenant in Self.tenants {
            var cursor: String?
            repeat {
                let page = try store.list(tenant: tenant, limit: ArtifactStore.maxPageSize, cursor: cursor)
                known[tenant, default: []].append(contentsOf: page.artifacts.map(\.artifactId))
                cursor = page.nextCursor
            } while cursor != nil
        }
    }

    /// Runs one operation and reports it.
    mutating func step() async throws {
        let tenant = Self.tenants[Int.random(in: 0..<Self.tenants.count, using: &random)]
        let count = known[tenant, default: []].count
        let deleteWeight = count == 0 ? 0 : (count > Self.comfortableCount ? 60 : 18)
        let choice = Int.random(in: 0..<(100 + deleteWeight), using: &random)
        do {
            switch choice {
            case 0..<25: try await stageUnique(tenant, size: Int.random(in: 0...4096, using: &random))
            case 25..<38:
                try await stageUnique(tenant, size: Int.random(in: 4097...(256 << 10), using: &random))
            case 38..<54: try await stageShared(tenant)
            case 54..<86: try await upload(tenant)
            case 86..<92: try await setQuota(tenant)
            case 92..<98: try await abortUpload(tenant)
            case 98..<100: try await abandonUpload(tenant)
            default: try await deleteOne(tenant)
            }
        } catch let error as StoreError where error.code == .quotaExceeded {
            emit("refused \(tenant) quota")
        }
    }

    private mutating func stageUnique(_ tenant: TenantID, size: Int) async throws {
        let content = ContentGenerator.content(seed: random.next(), count: size)
        try await stage(tenant, content: content, how: "stage")
    }

    private mutating func stageShared(_ tenant: TenantID) async throws {
        let shared = Self.sharedContent[Int.random(in: 0..<Self.sharedContent.count, using: &random)]
        let content = ContentGenerator.content(seed: shared.seed, count: shared.size)
        try await stage(tenant, content: content, how: "stage")
    }

    private mutating func stage(_ tenant: TenantID, content: [UInt8], how: String) async throws {
        let committed = try await store.stage(
            tenant: tenant, providerId: ProviderID("crash:stage")!, mimeType: "application/octet-stream",
            content: content, actor: Self.actor)
        record(committed, how: how)
    }

    /// An upload of 1-3.5 MiB (sometimes shared content) in several appends
    /// whose boundaries fall anywhere within chunks.
    private mutating func upload(_ tenant: TenantID) async throws {
        let seed: UInt64
        let size: Int
        if Int.random(in: 0..<10, using: &random) < 3 {
            (seed, size) =
                Self.sharedContent[Int.random(in: 0..<Self.sharedContent.count, using: &random)]
        } else {
            (seed, size) = (random.next(), Int.random(in: (1 << 20)...(7 << 19), using: &random))
        }
        let declare = Bool.random(using: &random)
        let begun = try await store.beginUpload(
            tenant: tenant, providerId: ProviderID("crash:upload")!, mimeType: "application/x-tar",
            declaredSize: declare ? UInt64(size) : nil, actor: Self.actor)
        var generator = ContentGenerator(seed: seed)
        var hasher = SHA256Hasher()
        let pieces = Int.random(in: 2...6, using: &random)
        var offset: UInt64 = 0
        for piece in 0..<pieces {
            let remaining = size - Int(offset)
            let average = remaining / (pieces - piece)
            let length =
                piece == pieces - 1
                ? remaining : min(remaining, Int.random(in: 0...2 * average, using: &random))
            let bytes = generator.bytes(length)
            hasher.update(bytes)
            offset = try await store.append(
                uploadId: begun.uploadId, offset: offset, bytes: bytes, actor: Self.actor)
        }
        let expected = hasher.finalize()
        let committed = try await store.commitUpload(
            uploadId: begun.uploadId, expectedSHA256: Bool.random(using: &random) ? expected : nil,
            actor: Self.actor)
        guard committed.meta.sha256 == expected, committed.meta.sizeBytes == UInt64(size) else {
            fail(
                "upload \(begun.uploadId) committed as \(committed.meta.sha256)/\(committed.meta.sizeBytes), sent \(expected)/\(size)"
            )
        }
        record(committed, how: "upload")
    }

    private mutating func deleteOne(_ tenant: TenantID) async throws {
        guard var ids = known[tenant], !ids.isEmpty else { return }
        let id = ids.remove(at: Int.random(in: 0..<ids.count, using: &random))
        known[tenant] = ids
        emit("deleting \(tenant) \(id.uuidString.lowercased())")
        _ = try await store.delete(tenant: tenant, artifactId: id, actor: Self.actor)
        emit("deleted \(tenant) \(id.uuidString.lowercased())")
    }

    /// Sets or removes each quota; a set quota leaves 0-32 MiB and 0-20
    /// artifacts of room, so some writes are refused.
    private mutating func setQuota(_ tenant: TenantID) async throws {
        let usage = try store.usage(tenant: tenant)
        let maxBytes: QuotaChange =
            Int.random(in: 0..<10, using: &random) < 6
            ? .remove : .set(usage.storedBytes + UInt64.random(in: 0...(32 << 20), using: &random))
        let maxArtifacts: QuotaChange =
            Int.random(in: 0..<10, using: &random) < 6
            ? .remove : .set(usage.artifactCount + UInt64.random(in: 0...20, using: &random))
        let after = try await store.setQuota(
            tenant: tenant, maxBytes: maxBytes, maxArtifacts: maxArtifacts, actor: Self.actor)
        emit(
            "quota \(tenant) \(after.maxBytes.map(String.init) ?? "-") \(after.maxArtifacts.map(String.init) ?? "-")"
        )
    }

    /// Begins an upload, appends part of a multi-chunk content, aborts it.
    private mutating func abortUpload(_ tenant: TenantID) async throws {
        let uploadId = try await partialUpload(tenant)
        try await store.abortUpload(uploadId: uploadId, actor: Self.actor)
        emit("aborted \(tenant) \(uploadId.uuidString.lowercased())")
    }

    /// Begins an upload, appends part of it and leaves it open for good.
    private mutating func abandonUpload(_ tenant: TenantID) async throws {
        let uploadId = try await partialUpload(tenant)
        let status = try store.uploadStatus(uploadId: uploadId, actor: Self.actor)
        emit("abandoned \(tenant) \(uploadId.uuidString.lowercased()) \(status.offset)")
    }

    private mutating func partialUpload(_ tenant: TenantID) async throws -> UUID {
        let begun = try await store.beginUpload(
            tenant: tenant, providerId: ProviderID("crash:upload")!, mimeType: "application/x-tar",
            actor: Self.actor)
        let bytes = ContentGenerator.content(
            seed: random.next(), count: Int.random(in: 1...(3 << 20), using: &random))
        _ = try await store.append(uploadId: begun.uploadId, offset: 0, bytes: bytes, actor: Self.actor)
        return begun.uploadId
    }

    private mutating func record(_ committed: CommittedArtifact, how: String) {
        let meta = committed.meta
        known[meta.tenant, default: []].append(meta.artifactId)
        let kind = committed.deduplicated ? "\(how)-dedup" : how
        emit(
            "committed \(meta.tenant) \(meta.artifactId.uuidString.lowercased()) \(meta.sha256.hex) \(meta.sizeBytes) \(kind)"
        )
    }
}

// MARK: - stream

/// Uploads `--bytes` of generated content in `--piece`-sized appends, with
/// `--in-flight` of them accepted and not yet stored at a time (as a
/// streaming client keeps them), while sampling the process's anonymous
/// memory, then prints one JSON line:
/// `{"artifactId", "tenant", "baselineAnonKiB", "peakAnonKiB", "sha256", "bytes", "seconds"}`.
///
/// `sha256` is computed here from the generated bytes; the driver fails when
/// the store's digest of the committed artifact differs.
struct StreamUpload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream", abstract: "Upload one large artifact and report peak anonymous memory.")

    @Option(help: "The store directory.")
    var dir: String

    @Option(help: "The size of the artifact in bytes.")
    var bytes: UInt64

    @Option(help: "The size of each append in bytes.")
    var piece: Int

    // One at a time by default: the test suite runs this beside tests that
    // time durable commits, and four in flight make its flushes heavier.
    @Option(help: "Appends accepted and not yet stored at a time.")
    var inFlight = 1

    @Option(help: "Seed of the content.")
    var seed: UInt64 = 42

    func validate() throws {
        guard piece > 0 else { throw ValidationError("--piece must be positive") }
        guard inFlight > 0 else { throw ValidationError("--in-flight must be positive") }
    }

    func run() async throws {
        let tenant = TenantID("stream")!
        let actor = Actor("crash-driver")
        let store = try ArtifactStore.open(directory: dir)
        var buffer = [UInt8](repeating: 0, count: piece)
        let sampler = AnonymousMemorySampler()
        let baseline = sampler.baseline()
        sampler.start()

        let started = ContinuousClock.now
        let begun = try await store.beginUpload(
            tenant: tenant, providerId: ProviderID("crash:stream")!, mimeType: "application/octet-stream",
            declaredSize: bytes, actor: actor)
        var generator = ContentGenerator(seed: seed)
        var hasher = SHA256Hasher()
        var offset: UInt64 = 0
        var pending: [PendingAppend] = []
        while offset < bytes {
            let length = Int(min(UInt64(piece), bytes - offset))
            if length < buffer.count { buffer = [UInt8](repeating: 0, count: length) }
            buffer.withUnsafeMutableBytes { generator.fill($0) }
            hasher.update(buffer)
            let accepted = try await store.beginAppend(
                uploadId: begun.uploadId, offset: offset, bytes: buffer, actor: actor)
            offset = accepted.end
            pending.append(accepted)
            if pending.count >= inFlight { _ = try await pending.removeFirst().stored() }
        }
        for accepted in pending { _ = try await accepted.stored() }
        let expected = hasher.finalize()
        let committed = try await store.commitUpload(
            uploadId: begun.uploadId, expectedSHA256: expected, actor: actor)
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let peak = sampler.stop()
        guard committed.meta.sha256 == expected, committed.meta.sizeBytes == bytes else {
            fail(
                "committed as \(committed.meta.sha256)/\(committed.meta.sizeBytes), sent \(expected)/\(bytes)"
            )
        }
        emit(
            #"{"artifactId":"\#(committed.meta.artifactId.uuidString.lowercased())","tenant":"\#(tenant)","#
                + #""baselineAnonKiB":\#(baseline),"peakAnonKiB":\#(peak),"sha256":"\#(expected.hex)","#
                + #""bytes":\#(bytes),"seconds":\#((seconds * 1000).rounded() / 1000)}"#)
    }
}

/// Samples `RssAnon` of this process every 5 ms on a thread of its own and
/// keeps the largest value.
final class AnonymousMemorySampler: Sendable {
    private let peak = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    /// Takes a first sample, which also counts towards the peak.
    func baseline() -> Int {
        let value = Self.rssAnonKiB()
        peak.max(value)
        return value
    }

    func start() {
        running.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) {
                peak.max(Self.rssAnonKiB())
                usleep(5000)
            }
            finished.store(true, ordering: .releasing)
        }
        thread.start()
    }

    /// Stops sampling and returns the peak, including a last sample.
    func stop() -> Int {
        running.store(false, ordering: .releasing)
        while !finished.load(ordering: .acquiring) { usleep(1000) }
        peak.max(Self.rssAnonKiB())
        return peak.load(ordering: .acquiring)
    }

    /// `RssAnon` from `/proc/self/status`, in KiB; 0 where there is none.
    static func rssAnonKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return 0
        }
        for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            let fields = line.dropFirst("RssAnon:".count).split(whereSeparator: {
                $0 == " " || $0 == "\t"
            })
            return fields.first.flatMap { Int($0) } ?? 0
        }
        return 0
    }
}

extension Atomic<Int> {
    func max(_ value: Int) {
        var current = load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = compareExchange(
                expected: current, desired: value, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }
}

// MARK: - Shared

/// SplitMix64: a small, fast, seedable generator, so a seed names a run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Pseudo-random content as a stream: a seed names the content, and any
/// sequence of `fill`s yields the same bytes for the same seed.
///
/// The content is a 64 KiB pseudo-random pattern of the seed, repeated, with
/// each repetition's first eight bytes mixed with its number, so that no two
/// blocks (and no two seeds) give the same bytes. Copying a pattern keeps the
/// driver cheap even unoptimized (the tests run a debug build), where making
/// every word afresh cost more CPU than the store under test.
struct ContentGenerator {
    static let blockBytes = 64 << 10
    private let pattern: [UInt8]
    private let seed: UInt64
    private var position = 0

    init(seed: UInt64) {
        self.seed = seed
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var words = [UInt64](repeating: 0, count: Self.blockBytes / 8)
        for index in words.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            words[index] = state.littleEndian
        }
        pattern = words.withUnsafeBytes { Array($0) }
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var done = 0
        while done < buffer.count {
            let block = position / Self.blockBytes
            let within = position % Self.blockBytes
            let count = min(Self.blockBytes - within, buffer.count - done)
            pattern.withUnsafeBytes { source in
                (buffer.baseAddress! + done).copyMemory(from: source.baseAddress! + within, byteCount: count)
            }
            // The block's number, mixed with the seed, over its first eight bytes.
            let stamp = (UInt64(block) &+ 1) &* (seed | 1) &* 0xBF58_476D_1CE4_E5B9
            for offset in within..<max(within, min(8, within + count)) {
                buffer[done + offset - within] ^= UInt8(truncatingIfNeeded: stamp >> (8 * UInt64(offset)))
            }
            position += count
            done += count
        }
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { fill($0) }
        return result
    }

    /// The first `count` bytes of the content named by `seed`.
    static func content(seed: UInt64, count: Int) -> [UInt8] {
        var generator = ContentGenerator(seed: seed)
        return generator.bytes(count)
    }
}

/// Prints a line on stdout and flushes it, so a reader sees it at once.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Reports a broken promise of the store and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("cairn-crash-driver: \(message)\n".utf8))
    exit(1)
}

/// The entry point. Top-level code would pick the synchronous `main()`;
/// inside an `async` function the asynchronous one is chosen.
func runDriver() async {
    await CrashDriver.main()
}

await runDriver()
