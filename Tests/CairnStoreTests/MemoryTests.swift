import CairnDigest
import CairnStore
import Foundation
import Testing

/// Uploading is streaming: the store's memory does not grow with the size
/// of the content.
@Suite struct MemoryTests {
    /// What `cairn-crash-driver stream` prints.
    struct StreamReport: Decodable {
        var artifactId: String
        var tenant: String
        var baselineAnonKiB: Int
        var peakAnonKiB: Int
        var sha256: String
        var bytes: UInt64
        var seconds: Double
    }

    static let bytes: UInt64 = 1 << 30
    static let piece = 4 << 20
    /// The most anonymous memory the upload may add to the process.
    static let boundKiB = 128 * 1024

    /// A 1 GiB upload in 4 MiB appends, in a process of its own so that its
    /// resident anonymous memory is the store's alone.
    @Test(.timeLimit(.minutes(3)))
    func uploadingAGibibyteUsesBoundedMemory() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-memory-test-\(UUID().uuidString)").path
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: "\(directory).stderr")
        }
        let driver = try CrashDriverProcess(
            arguments: [
                "stream", "--dir", directory, "--bytes", "\(Self.bytes)", "--piece", "\(Self.piece)",
            ],
            stderrPath: "\(directory).stderr")
        let status = try await driver.waitForExit(timeout: .seconds(170))
        try #require(status == 0, "the driver failed with \(status): \(driver.stderrTail())")
        let line = try #require(driver.lines.last, "the driver printed nothing")
        let report = try JSONDecoder().decode(StreamReport.self, from: Data(line.utf8))

        #expect(report.bytes == Self.bytes)
        #expect(report.baselineAnonKiB > 0, "RssAnon was not sampled: \(line)")
        let grown = report.peakAnonKiB - report.baselineAnonKiB
        #expect(
            grown < Self.boundKiB,
            "anonymous memory grew by \(grown) KiB uploading \(Self.bytes) bytes: \(line)")

        let store = try ArtifactStore.open(directory: directory, logger: quietLogger)
        let artifactId = try #require(UUID(uuidString: report.artifactId))
        let meta = try store.meta(tenant: tenant(report.tenant), artifactId: artifactId)
        #expect(meta.sha256.hex == report.sha256)
        #expect(meta.sizeBytes == Self.bytes)
        let stat = try store.stat(tenant: tenant(report.tenant), sha256: meta.sha256)
        #expect(stat.refCount == 1 && stat.sizeBytes == Self.bytes)
        let usage = try store.usage(tenant: tenant(report.tenant))
        #expect(usage.storedBytes == Self.bytes && usage.artifactCount == 1)
        let tail = try store.read(
            tenant: tenant(report.tenant), artifactId: artifactId, offset: Self.bytes - 100, length: 100)
        #expect(tail.bytes.count == 100 && tail.eof)
    }
}
