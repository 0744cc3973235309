#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An export being read: a directory or a tar file (see ``ExportWriter``).
///
/// A tar file is opened once and its index read at the start; its files
/// are then read in place with `pread(2)`, never unpacked. A directory is
/// opened once too, and its files are opened relative to it, each once per
/// read (a regular file, its size taken from the open file).
public final class ExportReader {
    /// The export's path.
    public let path: String
    /// The tar file, or the directory.
    private let fd: Int32
    private let tar: Bool
    private let entries: [String: TarArchive.Entry]

    /// An open file of the export: where its bytes start in `fd`, and how many there are.
    private struct OpenFile {
        var fd: Int32
        var start: UInt64
        var size: UInt64
        var owned: Bool
    }

    /// Opens the export at `path`.
    ///
    /// - Throws: ``BulkTransferError`` ``BulkTransferError/Code/file`` when it cannot be read,
    ///   ``BulkTransferError/Code/damagedExport`` for a damaged tar file.
    public init(path: String) throws(BulkTransferError) {
        self.path = path
        guard let info = ExportFiles.status(path) else { throw ExportFiles.failure("cannot read", path) }
        tar = !ExportFiles.isDirectory(info)
        fd = open(path, O_RDONLY | O_CLOEXEC | (tar ? 0 : O_DIRECTORY))
        guard fd >= 0 else { throw ExportFiles.failure("cannot open", path) }
        if tar {
            do { entries = try TarArchive.entries(of: fd, path: path) } catch {
                close(fd)
                throw BulkTransferError(.damagedExport, "\(error)")
            }
        } else {
            entries = [:]
        }
    }

    deinit { close(fd) }

    /// The size of the file `name` of the export, or `nil` when it has none.
    public func size(of name: String) -> UInt64? {
        if tar { return entries[name]?.sizeBytes }
        var info = stat()
        guard fstatat(fd, name, &info, 0) == 0, ExportFiles.isRegular(info) else { return nil }
        return UInt64(info.st_size)
    }

    /// Calls `body` with the bytes of the file `name`, in pieces of at most `piece` bytes (one
    /// empty piece for an empty file).
    ///
    /// - Returns: the file's size.
    /// - Throws: ``BulkTransferError`` ``BulkTransferError/Code/damagedExport`` when the export has
    ///   no such file, or it is shorter than its entry says; what `body` throws.
    @discardableResult
    public func forEachPiece(of name: String, piece: Int, _ body: ([UInt8]) async throws -> Void) async throws
        -> UInt64
    {
        let file = try openFile(name)
        defer { if file.owned { close(file.fd) } }
        var done: UInt64 = 0
        repeat {
            let count = Int(min(UInt64(piece), file.size - done))
            try await body(try read(file, name, count: count, at: done))
            done += UInt64(count)
        } while done < file.size
        return file.size
    }

    /// The whole file `name`: the index, or a content small enough to hold.
    public func contents(of name: String) throws(BulkTransferError) -> [UInt8] {
        let file = try openFile(name)
        defer { if file.owned { close(file.fd) } }
        return try read(file, name, count: Int(file.size), at: 0)
    }

    /// `count` bytes of the file `name` from `offset` on.
    public func range(of name: String, at offset: UInt64, count: Int) throws(BulkTransferError) -> [UInt8] {
        let file = try openFile(name)
        defer { if file.owned { close(file.fd) } }
        guard offset + UInt64(count) <= file.size else {
            throw BulkTransferError(.damagedExport, "\(path) has no \(name) of \(offset + UInt64(count)) bytes")
        }
        return try read(file, name, count: count, at: offset)
    }

    private func openFile(_ name: String) throws(BulkTransferError) -> OpenFile {
        if tar {
            guard let entry = entries[name] else { throw BulkTransferError(.damagedExport, "\(path) has no \(name)") }
            return OpenFile(fd: fd, start: entry.offset, size: entry.sizeBytes, owned: false)
        }
        let file = openat(fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard file >= 0 else {
            if errno == ENOENT { throw BulkTransferError(.damagedExport, "\(path) has no \(name)") }
            throw ExportFiles.failure("cannot open", ExportFiles.join(path, name))
        }
        var info = stat()
        guard fstat(file, &info) == 0, ExportFiles.isRegular(info) else {
            close(file)
            throw BulkTransferError(.damagedExport, "\(name) of \(path) is not a regular file")
        }
        return OpenFile(fd: file, start: 0, size: UInt64(info.st_size), owned: true)
    }

    private func read(_ file: OpenFile, _ name: String, count: Int, at offset: UInt64) throws(BulkTransferError)
        -> [UInt8]
    {
        let bytes: [UInt8]
        do { bytes = try ExportFiles.read(file.fd, upTo: count, at: file.start + offset) } catch {
            throw BulkTransferError(.file, "cannot read \(name) of \(path): \(error.message)")
        }
        guard bytes.count == count else { throw BulkTransferError(.damagedExport, "\(name) of \(path) is truncated") }
        return bytes
    }
}

@available(*, unavailable)
extension ExportReader: Sendable {}
