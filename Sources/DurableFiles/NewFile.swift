#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file being written that did not exist before: created exclusively
/// (`O_CREAT | O_EXCL`, never through an existing name or link) with mode
/// 0600, and made durable in one of two ways.
///
/// - ``publish(as:)`` for a file written under a temporary name: flush the
///   file, close it, rename it over its final name, flush the directory.
///   Readers see either the old file or the whole new one, also after a
///   power loss.
/// - ``commit()`` for a file created under its final name (inside a
///   directory that is itself published later, or whose completeness is
///   marked by another file): flush the file, close it, flush its
///   directory.
///
/// Every path that neither publishes nor commits must ``discard()``, which
/// closes and removes the file; a file dropped without any of them is
/// closed but left where it is. Not `Sendable`: one task writes one file.
///
/// ```swift
/// let file = try NewFile.beside("/srv/export/EXPORT.json")
/// do {
///     try file.write(bytes)
///     try file.publish(as: "/srv/export/EXPORT.json")
/// } catch {
///     file.discard()
///     throw error
/// }
/// ```
public final class NewFile {
    /// Where the file is now: its temporary name until ``publish(as:)``, its
    /// final name afterwards.
    public private(set) var path: String
    /// The open descriptor, or -1 once closed.
    public private(set) var descriptor: Int32
    private var published = false

    /// The mode of every file created here.
    public static let fileMode: mode_t = 0o600

    /// Creates the file `path`, which must not exist, with mode 0600
    /// whatever the umask, and opens it for writing.
    ///
    /// - Throws: ``DurableFileError`` ``DurableFileError/Code/exists`` when
    ///   anything has the name (it is not touched), else
    ///   ``DurableFileError/Code/create`` or ``DurableFileError/Code/setMode``.
    public init(creating path: String) throws(DurableFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, NewFile.fileMode)
        guard fd >= 0 else { throw .failure(errno == EEXIST ? .exists : .create, path) }
        var info = stat()
        if fstat(fd, &info) != 0 || info.st_mode & 0o7777 != NewFile.fileMode {
            guard fchmod(fd, NewFile.fileMode) == 0 else {
                let failure = DurableFileError.failure(.setMode, path)
                closeDescriptor(fd)
                unlink(path)
                throw failure
            }
        }
        self.path = path
        descriptor = fd
    }

    /// Creates a new file with a temporary name beside `target`, in the same
    /// directory (so that ``publish(as:)`` is one atomic rename):
    /// `.<name>.cairn-<12 hex digits>.part`.
    ///
    /// - Throws: ``DurableFileError`` as ``init(creating:)``, after 16 names
    ///   that were all taken, or at the first other failure.
    public static func beside(_ target: String) throws(DurableFileError) -> NewFile {
        let directory = Durable.parentDirectory(of: target)
        let name = Durable.lastComponent(of: target)
        var attempt = 0
        while true {
            let candidate = (directory == "/" ? "/" : directory + "/") + ".\(name).cairn-\(randomHex(6)).part"
            do throws(DurableFileError) {
                return try NewFile(creating: candidate)
            } catch let error where error.code == .exists && attempt < 15 {
                attempt += 1
            }
        }
    }

    deinit {
        close()
    }

    /// Appends `bytes`, retrying short writes and `EINTR`.
    ///
    /// - Throws: ``DurableFileError`` ``DurableFileError/Code/write``.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(DurableFileError) {
        var done = 0
        while done < bytes.count {
            let result = writeSome(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if result < 0 {
                if errno == EINTR { continue }
                throw .failure(.write, path)
            }
            done += result
        }
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws(DurableFileError) {
        let failure = bytes.withUnsafeBytes { buffer -> DurableFileError? in
            do throws(DurableFileError) {
                try write(buffer)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Sets the file's mode (e.g. that of the file it is to replace).
    public func setMode(_ mode: mode_t) throws(DurableFileError) {
        guard fchmod(descriptor, mode) == 0 else { throw .failure(.setMode, path) }
    }

    /// Flushes the file's bytes to disk, without its directory entry (see
    /// ``commit()``).
    public func sync() throws(DurableFileError) {
        try Durable.sync(descriptor, path: path)
    }

    /// Makes the file durable under the name it has: flushes it, closes it
    /// and flushes its directory.
    public func commit() throws(DurableFileError) {
        try sync()
        close()
        try Durable.syncDirectory(Durable.parentDirectory(of: path))
        published = true
    }

    /// Makes the file `target`: flushes it, closes it, renames it over
    /// `target` (replacing a file there) and flushes the directory.
    ///
    /// `target` should be in the same directory (``beside(_:)``), so that
    /// the rename is atomic. After a failure the file keeps its name and
    /// ``discard()`` removes it, unless the rename itself had happened.
    ///
    /// - Throws: ``DurableFileError`` of the step that failed:
    ///   ``DurableFileError/Code/flush`` of the file,
    ///   ``DurableFileError/Code/rename``, or ``DurableFileError/Code/flush``
    ///   of the directory (the file is `target` then, but may not survive a
    ///   power loss).
    public func publish(as target: String) throws(DurableFileError) {
        try sync()
        close()
        do throws(DurableFileError) {
            try Durable.rename(path, to: target)
        } catch {
            // Only a failed rename leaves the file under its own name; after a failed flush of the
            // directory it is `target` already, and discarding must not remove it.
            if error.code != .rename {
                path = target
                published = true
            }
            throw error
        }
        path = target
        published = true
    }

    /// Closes the file, if open; idempotent.
    public func close() {
        if descriptor >= 0 { closeDescriptor(descriptor) }
        descriptor = -1
    }

    /// Closes the file and removes it, unless it was committed or published.
    public func discard() {
        close()
        if !published { unlink(path) }
    }
}

@available(*, unavailable)
extension NewFile: Sendable {}

/// `close(2)`, named apart from `NewFile.close()`.
private func closeDescriptor(_ fd: Int32) {
    close(fd)
}

/// `write(2)`, named apart from `NewFile.write(_:)`.
private func writeSome(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// `count` random bytes as lowercase hex.
private func randomHex(_ count: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    let digits = Array("0123456789abcdef")
    var text = ""
    for _ in 0..<count {
        let byte = UInt8.random(in: 0...255, using: &generator)
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xf)])
    }
    return text
}
