import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed system call: its `errno`.
struct SystemError: Error, CustomStringConvertible {
    let code: Int32

    init(_ code: Int32 = errno) {
        self.code = code
    }

    var description: String { String(cString: strerror(code)) }
}

/// Thin POSIX file-descriptor I/O with the loops every caller would
/// otherwise repeat: partial reads and writes, `EINTR`.
enum FileIO {
    /// Writes all of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: inout [UInt8]) throws(SystemError) {
        var written = 0
        let count = bytes.count
        let failure: Int32? = bytes.withUnsafeBytes { buffer in
            while written < count {
                let result = write(fd, buffer.baseAddress! + written, count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return nil
        }
        if let failure { throw SystemError(failure) }
    }

    /// Reads up to `count` bytes from the current position, fewer only at the end of the input.
    static func read(_ fd: Int32, upTo count: Int) throws(SystemError) -> [UInt8] {
        try fill(count) { buffer, filled in
            readSome(fd, buffer + filled, count - filled)
        }
    }

    /// Reads up to `count` bytes at `offset`, fewer only at the end of the file.
    static func read(_ fd: Int32, upTo count: Int, at offset: UInt64) throws(SystemError) -> [UInt8] {
        try fill(count) { buffer, filled in
            pread(fd, buffer + filled, count - filled, off_t(offset) + off_t(filled))
        }
    }

    private static func fill(
        _ count: Int, _ readSome: (UnsafeMutableRawPointer, Int) -> Int
    ) throws(SystemError) -> [UInt8] {
        var failure: Int32? = nil
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var filled = 0
            while filled < count {
                let result = readSome(UnsafeMutableRawPointer(buffer.baseAddress!), filled)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if result == 0 { break }
                filled += result
            }
            initialized = filled
        }
        if let failure { throw SystemError(failure) }
        return bytes
    }

    /// The file's status, or the error.
    static func status(_ fd: Int32) throws(SystemError) -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError() }
        return info
    }

    /// The status of the file at `path` (following symlinks), or `nil` when there is none.
    static func status(path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }

    /// Whether a `stat` describes a regular file.
    static func isRegular(_ info: stat) -> Bool {
        (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Whether a `stat` describes a directory.
    static func isDirectory(_ info: stat) -> Bool {
        (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The modification time in nanoseconds since 1970.
    static func modificationNanoseconds(_ info: stat) -> Int64 {
        #if canImport(Darwin)
            Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #else
            Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #endif
    }

    /// `path` made absolute against the working directory, with `.` and `..` resolved textually.
    static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return url.standardizedFileURL.path
    }

    /// Random lowercase hex, for names that must not collide.
    static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// `read(2)`, named apart from ``FileIO/read(_:upTo:)``.
private func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}
