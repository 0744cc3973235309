import CairnProtocol
import DurableFiles

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few POSIX calls the export files need, with ``BulkTransferError`` failures.
enum ExportFiles {
    /// Up to `count` bytes at `offset` (fewer only at the end of the file), retrying `EINTR`.
    static func read(_ fd: Int32, upTo count: Int, at offset: UInt64) throws(BulkTransferError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read", "a file")
            }
            if result == 0 { break }
            done += result
        }
        bytes.removeSubrange(done...)
        return bytes
    }

    /// The status of `path` (following links), or `nil` when it cannot be had.
    static func status(_ path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }

    static func isDirectory(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFDIR }
    static func isRegular(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFREG }

    /// Whether `path` is a directory with no entries.
    static func isEmptyDirectory(_ path: String) -> Bool {
        guard let directory = opendir(path) else { return false }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { return false }
        }
        return true
    }

    /// `directory/name`.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// `.<name>.cairn-<12 hex digits>.part` beside `target`: where an export is written before it is published.
    static func stagingPath(beside target: String) -> String {
        let hex = (0..<6).map { _ in
            let byte = UInt8.random(in: 0...255)
            return String(byte >> 4, radix: 16) + String(byte & 0xf, radix: 16)
        }.joined()
        return join(Durable.parentDirectory(of: target), ".\(Durable.lastComponent(of: target)).cairn-\(hex).part")
    }

    /// Flushes every file of the file system holding `path` (`syncfs(2)`): one call for the
    /// thousands of small files of a directory export, instead of one `fsync(2)` each.
    static func syncFileSystem(of path: String) throws(BulkTransferError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", path) }
        defer { close(fd) }
        #if canImport(Glibc)
            guard systemSyncfs(fd) == 0 else { throw failure("cannot flush the files of", path) }
        #else
            guard fsync(fd) == 0 else { throw failure("cannot flush", path) }
        #endif
    }

    /// A failed call on `path`, with the reason from `errno`.
    static func failure(_ what: String, _ path: String, errno code: Int32 = errno) -> BulkTransferError {
        BulkTransferError(.file, "\(what) \(path): \(String(cString: strerror(code)))")
    }

    /// A ``DurableFileError`` as a ``BulkTransferError``.
    static func failure(_ error: DurableFileError) -> BulkTransferError {
        BulkTransferError(.file, error.message)
    }
}

#if canImport(Glibc)
    /// `syncfs(2)`, which Glibc's module map does not expose (it is behind `_GNU_SOURCE`).
    @_silgen_name("syncfs")
    private func systemSyncfs(_ fd: Int32) -> Int32
#endif

extension JSONValue {
    /// The value as a non-negative integer, or `nil`.
    var uint64: UInt64? {
        guard case .number(let number) = self, number.isInteger, let value = number.int64, value >= 0 else {
            return nil
        }
        return UInt64(value)
    }
}
