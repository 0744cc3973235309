import CairnDigest
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files the CLI writes for its user (backups, exports, restored data
/// directories): directories 0700, files 0600, created exclusively, never
/// opened if they exist, and flushed to disk.
enum PrivateFiles {
    /// Creates `path` (and missing parents) with mode 0700, or accepts an
    /// existing empty directory; anything else is a ``LocalFailure``.
    static func createEmptyDirectory(_ path: String) throws {
        if let info = FileIO.status(path: path) {
            guard FileIO.isDirectory(info),
                (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true
            else { throw LocalFailure("\(path) exists and is not an empty directory") }
            return
        }
        try createDirectory(path)
    }

    /// Creates `path` and missing parents with mode 0700; an existing directory is fine.
    static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LocalFailure("cannot create the directory \(path): \(error.localizedDescription)")
        }
    }

    /// Writes `bytes` to the new file `path` (mode 0600) and flushes it.
    static func write(_ bytes: [UInt8], to path: String) throws {
        var writer = try Writer(creating: path)
        defer { writer.close() }
        try writer.write(bytes)
        try writer.finish()
    }

    /// The size and SHA-256 of the file at `path`.
    static func digest(of path: String) throws -> (sizeBytes: UInt64, sha256: SHA256Digest) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LocalFailure.system("cannot open", path) }
        defer { close(fd) }
        var hasher = SHA256Hasher()
        var size: UInt64 = 0
        while true {
            let bytes: [UInt8]
            do { bytes = try FileIO.read(fd, upTo: 4 << 20) } catch {
                throw LocalFailure("cannot read \(path): \(error)")
            }
            if bytes.isEmpty { break }
            hasher.update(bytes)
            size += UInt64(bytes.count)
        }
        return (size, hasher.finalize())
    }

    /// A new file being written: created with `O_CREAT|O_EXCL` and mode 0600.
    struct Writer {
        let path: String
        private(set) var fd: Int32

        init(creating path: String) throws {
            self.path = path
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw LocalFailure.system("cannot create", path) }
        }

        /// Appends `bytes`.
        mutating func write(_ bytes: [UInt8]) throws {
            var bytes = bytes
            do { try FileIO.writeAll(fd, &bytes) } catch { throw LocalFailure("cannot write \(path): \(error)") }
        }

        /// Flushes the file to disk.
        func finish() throws {
            guard fsync(fd) == 0 else { throw LocalFailure.system("cannot flush", path) }
        }

        /// Closes the file; idempotent.
        mutating func close() {
            if fd >= 0 { closeDescriptor(fd) }
            fd = -1
        }
    }

    /// Flushes a directory, so that a rename or a new file in it is durable.
    static func syncDirectory(_ path: String) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }
}

/// `close(2)`, named apart from ``PrivateFiles/Writer/close()``.
private func closeDescriptor(_ fd: Int32) {
    close(fd)
}
