import CairnDigest
import DurableFiles
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files the CLI writes for its user (backups, exports, restored data
/// directories): directories 0700, files 0600, created exclusively, never
/// opened if they exist, and flushed to disk together with the directory
/// entries that name them (``Durable``, ``NewFile``). Failures are
/// ``LocalFailure``s.
enum PrivateFiles {
    /// Creates `path` (and missing parents) with mode 0700, or accepts an
    /// existing empty directory; anything else is a ``LocalFailure``. The
    /// parent of each directory created is flushed.
    static func createEmptyDirectory(_ path: String) throws {
        if let info = FileIO.status(path: path) {
            guard FileIO.isDirectory(info),
                (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true
            else { throw LocalFailure("\(path) exists and is not an empty directory") }
            return
        }
        try createDirectory(path)
    }

    /// Creates `path` and missing parents with mode 0700, flushing the parent
    /// of each; an existing directory is fine.
    static func createDirectory(_ path: String) throws {
        do throws(DurableFileError) {
            try Durable.createDirectory(path)
        } catch {
            throw LocalFailure("cannot create the directory \(path): \(error.reason)")
        }
    }

    /// Writes `bytes` to the new file `path` (mode 0600) and flushes it and
    /// its directory.
    static func write(_ bytes: [UInt8], to path: String) throws {
        var writer = try Writer(creating: path)
        defer { writer.close() }
        try writer.write(bytes)
        try writer.commit()
    }

    /// Writes `bytes` under a temporary name beside `path` and publishes
    /// them as `path`: flushed, renamed, the directory flushed. Readers,
    /// also after a power loss, see the whole file or none.
    static func publish(_ bytes: [UInt8], as path: String) throws {
        let file: NewFile
        do throws(DurableFileError) {
            file = try NewFile.beside(path)
        } catch {
            throw LocalFailure.system("cannot create a file beside", path, errno: error.errorNumber)
        }
        do throws(DurableFileError) {
            try file.write(bytes)
            try file.publish(as: path)
        } catch {
            file.discard()
            throw LocalFailure(error.message)
        }
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

    /// A new file being written (a ``NewFile``): created with
    /// `O_CREAT|O_EXCL` and mode 0600, its failures ``LocalFailure``s.
    struct Writer {
        let path: String
        private let file: NewFile

        init(creating path: String) throws {
            self.path = path
            do throws(DurableFileError) { file = try NewFile(creating: path) } catch {
                throw LocalFailure.system("cannot create", path, errno: error.errorNumber)
            }
        }

        /// Appends `bytes`.
        mutating func write(_ bytes: [UInt8]) throws {
            do throws(DurableFileError) { try file.write(bytes) } catch {
                throw LocalFailure("cannot write \(path): \(error.reason)")
            }
        }

        /// Flushes the file to disk; its directory entry is made durable by
        /// a later flush of the directory (or by ``commit()``).
        func finish() throws {
            do throws(DurableFileError) { try file.sync() } catch {
                throw LocalFailure.system("cannot flush", path, errno: error.errorNumber)
            }
        }

        /// Flushes the file, closes it and flushes its directory.
        func commit() throws {
            do throws(DurableFileError) { try file.commit() } catch { throw LocalFailure(error.message) }
        }

        /// Flushes the file, closes it, renames it to `target` and flushes the directory.
        ///
        /// - Parameter what: what the file is, for the message of a failed
        ///   rename: `cannot rename <what> to <target>: <reason>`.
        func publish(as target: String, naming what: String) throws {
            do throws(DurableFileError) {
                try file.publish(as: target)
            } catch let error where error.code == .rename {
                throw LocalFailure.system("cannot rename \(what) to", target, errno: error.errorNumber)
            } catch {
                throw LocalFailure(error.message)
            }
        }

        /// Closes the file; idempotent.
        mutating func close() {
            file.close()
        }
    }

    /// Flushes a directory, so that a rename or a new file in it is durable.
    static func syncDirectory(_ path: String) throws {
        do throws(DurableFileError) { try Durable.syncDirectory(path) } catch { throw LocalFailure(error.message) }
    }
}
