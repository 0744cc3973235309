import CairnClient
import Foundation
import Testing

/// The export's files on a real file system: a directory and a tar file hold the same files, are
/// private, appear only when published, and are read back in pieces.
@Suite struct ExportArchiveTests {
    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "cairn-export-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(arguments: ["out", "out.tar"])
    func whatIsWrittenIsReadBackOnceItIsPublished(_ name: String) async throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let target = root + "/" + name
        let writer = try ExportWriter(target: target)
        let big = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try writer.add("EXPORT.json", Array("{}\n".utf8))
        try writer.beginFile("blobs/sha256/big", sizeBytes: UInt64(big.count))
        try writer.write(Array(big[..<1_000_000]))
        try writer.write(Array(big[1_000_000...]))
        try writer.endFile()
        try writer.add("blobs/sha256/empty", [])
        #expect(!FileManager.default.fileExists(atPath: target))
        try writer.publish()
        let mode = try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? Int
        #expect(mode == (name.hasSuffix(".tar") ? 0o600 : 0o700))
        // Nothing is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == [name])

        let reader = try ExportReader(path: target)
        #expect(try reader.contents(of: "EXPORT.json") == Array("{}\n".utf8))
        #expect(reader.size(of: "blobs/sha256/big") == UInt64(big.count))
        #expect(reader.size(of: "blobs/sha256/empty") == 0)
        #expect(reader.size(of: "blobs/sha256/none") == nil)
        var pieces: [[UInt8]] = []
        try await reader.forEachPiece(of: "blobs/sha256/big", piece: 1 << 20) { pieces.append($0) }
        #expect(pieces.map(\.count) == [1 << 20, 1 << 20, 3_000_000 - 2 << 20])
        #expect(pieces.flatMap { $0 } == big)
        #expect(try reader.range(of: "blobs/sha256/big", at: 17, count: 5) == Array(big[17..<22]))
    }

    @Test func aDiscardedExportLeavesNothingAndAnExistingTargetIsRefused() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["out", "out.tar"] {
            let writer = try ExportWriter(target: root + "/" + name)
            try writer.add("EXPORT.json", [1, 2, 3])
            writer.discard()
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == [])
        #expect(FileManager.default.createFile(atPath: root + "/taken.tar", contents: Data()))
        #expect(throws: BulkTransferError.self) { try ExportWriter(target: root + "/taken.tar") }
        let writer = try ExportWriter(target: root + "/short.tar")
        try writer.beginFile("a", sizeBytes: 4)
        try writer.write([1, 2])
        #expect(throws: BulkTransferError.self) { try writer.endFile() }
        #expect(throws: BulkTransferError.self) { try writer.write([1, 2, 3]) }
        writer.discard()
    }
}
