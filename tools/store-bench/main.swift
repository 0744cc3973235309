import ArgumentParser
import CMalloc
import CairnDigest
import CairnStore
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// The store benchmark: stages and reads back a large artifact and many small
// ones, and measures in the same run what the machine itself can do with the
// same bytes (`openssl dgst -sha256`, `dd conv=fsync`). Results are ratios to
// those limits; absolute times on a shared machine mean little.
//
// Each repetition runs every measurement once, in turn, so that the store
// and its limits see the same conditions; the table reports medians.

/// The benchmark command.
struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn-store-bench",
        abstract: "Measures the store's staging and read rates against openssl and dd on the same bytes.",
        discussion: """
            Build and run in release:
              swift build -c release --product cairn-store-bench
              .build/release/cairn-store-bench
            The work directory holds the generated files and the stores; it is
            removed at the end unless --keep is given.
            """
    )

    @Option(help: "Directory for the generated files and stores (default: a new directory under the temp dir).")
    var workDir: String?

    @Flag(help: "Keep the work directory (files and the last stores) at the end.")
    var keep = false

    @Option(name: .customLong("repeat"), help: "Repetitions of every measurement; the table shows medians.")
    var repetitions = 3

    @Option(help: "Size of the large artifact in MiB.")
    var largeMib = 256

    @Option(help: "Size of each append and each read of the large artifact, in MiB.")
    var pieceMib = 4

    @Option(help: "Appends of the large artifact accepted and not yet stored at a time (1: one after another).")
    var appendsInFlight = 4

    @Option(help: "Number of small artifacts.")
    var smallCount = 100_000

    @Option(help: "Size of each small artifact in bytes.")
    var smallSize = 4096

    @Option(help: "Concurrent tasks for the concurrent small-artifact runs.")
    var concurrency = 16

    @Option(help: "Writes of the durable-write reference (dd oflag=dsync, one small artifact per write).")
    var dsyncCount = 2000

    @Flag(help: "Skip the large-artifact measurements.")
    var skipLarge = false

    @Flag(help: "Skip the small-artifact measurements.")
    var skipSmall = false

    @Option(help: "Bytes the integrity scrub reads, in MiB.")
    var scrubMib = 256

    @Option(help: "Size of each blob the scrub reads, in MiB.")
    var scrubBlobMib = 16

    @Flag(help: "Skip the integrity scrub measurement.")
    var skipScrub = false

    @Flag(
        help:
            "Give the scrub's chunks the SHA-256 headers of layouts 1 to 4, as in a store written before layout 5.")
    var scrubLegacyHeaders = false
    @Flag(
        inversion: .prefixedNo,
        help: "Let the store keep its data file allocated up to the map size (the default) or not, for A/B runs.")
    var allocateMap = true

    @Flag(
        help: """
            Stage every repetition of the large artifact into one store, deleting the previous one's \
            artifact first (as a long-running server does), instead of into a new store each time.
            """)
    var reuseStore = false

    @Flag(help: "Also print the results as JSON after the table.")
    var json = false

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard largeMib >= 1, pieceMib >= 1 else {
            throw ValidationError("--large-mib and --piece-mib must be at least 1")
        }
        guard smallCount >= 1, smallSize >= 1 else {
            throw ValidationError("--small-count and --small-size must be at least 1")
        }
        guard appendsInFlight >= 1 else { throw ValidationError("--appends-in-flight must be at least 1") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard dsyncCount >= 1 else { throw ValidationError("--dsync-count must be at least 1") }
    }

    /// Runs every measurement and prints the report.
    func measure() async throws {
        let (workDirectory, created) = try makeWorkDirectory()
        let memory = MemorySampler()
        memory.start()
        defer {
            memory.stop()
            if keep {
                progress("kept \(workDirectory)")
            } else {
                removeWorkFiles(in: workDirectory, directoryToo: created)
            }
        }

        let machine = MachineFacts.gather(workDirectory: workDirectory)
        let tools = try Tools.locate()
        var results: [Measurement] = []
        if !skipLarge {
            results += try await measureLarge(in: workDirectory, tools: tools)
        }
        if !skipSmall {
            results += try await measureSmall(in: workDirectory, tools: tools)
        }
        if !skipScrub {
            results += try await measureScrub(in: workDirectory, tools: tools)
        }
        let peaks = memory.peaks()
        var facts = machine
        facts.loadAverageAtEnd = MachineFacts.loadAverage()

        let report = Report(
            command: CommandLine.arguments.map(shellQuoted).joined(separator: " "),
            machine: facts,
            parameters: .init(
                workDirectory: workDirectory, repetitions: repetitions, largeBytes: UInt64(largeMib) << 20,
                pieceBytes: pieceMib << 20, smallCount: smallCount, smallSize: smallSize, concurrency: concurrency),
            results: results,
            peakAnonymousRSSBytes: peaks.anonymous,
            peakRSSBytes: peaks.total)
        print(report.text())
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    /// The store's settings for every run.
    private var storeConfiguration: ArtifactStore.Configuration {
        var configuration = ArtifactStore.Configuration()
        configuration.allocatesMap = allocateMap
        return configuration
    }

    // MARK: - The large artifact

    private func measureLarge(in workDirectory: String, tools: Tools) async throws -> [Measurement] {
        let size = UInt64(largeMib) << 20
        let piece = pieceMib << 20
        let path = workDirectory + "/large.bin"
        progress("generating \(largeMib) MiB of random bytes in \(path)")
        try generateRandomFile(at: path, size: size, piece: piece)
        let file = try InputFile(path: path)
        defer { file.close() }
        let digest = try file.sha256(size: size, piece: piece)

        var openssl: [Double] = []
        var dd: [Double] = []
        var fileRead: [Double] = []
        var staging: [Double] = []
        var appends: [Double] = []
        var commits: [Double] = []
        var reading: [Double] = []
        var reusedStore: ArtifactStore? = nil
        for round in 1...repetitions {
            let tag = "[large \(round)/\(repetitions)]"
            openssl.append(try tools.openssl(path))
            progress("\(tag) openssl dgst -sha256: \(seconds(openssl.last!)) s")
            dd.append(try tools.dd(from: path, to: workDirectory + "/dd.out"))
            progress("\(tag) dd conv=fsync: \(seconds(dd.last!)) s")
            fileRead.append(try timed { try file.readAll(size: size, piece: piece) })
            progress("\(tag) read the file in pieces: \(seconds(fileRead.last!)) s")

            let store: ArtifactStore
            if reuseStore, let kept = reusedStore {
                store = kept
            } else {
                let storeDirectory = workDirectory + "/store-large"
                try? FileManager.default.removeItem(atPath: storeDirectory)
                store = try ArtifactStore.open(
                    directory: storeDirectory, configuration: storeConfiguration, logger: storeLogger)
                if reuseStore { reusedStore = store }
            }
            let cpuBefore = processCPUSeconds()
            let staged = try await stageLarge(into: store, file: file, size: size, piece: piece, digest: digest)
            let cpu = processCPUSeconds() - cpuBefore
            staging.append(staged.total)
            appends.append(staged.appends)
            commits.append(staged.commit)
            progress(
                "\(tag) stage through an upload: \(seconds(staged.total)) s (appends \(seconds(staged.appends)) s, commit \(seconds(staged.commit)) s, CPU \(seconds(cpu)) s)"
            )

            reading.append(try readLarge(from: store, artifactId: staged.artifactId, size: size, piece: piece))
            progress("\(tag) read back verified: \(seconds(reading.last!)) s")
            if reuseStore {
                // Frees the blob; flush waits until its chunks are reclaimed.
                _ = try await store.delete(tenant: benchTenant, artifactId: staged.artifactId, actor: benchActor)
            }
            try store.flush()
        }
        if !keep {
            try? FileManager.default.removeItem(atPath: workDirectory + "/store-large")
            try? FileManager.default.removeItem(atPath: workDirectory + "/dd.out")
        }

        let opensslM = Measurement(
            group: "large", name: "openssl dgst -sha256 (file page-cache hot)", bytes: size, seconds: openssl)
        let ddM = Measurement(group: "large", name: "dd bs=1M conv=fsync", bytes: size, seconds: dd)
        let writeLimit = max(opensslM.medianSeconds, ddM.medianSeconds)
        let writeLimitName = "max(openssl, dd)"
        return [
            opensslM,
            ddM,
            Measurement(
                group: "large", name: "client: read the file in \(pieceMib) MiB pieces", bytes: size, seconds: fileRead),
            Measurement(
                group: "large", name: "stage: beginUpload + \(pieceMib) MiB appends + durable commit", bytes: size,
                seconds: staging, limit: (writeLimitName, writeLimit), target: 1.5),
            Measurement(
                group: "large", name: "  of which appends", bytes: size, seconds: appends,
                limit: (writeLimitName, writeLimit)),
            Measurement(group: "large", name: "  of which commitUpload", bytes: 0, seconds: commits),
            Measurement(
                group: "large", name: "read back verified, \(pieceMib) MiB ranges", bytes: size, seconds: reading,
                limit: ("openssl", opensslM.medianSeconds), target: 1.5),
        ]
    }

    private struct LargeStaging {
        var total: Double
        var appends: Double
        var commit: Double
        var artifactId: UUID
    }

    /// Stages the file through the upload API, reading the next piece from
    /// the file while the current one is appended, as a streaming client
    /// would.
    private func stageLarge(
        into store: ArtifactStore, file: InputFile, size: UInt64, piece: Int, digest: SHA256Digest
    ) async throws -> LargeStaging {
        let clock = ContinuousClock()
        let start = clock.now
        let upload = try await store.beginUpload(
            tenant: benchTenant, providerId: benchProvider, mimeType: "application/octet-stream", declaredSize: size,
            expectedSHA256: digest, actor: benchActor)
        let appendsStart = clock.now
        var offset: UInt64 = 0
        var bytes = try file.read(at: 0, count: Int(min(UInt64(piece), size)))
        var inFlight: [PendingAppend] = []
        while offset < size {
            let nextOffset = offset + UInt64(bytes.count)
            async let next = file.read(at: nextOffset, count: Int(min(UInt64(piece), size - nextOffset)))
            let pending = try await store.beginAppend(
                uploadId: upload.uploadId, offset: offset, bytes: bytes, actor: benchActor)
            offset = pending.end
            inFlight.append(pending)
            if inFlight.count >= appendsInFlight { _ = try await inFlight.removeFirst().stored() }
            bytes = try await next
        }
        for pending in inFlight { _ = try await pending.stored() }
        let commitStart = clock.now
        let committed = try await store.commitUpload(uploadId: upload.uploadId, actor: benchActor)
        let end = clock.now
        guard committed.meta.sha256 == digest, committed.meta.sizeBytes == size else {
            throw BenchError(
                "the store committed \(committed.meta.sizeBytes) bytes with sha256 \(committed.meta.sha256)")
        }
        return LargeStaging(
            total: (end - start).seconds, appends: (commitStart - appendsStart).seconds,
            commit: (end - commitStart).seconds,
            artifactId: committed.meta.artifactId)
    }

    private func readLarge(from store: ArtifactStore, artifactId: UUID, size: UInt64, piece: Int) throws -> Double {
        try timed {
            var offset: UInt64 = 0
            var eof = false
            while !eof {
                let range = try store.read(tenant: benchTenant, artifactId: artifactId, offset: offset, length: piece)
                offset += UInt64(range.bytes.count)
                eof = range.eof
            }
            guard offset == size else { throw BenchError("read back \(offset) bytes, not \(size)") }
        }
    }

    // MARK: - Small artifacts

    private func measureSmall(in workDirectory: String, tools: Tools) async throws -> [Measurement] {
        let total = UInt64(smallCount) * UInt64(smallSize)
        let path = workDirectory + "/small.bin"
        progress("generating \(smallCount) × \(smallSize) bytes of random bytes in \(path)")
        try generateRandomFile(at: path, size: total, piece: pieceMib << 20)
        let file = try InputFile(path: path)
        defer { file.close() }
        let dsyncWrites = min(dsyncCount, smallCount)

        var openssl: [Double] = []
        var dd: [Double] = []
        var dsync: [Double] = []
        var sequential: [Double] = []
        var concurrent: [Double] = []
        var readSequential: [Double] = []
        var readConcurrent: [Double] = []
        for round in 1...repetitions {
            let tag = "[small \(round)/\(repetitions)]"
            openssl.append(try tools.openssl(path))
            progress("\(tag) openssl dgst -sha256: \(seconds(openssl.last!)) s")
            dd.append(try tools.dd(from: path, to: workDirectory + "/dd.out"))
            progress("\(tag) dd conv=fsync: \(seconds(dd.last!)) s")
            dsync.append(
                try tools.ddDsync(
                    from: path, to: workDirectory + "/dsync.out", blockSize: smallSize, count: dsyncWrites))
            progress("\(tag) dd oflag=dsync, \(dsyncWrites) writes: \(seconds(dsync.last!)) s")

            let sequentialDirectory = workDirectory + "/store-small-sequential"
            try? FileManager.default.removeItem(atPath: sequentialDirectory)
            do {
                let store = try ArtifactStore.open(
                    directory: sequentialDirectory, configuration: storeConfiguration, logger: storeLogger)
                var ids: [UUID] = []
                ids.reserveCapacity(smallCount)
                sequential.append(
                    try await timedAsync {
                        let rates = RateLog(tag: "\(tag) stage sequentially", total: smallCount)
                        for index in 0..<smallCount {
                            let content = try file.read(at: UInt64(index) * UInt64(smallSize), count: smallSize)
                            let committed = try await store.stage(
                                tenant: benchTenant, providerId: benchProvider, mimeType: "application/octet-stream",
                                content: content, actor: benchActor)
                            ids.append(committed.meta.artifactId)
                            rates.done(index + 1)
                        }
                    })
                progress("\(tag) stage sequentially: \(seconds(sequential.last!)) s")
                let all = ids
                readSequential.append(try readSmall(from: store, ids: all))
                progress("\(tag) read back sequentially: \(seconds(readSequential.last!)) s")
                readConcurrent.append(try await readSmallConcurrently(from: store, ids: all))
                progress("\(tag) read back with \(concurrency) tasks: \(seconds(readConcurrent.last!)) s")
                try store.flush()
            }
            if !keep || round < repetitions { try? FileManager.default.removeItem(atPath: sequentialDirectory) }

            let concurrentDirectory = workDirectory + "/store-small-concurrent"
            try? FileManager.default.removeItem(atPath: concurrentDirectory)
            do {
                let store = try ArtifactStore.open(
                    directory: concurrentDirectory, configuration: storeConfiguration, logger: storeLogger)
                concurrent.append(try await stageSmallConcurrently(into: store, file: file))
                progress("\(tag) stage with \(concurrency) tasks: \(seconds(concurrent.last!)) s")
                try store.flush()
            }
            if !keep || round < repetitions { try? FileManager.default.removeItem(atPath: concurrentDirectory) }
        }
        if !keep {
            try? FileManager.default.removeItem(atPath: workDirectory + "/dd.out")
            try? FileManager.default.removeItem(atPath: workDirectory + "/dsync.out")
        }

        let opensslM = Measurement(
            group: "small", name: "openssl dgst -sha256 of the concatenation", bytes: total, seconds: openssl)
        let ddM = Measurement(
            group: "small", name: "dd bs=1M conv=fsync of the concatenation", bytes: total, seconds: dd)
        let writeLimit = max(opensslM.medianSeconds, ddM.medianSeconds)
        let writeLimitName = "max(openssl, dd)"
        let readLimit = ("openssl", opensslM.medianSeconds)
        return [
            opensslM,
            ddM,
            Measurement(
                group: "small", name: "dd bs=\(smallSize) count=\(dsyncWrites) oflag=dsync (reference)",
                bytes: UInt64(dsyncWrites) * UInt64(smallSize), operations: dsyncWrites, seconds: dsync),
            Measurement(
                group: "small", name: "stage sequentially, one durable commit each", bytes: total,
                operations: smallCount,
                seconds: sequential, limit: (writeLimitName, writeLimit)),
            Measurement(
                group: "small", name: "stage with \(concurrency) concurrent tasks", bytes: total,
                operations: smallCount,
                seconds: concurrent, limit: (writeLimitName, writeLimit)),
            Measurement(
                group: "small", name: "read back verified, sequentially", bytes: total, operations: smallCount,
                seconds: readSequential, limit: readLimit),
            Measurement(
                group: "small", name: "read back verified, \(concurrency) tasks", bytes: total, operations: smallCount,
                seconds: readConcurrent, limit: readLimit),
        ]
    }

    private func stageSmallConcurrently(into store: ArtifactStore, file: InputFile) async throws -> Double {
        let (count, size, tasks) = (smallCount, smallSize, concurrency)
        return try await timedAsync {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for index in stride(from: task, to: count, by: tasks) {
                            let content = try file.read(at: UInt64(index) * UInt64(size), count: size)
                            _ = try await store.stage(
                                tenant: benchTenant, providerId: benchProvider, mimeType: "application/octet-stream",
                                content: content, actor: benchActor)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    private func readSmall(from store: ArtifactStore, ids: [UUID]) throws -> Double {
        let size = smallSize
        return try timed {
            for id in ids {
                let range = try store.read(tenant: benchTenant, artifactId: id, length: size)
                guard range.bytes.count == size else {
                    throw BenchError("read back \(range.bytes.count) bytes, not \(size)")
                }
            }
        }
    }

    private func readSmallConcurrently(from store: ArtifactStore, ids: [UUID]) async throws -> Double {
        let (size, tasks) = (smallSize, concurrency)
        return try await timedAsync {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for index in stride(from: task, to: ids.count, by: tasks) {
                            let range = try store.read(tenant: benchTenant, artifactId: ids[index], length: size)
                            guard range.bytes.count == size else {
                                throw BenchError("read back \(range.bytes.count) bytes, not \(size)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    // MARK: - Set-up

    /// The files and directories the benchmark creates in its work directory.
    static let workFiles = [
        "large.bin", "small.bin", "dd.out", "dsync.out", "store-large", "store-small-sequential",
        "store-small-concurrent", "scrub.bin", "store-scrub",
    ]

    /// The work directory, and whether this run created it.
    private func makeWorkDirectory() throws -> (path: String, created: Bool) {
        let path: String
        if let workDir {
            path = URL(fileURLWithPath: workDir).standardizedFileURL.path
        } else {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-store-bench-\(getpid())").path
        }
        let existed = FileManager.default.fileExists(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return (path, !existed)
    }

    /// Removes what the benchmark wrote, and the directory itself only when
    /// this run created it: a `--work-dir` that already held other files
    /// keeps them.
    private func removeWorkFiles(in directory: String, directoryToo: Bool) {
        for name in Self.workFiles {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        if directoryToo { _ = rmdir(directory) }
    }
}

let benchTenant = TenantID("bench")!
let benchProvider = ProviderID("bench:store")!
let benchActor = Actor("bench")

/// The stores' logger: warnings and errors only (every fresh store logs its
/// layout migrations at info level).
let storeLogger: Logger = {
    var logger = Logger(label: "cairn.store-bench")
    logger.logLevel = .warning
    return logger
}()

// MARK: - Files

/// A read-only file read with `pread`, safe to share between tasks.
struct InputFile: Sendable {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw BenchError("cannot open \(path): \(errnoText())") }
    }

    func close() { _ = Glibc.close(descriptor) }

    /// Reads exactly `count` bytes at `offset`.
    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw BenchError("short read at \(offset + UInt64(done)): \(errnoText())") }
                done += n
            }
            initialized = count
        }
    }

    /// Reads the first `size` bytes piece by piece, dropping them.
    func readAll(size: UInt64, piece: Int) throws {
        var offset: UInt64 = 0
        while offset < size {
            let bytes = try read(at: offset, count: Int(min(UInt64(piece), size - offset)))
            offset += UInt64(bytes.count)
        }
    }

    /// The SHA-256 of the first `size` bytes, read piece by piece.
    func sha256(size: UInt64, piece: Int) throws -> SHA256Digest {
        var hasher = SHA256Hasher()
        var offset: UInt64 = 0
        while offset < size {
            let bytes = try read(at: offset, count: Int(min(UInt64(piece), size - offset)))
            hasher.update(bytes)
            offset += UInt64(bytes.count)
        }
        return hasher.finalize()
    }
}

/// Writes `size` random bytes (from `/dev/urandom`) to a new file at
/// `path`, one piece at a time, and flushes it to disk.
func generateRandomFile(at path: String, size: UInt64, piece: Int) throws {
    let random = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    guard random >= 0 else { throw BenchError("cannot open /dev/urandom: \(errnoText())") }
    defer { _ = Glibc.close(random) }
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { throw BenchError("cannot create \(path): \(errnoText())") }
    defer { _ = Glibc.close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: piece)
    var written: UInt64 = 0
    while written < size {
        let count = Int(min(UInt64(piece), size - written))
        try buffer.withUnsafeMutableBytes { raw in
            var filled = 0
            while filled < count {
                let n = Glibc.read(random, raw.baseAddress! + filled, count - filled)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw BenchError("cannot read /dev/urandom: \(errnoText())") }
                filled += n
            }
            var done = 0
            while done < count {
                let n = write(descriptor, raw.baseAddress! + done, count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw BenchError("cannot write \(path): \(errnoText())") }
                done += n
            }
        }
        written += UInt64(count)
    }
    guard fsync(descriptor) == 0 else { throw BenchError("cannot flush \(path): \(errnoText())") }
}

// MARK: - Child processes

/// The reference tools, run as child processes.
struct Tools {
    let opensslPath: String
    let ddPath: String

    static func locate() throws -> Tools {
        Tools(opensslPath: try findExecutable("openssl"), ddPath: try findExecutable("dd"))
    }

    /// `openssl dgst -sha256 FILE`; checks that it printed a digest.
    func openssl(_ path: String) throws -> Double {
        let (duration, output) = try runChild(opensslPath, ["dgst", "-sha256", path])
        guard output.contains("= ") else { throw BenchError("openssl printed no digest: \(output)") }
        return duration
    }

    /// `dd if=FROM of=TO bs=1M conv=fsync`, into a fresh output file.
    func dd(from: String, to: String) throws -> Double {
        try? FileManager.default.removeItem(atPath: to)
        return try runChild(ddPath, ["if=\(from)", "of=\(to)", "bs=1M", "conv=fsync", "status=none"]).seconds
    }

    /// `dd ... bs=SIZE count=N oflag=dsync`: N durable small writes.
    func ddDsync(from: String, to: String, blockSize: Int, count: Int) throws -> Double {
        try? FileManager.default.removeItem(atPath: to)
        return try runChild(
            ddPath, ["if=\(from)", "of=\(to)", "bs=\(blockSize)", "count=\(count)", "oflag=dsync", "status=none"]
        ).seconds
    }
}

/// Runs `executable` with `arguments`, timing it from launch to exit.
///
/// - Returns: the wall time and what it printed on standard output.
func runChild(_ executable: String, _ arguments: [String]) throws -> (seconds: Double, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let clock = ContinuousClock()
    let start = clock.now
    try process.run()
    process.waitUntilExit()
    let elapsed = (clock.now - start).seconds
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let complaints = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw BenchError(
            "\(executable) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): \(complaints)")
    }
    return (elapsed, printed)
}

func findExecutable(_ name: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    throw BenchError("\(name) is not on the PATH")
}

// MARK: - Machine facts

struct MachineFacts: Codable {
    var processors: Int
    var cpuModel: String
    var kernel: String
    var workDirectoryFilesystem: String
    var memoryTotal: String
    /// The 1, 5 and 15 minute load averages when the run began and ended: the
    /// machine is shared, and a busy neighbour shows here.
    var loadAverageAtStart: String
    var loadAverageAtEnd: String?

    static func gather(workDirectory: String) -> MachineFacts {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let memory =
            ((try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Double($0.dropFirst("MemTotal:".count).split(separator: " ").first ?? "") }
            .map { String(format: "%.1f GiB", $0 / 1_048_576) } ?? "unknown"
        var name = utsname()
        uname(&name)
        let kernel = [name.sysname, name.release, name.machine].map { field in
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }.joined(separator: " ")
        // `df -T DIR`: a header, then source, type, size, used, free, use%, mount point.
        let df = (try? findExecutable("df")).flatMap { try? runChild($0, ["-T", workDirectory]).output } ?? ""
        let fields = df.split(separator: "\n").dropFirst().first?.split(separator: " ").map(String.init) ?? []
        let filesystem = fields.count >= 7 ? "\(fields[1]) (\(fields[0]) mounted on \(fields[6]))" : "unknown"
        return MachineFacts(
            processors: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpuModel: model, kernel: kernel,
            workDirectoryFilesystem: filesystem, memoryTotal: memory, loadAverageAtStart: loadAverage())
    }

    /// The first three fields of `/proc/loadavg`.
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}

// MARK: - Memory

/// Samples the process's resident memory every 20 ms and keeps the peaks.
///
/// Anonymous memory is what the process allocates; the total also counts
/// pages of the store's memory map that reads touched, which are page cache.
final class MemorySampler: Sendable {
    private let running = Atomic<Bool>(false)
    private let anonymous = Atomic<Int>(0)

    func start() {
        running.store(true, ordering: .releasing)
        Thread.detachNewThread { [self] in
            while running.load(ordering: .acquiring) {
                sample()
                usleep(20_000)
            }
        }
    }

    func stop() { running.store(false, ordering: .releasing) }

    private func sample() {
        guard let kib = Self.status("RssAnon:") else { return }
        _ = anonymous.max(kib * 1024, ordering: .relaxed)
    }

    func peaks() -> (anonymous: Int, total: Int) {
        sample()
        return (anonymous.load(ordering: .relaxed), (Self.status("VmHWM:") ?? 0) * 1024)
    }

    /// A `kB` field of `/proc/self/status`.
    private static func status(_ field: String) -> Int? {
        let descriptor = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { _ = Glibc.close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 8192)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
        return line.dropFirst(field.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
    }
}

// MARK: - Results

/// One measured operation: its times, and its median compared with a limit.
struct Measurement: Codable {
    var group: String
    var name: String
    var bytes: UInt64
    var operations: Int?
    var seconds: [Double]
    var medianSeconds: Double
    /// Megabytes (10^6 bytes) per second at the median.
    var megabytesPerSecond: Double?
    /// Operations per second at the median.
    var operationsPerSecond: Double?
    var limitName: String?
    var limitSeconds: Double?
    /// Median seconds divided by the limit's median seconds.
    var ratioToLimit: Double?
    /// The largest ratio the issue accepts, where it sets one.
    var targetRatio: Double?

    init(
        group: String, name: String, bytes: UInt64, operations: Int? = nil, seconds: [Double],
        limit: (String, Double)? = nil, target: Double? = nil
    ) {
        self.group = group
        self.name = name
        self.bytes = bytes
        self.operations = operations
        self.seconds = seconds
        medianSeconds = median(seconds)
        megabytesPerSecond = bytes > 0 ? Double(bytes) / 1e6 / medianSeconds : nil
        operationsPerSecond = operations.map { Double($0) / medianSeconds }
        limitName = limit?.0
        limitSeconds = limit?.1
        ratioToLimit = limit.map { medianSeconds / $0.1 }
        targetRatio = target
    }
}

struct Report: Codable {
    struct Parameters: Codable {
        var workDirectory: String
        var repetitions: Int
        var largeBytes: UInt64
        var pieceBytes: Int
        var smallCount: Int
        var smallSize: Int
        var concurrency: Int
    }

    var command: String
    var machine: MachineFacts
    var parameters: Parameters
    var results: [Measurement]
    var peakAnonymousRSSBytes: Int
    var peakRSSBytes: Int

    /// The human-readable report: machine, command, and one table per group.
    func text() -> String {
        var lines: [String] = []
        lines.append("command:    \(command)")
        lines.append("cpus:       \(machine.processors) × \(machine.cpuModel), memory \(machine.memoryTotal)")
        lines.append("kernel:     \(machine.kernel)")
        lines.append("work dir:   \(parameters.workDirectory) on \(machine.workDirectoryFilesystem)")
        lines.append(
            "load avg:   \(machine.loadAverageAtStart) at the start, \(machine.loadAverageAtEnd ?? "?") at the end")
        lines.append(
            "repeats:    \(parameters.repetitions) (medians shown; each repetition runs every row once, in turn)")
        lines.append(
            "peak RSS:   \(mebibytes(peakAnonymousRSSBytes)) MiB anonymous (sampled), \(mebibytes(peakRSSBytes)) MiB total incl. mapped store pages"
        )
        lines.append(
            "caches:     nothing is dropped; the input files are page-cache hot for openssl, dd and the store alike")
        for group in ["large", "small", "scrub"] {
            let rows = results.filter { $0.group == group }
            guard !rows.isEmpty else { continue }
            lines.append("")
            if group == "large" {
                lines.append("Large artifact: \(mebibytes(Int(parameters.largeBytes))) MiB")
            } else if group == "scrub" {
                lines.append(
                    "Integrity scrub: \(mebibytes(Int(rows[0].bytes))) MiB in \(rows.last?.operations ?? 0) blobs (target: a rate ≥ 0.7 × openssl's, i.e. ratio ≤ 1.43×)"
                )
            } else {
                lines.append(
                    "Small artifacts: \(parameters.smallCount) × \(parameters.smallSize) bytes = \(mebibytes(Int(rows[0].bytes))) MiB"
                )
            }
            lines += table(rows)
        }
        lines.append("")
        lines.append("MB = 10^6 bytes. ratio = median seconds / median seconds of the limit (lower is better).")
        return lines.joined(separator: "\n")
    }

    private func table(_ rows: [Measurement]) -> [String] {
        let header = ["operation", "seconds", "MB/s", "per s", "ratio", "limit", "target"]
        let cells = rows.map { row -> [String] in
            [
                row.name,
                String(format: "%.3f", row.medianSeconds),
                row.megabytesPerSecond.map { String(format: "%.1f", $0) } ?? "",
                row.operationsPerSecond.map { String(format: "%.0f", $0) } ?? "",
                row.ratioToLimit.map { String(format: "%.2f×", $0) } ?? "",
                row.limitName ?? "",
                row.targetRatio.map { target in
                    String(format: "≤ %.2f× %@", target, (row.ratioToLimit ?? .infinity) <= target ? "met" : "MISSED")
                } ?? "",
            ]
        }
        let widths = header.indices.map { column in
            ([header] + cells).map { $0[column].count }.max() ?? 0
        }
        func line(_ fields: [String]) -> String {
            fields.enumerated().map { column, field in
                let padding = String(repeating: " ", count: widths[column] - field.count)
                return column == 0 || column >= 5 ? field + padding : padding + field
            }.joined(separator: "  ").replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        }
        return [line(header), line(widths.map { String(repeating: "-", count: $0) })] + cells.map(line)
    }
}

// MARK: - Helpers

/// Prints the rate of each tenth of a long sequential run, to show whether
/// it slows down as the store grows.
final class RateLog {
    private let tag: String
    private let step: Int
    private let clock = ContinuousClock()
    private var last: ContinuousClock.Instant

    init(tag: String, total: Int) {
        self.tag = tag
        step = max(1, total / 10)
        last = clock.now
    }

    func done(_ count: Int) {
        guard count % step == 0 else { return }
        let now = clock.now
        progress(
            "\(tag): \(count) done, \(String(format: "%.0f", Double(step) / (now - last).seconds))/s over the last \(step)"
        )
        last = now
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// The CPU time (user and system) this process has used so far, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func timed(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    return (clock.now - start).seconds
}

func timedAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    return (clock.now - start).seconds
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}

func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

func mebibytes(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

func progress(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func errnoText() -> String { String(cString: strerror(errno)) }

func shellQuoted(_ argument: String) -> String {
    let plain = argument.unicodeScalars.allSatisfy {
        CharacterSet.alphanumerics.contains($0) || "-_./=:,@%+".unicodeScalars.contains($0)
    }
    return plain && !argument.isEmpty ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

// `main.swift` cannot use `@main`, and top-level code here resolves
// `main()` and `run()` to the synchronous `ParsableCommand` ones: parse, then
// run the async body by name.
let command = StoreBench.parseOrExit()
// As `cairn serve` does (Sources/cairn/ProcessTuning.swift): reuse heap
// blocks for LMDB's 1 MiB dirty values instead of a fresh mmap for each.
_ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
_ = mallopt(M_TRIM_THRESHOLD, 64 << 20)
do {
    try await command.measure()
} catch {
    StoreBench.exit(withError: error)
}
