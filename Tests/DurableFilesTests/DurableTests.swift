import DurableFiles
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Directories, renames and flushes: what each creates, accepts and refuses.
@Suite struct DurableTests {
    @Test func createsAPrivateDirectoryAndItsMissingParents() throws {
        let root = try TemporaryDirectory()
        let path = root("a/b/c")
        #expect(try Durable.createDirectory(path))
        for directory in ["a", "a/b", "a/b/c"] {
            #expect(isDirectory(root(directory)), "\(directory)")
            #expect(mode(of: root(directory)) == 0o700, "\(directory)")
        }
        // Trailing slashes name the same directory.
        #expect(try Durable.createDirectory(root("d/e/")))
        #expect(isDirectory(root("d/e")))
    }

    @Test func acceptsAnExistingDirectoryAsItIs() throws {
        let root = try TemporaryDirectory()
        let path = root("shared")
        #expect(mkdir(path, 0o755) == 0)
        #expect(chmod(path, 0o755) == 0)
        try write("kept", to: root("shared/file"))
        #expect(try Durable.createDirectory(path) == false)
        #expect(mode(of: path) == 0o755)
        #expect(contents(of: root("shared/file")) == Array("kept".utf8))
        // A link to a directory is followed, as mkdir -p does.
        #expect(symlink(path, root("link")) == 0)
        #expect(try Durable.createDirectory(root("link")) == false)
        #expect(try Durable.createDirectory(root("link/inner")))
        #expect(isDirectory(root("shared/inner")))
    }

    @Test func refusesWhatIsNotADirectory() throws {
        let root = try TemporaryDirectory()
        try write("x", to: root("file"))
        let onFile = #expect(throws: DurableFileError.self) { try Durable.createDirectory(root("file")) }
        #expect(onFile?.code == .notDirectory)
        #expect(onFile?.path == root("file"))
        #expect(onFile?.errorNumber == ENOTDIR)
        #expect(onFile?.message == "\(root("file")) exists and is not a directory")
        // A file where a parent should be.
        let under = #expect(throws: DurableFileError.self) { try Durable.createDirectory(root("file/a/b")) }
        #expect(under?.code == .notDirectory)
        #expect(under?.path == root("file"))
        #expect(contents(of: root("file")) == Array("x".utf8))
        // A dangling link is not a directory either, and is left alone.
        #expect(symlink(root("nowhere"), root("dangling")) == 0)
        let dangling = #expect(throws: DurableFileError.self) { try Durable.createDirectory(root("dangling")) }
        #expect(dangling?.code == .notDirectory)
        #expect(!FileManager.default.fileExists(atPath: root("nowhere")))
    }

    @Test func createsADirectoryRelativeToADescriptor() throws {
        let root = try TemporaryDirectory()
        let parent = open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        #expect(parent >= 0)
        defer { close(parent) }
        try Durable.createDirectory(named: "session", in: parent, path: root("session"))
        #expect(isDirectory(root("session")))
        #expect(mode(of: root("session")) & 0o077 == 0)

        // Anything at the name, even a dangling link, is refused and untouched.
        let again = #expect(throws: DurableFileError.self) {
            try Durable.createDirectory(named: "session", in: parent, path: root("session"))
        }
        #expect(again?.code == .exists)
        #expect(again?.errorNumber == EEXIST)
        #expect(symlink(root("elsewhere"), root("planted")) == 0)
        let planted = #expect(throws: DurableFileError.self) {
            try Durable.createDirectory(named: "planted", in: parent, path: root("planted"))
        }
        #expect(planted?.code == .exists)
        #expect(!FileManager.default.fileExists(atPath: root("elsewhere")))

        // A missing parent is a failure to create.
        let missing = #expect(throws: DurableFileError.self) {
            try Durable.createDirectory(named: "a/b", in: parent, path: root("a/b"))
        }
        #expect(missing?.code == .create)
        #expect(missing?.errorNumber == ENOENT)
    }

    @Test func renamesIntoPlaceReplacingAFile() throws {
        let root = try TemporaryDirectory()
        try write("new", to: root(".target.part"))
        try write("old", to: root("target"))
        try Durable.rename(root(".target.part"), to: root("target"))
        #expect(contents(of: root("target")) == Array("new".utf8))
        #expect(!FileManager.default.fileExists(atPath: root(".target.part")))

        // Across directories of the same file system.
        try Durable.createDirectory(root("other"))
        try Durable.rename(root("target"), to: root("other/target"))
        #expect(contents(of: root("other/target")) == Array("new".utf8))

        let missing = #expect(throws: DurableFileError.self) {
            try Durable.rename(root("absent"), to: root("target"))
        }
        #expect(missing?.code == .rename)
        #expect(missing?.path == root("absent"))
        #expect(missing?.errorNumber == ENOENT)
        #expect(missing?.message == "cannot rename \(root("absent")) to \(root("target")): No such file or directory")
    }

    @Test func publishesAStagedDirectory() throws {
        let root = try TemporaryDirectory()
        try Durable.createDirectory(root(".export.part/blobs"))
        try write("x", to: root(".export.part/blobs/one"))
        try Durable.publishDirectory(root(".export.part"), as: root("export"))
        #expect(contents(of: root("export/blobs/one")) == Array("x".utf8))
        #expect(!FileManager.default.fileExists(atPath: root(".export.part")))

        // An empty directory at the target is replaced; a non-empty one is not, and the staging stays.
        try Durable.createDirectory(root(".second.part"))
        try write("y", to: root(".second.part/file"))
        try Durable.createDirectory(root("empty"))
        try Durable.publishDirectory(root(".second.part"), as: root("empty"))
        #expect(contents(of: root("empty/file")) == Array("y".utf8))
        try Durable.createDirectory(root(".third.part"))
        let refused = #expect(throws: DurableFileError.self) {
            try Durable.publishDirectory(root(".third.part"), as: root("export"))
        }
        #expect(refused?.code == .rename)
        #expect(isDirectory(root(".third.part")))
        #expect(contents(of: root("export/blobs/one")) == Array("x".utf8))
    }

    @Test func flushesDirectoriesAndRefusesWhatIsNone() throws {
        let root = try TemporaryDirectory()
        try Durable.syncDirectory(root.path)
        try Durable.syncDirectory("")
        let missing = #expect(throws: DurableFileError.self) { try Durable.syncDirectory(root("absent")) }
        #expect(missing?.code == .open)
        #expect(missing?.errorNumber == ENOENT)
        try write("x", to: root("file"))
        let file = #expect(throws: DurableFileError.self) { try Durable.syncDirectory(root("file")) }
        #expect(file?.code == .open)
        #expect(file?.errorNumber == ENOTDIR)
        let closed = #expect(throws: DurableFileError.self) { try Durable.sync(-1, path: "nothing") }
        #expect(closed?.code == .flush)
        #expect(closed?.message == "cannot flush nothing: Bad file descriptor")
    }

    @Test(arguments: [
        ("/a/b/c", "/a/b", "c"), ("/a", "/", "a"), ("a", ".", "a"), ("a/b", "a", "b"), ("a/b/", "a", "b"),
        ("/a//b", "/a", "b"), ("/", "/", "/"), ("./x", ".", "x"),
    ])
    func splitsPaths(path: String, parent: String, last: String) {
        #expect(Durable.parentDirectory(of: path) == parent)
        #expect(Durable.lastComponent(of: path) == last)
    }
}
