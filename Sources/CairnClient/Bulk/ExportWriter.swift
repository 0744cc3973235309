import DurableFiles
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where an export is written: a directory, or a tar file when the path ends in `.tar`.
///
/// Either way the files go to a temporary name beside the target first
/// (`.<name>.cairn-<hex>.part`, files 0600 in directories 0700), which
/// becomes the target only when ``publish()`` is called; ``discard()``
/// removes it. Nothing is flushed file by file: ``publish()`` flushes the
/// tar file, or every file of a directory export at once (`syncfs(2)`) and
/// then its directories, before the rename that publishes it.
///
/// The tar file's writes are gathered into pieces of about 1 MiB, so an
/// export of many small contents costs a few system calls per MiB, not
/// three per content.
public final class ExportWriter {
    /// The export's path.
    public let target: String
    /// Whether the export is a tar file.
    public let tar: Bool
    private let staging: String
    private var tarFile: NewFile?
    private var file: NewFile?
    private var buffer: [UInt8] = []
    private var remaining: UInt64 = 0
    private var current: (path: String, size: UInt64)?
    private let modified = Date()

    /// Gathered tar bytes are written once they reach this many.
    static let bufferBytes = 1 << 20

    /// Starts an export at `target`, which must not exist (a tar file) or be an empty directory.
    ///
    /// - Throws: ``BulkTransferError`` ``BulkTransferError/Code/file``.
    public init(target: String) throws(BulkTransferError) {
        self.target = target
        tar = target.hasSuffix(".tar")
        staging = ExportFiles.stagingPath(beside: target)
        if tar {
            guard ExportFiles.status(target) == nil else { throw BulkTransferError(.file, "\(target) already exists") }
            do throws(DurableFileError) { tarFile = try NewFile(creating: staging) } catch {
                throw ExportFiles.failure(error)
            }
        } else {
            if let info = ExportFiles.status(target) {
                guard ExportFiles.isDirectory(info), ExportFiles.isEmptyDirectory(target) else {
                    throw BulkTransferError(.file, "\(target) exists and is not an empty directory")
                }
            }
            let created: Bool
            do throws(DurableFileError) {
                created = try Durable.createDirectory(staging)
                if created { try Durable.createDirectory(ExportFiles.join(staging, "blobs/sha256")) }
            } catch {
                throw ExportFiles.failure(error)
            }
            guard created else { throw BulkTransferError(.file, "\(staging) exists already") }
        }
    }

    deinit {
        file?.close()
        tarFile?.close()
    }

    /// Starts the file `path` of `size` bytes; write exactly that many, then call ``endFile()``.
    public func beginFile(_ path: String, sizeBytes: UInt64) throws(BulkTransferError) {
        if tar {
            let header: [UInt8]
            do { header = try TarArchive.header(name: path, sizeBytes: sizeBytes, modified: modified) } catch {
                throw BulkTransferError(.file, "\(error)")
            }
            try gather(header)
        } else {
            do throws(DurableFileError) {
                file = try NewFile(creating: ExportFiles.join(staging, path))
            } catch {
                throw ExportFiles.failure(error)
            }
        }
        current = (path, sizeBytes)
        remaining = sizeBytes
    }

    /// Writes the next bytes of the current file.
    public func write(_ bytes: [UInt8]) throws(BulkTransferError) {
        guard UInt64(bytes.count) <= remaining else {
            throw BulkTransferError(.inconsistent, "\(current?.path ?? "a file") got more bytes than announced")
        }
        remaining -= UInt64(bytes.count)
        if tar {
            try gather(bytes)
        } else {
            do throws(DurableFileError) { try file!.write(bytes) } catch { throw ExportFiles.failure(error) }
        }
    }

    /// Ends the current file, which must have had all its bytes.
    public func endFile() throws(BulkTransferError) {
        guard let current, remaining == 0 else {
            throw BulkTransferError(.inconsistent, "\(current?.path ?? "a file") is incomplete")
        }
        if tar {
            try gather(TarArchive.padding(after: current.size))
        } else {
            file!.close()
            file = nil
        }
        self.current = nil
    }

    /// Writes a whole small file.
    public func add(_ path: String, _ bytes: [UInt8]) throws(BulkTransferError) {
        try beginFile(path, sizeBytes: UInt64(bytes.count))
        try write(bytes)
        try endFile()
    }

    /// Makes the export the target: flushed, renamed, the directory flushed.
    public func publish() throws(BulkTransferError) {
        if tar {
            try gather(TarArchive.trailer)
        } else {
            try ExportFiles.syncFileSystem(of: staging)
        }
        do throws(DurableFileError) {
            if tar {
                try flushBuffer()
                try tarFile!.publish(as: target)
                tarFile = nil
            } else {
                for directory in ["blobs/sha256", "blobs"] {
                    try Durable.syncDirectory(ExportFiles.join(staging, directory))
                }
                if ExportFiles.status(target) != nil { rmdir(target) }
                try Durable.publishDirectory(staging, as: target)
            }
        } catch {
            throw ExportFiles.failure(error)
        }
    }

    /// Removes what was written; the target is left as it was.
    public func discard() {
        file?.close()
        file = nil
        if let tarFile {
            tarFile.discard()
            self.tarFile = nil
        } else {
            removeTree(staging)
        }
    }

    private func gather(_ bytes: [UInt8]) throws(BulkTransferError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.bufferBytes {
            do throws(DurableFileError) { try flushBuffer() } catch { throw ExportFiles.failure(error) }
        }
    }

    private func flushBuffer() throws(DurableFileError) {
        guard !buffer.isEmpty else { return }
        try tarFile!.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Removes `path` and everything under it, without following links; failures are ignored.
private func removeTree(_ path: String) {
    if let directory = opendir(path) {
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(directory)
        for name in names {
            let child = ExportFiles.join(path, name)
            var info = stat()
            if lstat(child, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { removeTree(child) } else { unlink(child) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

@available(*, unavailable)
extension ExportWriter: Sendable {}
