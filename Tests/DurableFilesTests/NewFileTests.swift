import DurableFiles
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// New files: created exclusively and privately, then published, committed or discarded.
@Suite struct NewFileTests {
    @Test func isCreatedExclusivelyWithMode0600() throws {
        let root = try TemporaryDirectory()
        let file = try NewFile(creating: root("new"))
        defer { file.discard() }
        #expect(file.path == root("new"))
        #expect(file.descriptor >= 0)
        #expect(mode(of: root("new")) == 0o600)

        // An existing file is refused and left as it was.
        try write("precious", to: root("existing"))
        let existing = #expect(throws: DurableFileError.self) { try NewFile(creating: root("existing")) }
        #expect(existing?.code == .exists)
        #expect(existing?.errorNumber == EEXIST)
        #expect(contents(of: root("existing")) == Array("precious".utf8))

        // So is a link, dangling or not: nothing is created through it.
        #expect(symlink(root("target"), root("link")) == 0)
        let link = #expect(throws: DurableFileError.self) { try NewFile(creating: root("link")) }
        #expect(link?.code == .exists)
        #expect(!FileManager.default.fileExists(atPath: root("target")))

        let missing = #expect(throws: DurableFileError.self) { try NewFile(creating: root("absent/new")) }
        #expect(missing?.code == .create)
        #expect(missing?.errorNumber == ENOENT)
    }

    @Test func publishesOverItsTargetAndNamesIt() throws {
        let root = try TemporaryDirectory()
        try write("old", to: root("report.json"))
        let file = try NewFile.beside(root("report.json"))
        let temporary = file.path
        #expect(Durable.parentDirectory(of: temporary) == root.path)
        #expect(Durable.lastComponent(of: temporary).hasPrefix(".report.json.cairn-"))
        #expect(Durable.lastComponent(of: temporary).hasSuffix(".part"))
        try file.write(Array("new ".utf8))
        try Array("bytes".utf8).withUnsafeBytes { try file.write($0) }
        #expect(contents(of: root("report.json")) == Array("old".utf8))

        try file.publish(as: root("report.json"))
        #expect(file.path == root("report.json"))
        #expect(file.descriptor == -1)
        #expect(contents(of: root("report.json")) == Array("new bytes".utf8))
        #expect(mode(of: root("report.json")) == 0o600)
        #expect(!FileManager.default.fileExists(atPath: temporary))
        // Published is final: discarding afterwards removes nothing.
        file.discard()
        #expect(contents(of: root("report.json")) == Array("new bytes".utf8))
    }

    @Test func aFailedPublishKeepsTheTargetAndTheDiscardCleansUp() throws {
        let root = try TemporaryDirectory()
        try Durable.createDirectory(root("occupied"))
        try write("x", to: root("occupied/inside"))
        let file = try NewFile.beside(root("occupied"))
        try file.write(Array("bytes".utf8))
        let failure = #expect(throws: DurableFileError.self) { try file.publish(as: root("occupied")) }
        #expect(failure?.code == .rename)
        #expect(failure?.errorNumber == EISDIR)
        #expect(FileManager.default.fileExists(atPath: file.path))
        file.discard()
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(contents(of: root("occupied/inside")) == Array("x".utf8))
    }

    @Test func commitsWhereItIs() throws {
        let root = try TemporaryDirectory()
        let file = try NewFile(creating: root("data.mdb"))
        try file.write(Array("copy".utf8))
        try file.commit()
        #expect(file.descriptor == -1)
        file.discard()
        #expect(contents(of: root("data.mdb")) == Array("copy".utf8))
    }

    @Test func aDiscardRemovesWhatWasNotMadeDurable() throws {
        let root = try TemporaryDirectory()
        let file = try NewFile(creating: root("partial"))
        try file.write(Array("half".utf8))
        try file.sync()
        file.discard()
        file.discard()
        #expect(!FileManager.default.fileExists(atPath: root("partial")))
        // A write after closing fails and says where.
        let closed = #expect(throws: DurableFileError.self) { try file.write(Array("more".utf8)) }
        #expect(closed?.code == .write)
        #expect(closed?.message == "cannot write \(root("partial")): Bad file descriptor")
    }

    @Test func takesTheModeItIsGiven() throws {
        let root = try TemporaryDirectory()
        let file = try NewFile.beside(root("download"))
        defer { file.discard() }
        try file.setMode(0o644)
        try file.publish(as: root("download"))
        #expect(mode(of: root("download")) == 0o644)
    }
}
