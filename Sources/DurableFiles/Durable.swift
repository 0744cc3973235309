#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Directory steps that survive a power loss once they return: private
/// directories whose parents are flushed, renames whose directories are
/// flushed, and the flushes themselves.
///
/// A new directory entry (a file, a directory, a rename's target) is
/// durable only once the directory holding it has been flushed with
/// `fsync(2)`; flushing the file itself does not do it. Every function here
/// that adds an entry flushes the directory that got it before returning,
/// so a caller that reports a result after one of them reports something
/// that is on the disk. New files are ``NewFile``.
///
/// Nothing here removes anything, follows a caller's cleanup, or decides
/// whether an existing directory is acceptable beyond its being a directory:
/// emptiness, ownership and link checks stay with the callers, who know
/// their rules.
public enum Durable {
    /// The mode of every directory created here.
    public static let directoryMode: mode_t = 0o700

    /// Creates the directory `path` with mode 0700, and any missing parent
    /// too (each 0700), flushing the parent of every directory it creates.
    ///
    /// An existing directory is accepted as it is (its mode is not
    /// changed); links to directories are followed, as `mkdir -p` does.
    /// A directory is flushed only when an entry was added to it, so
    /// creating nothing flushes nothing.
    ///
    /// - Parameter path: the directory to create, absolute or relative to
    ///   the working directory.
    /// - Returns: whether `path` itself was created (`false` when it existed).
    /// - Throws: ``DurableFileError`` ``DurableFileError/Code/notDirectory``
    ///   when `path` or one of its parents exists and is not a directory;
    ///   ``DurableFileError/Code/create``, ``DurableFileError/Code/setMode``
    ///   or ``DurableFileError/Code/flush`` when a step failed (directories
    ///   created before the failure stay).
    @discardableResult
    public static func createDirectory(_ path: String) throws(DurableFileError) -> Bool {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw notDirectory(path) }
            return false
        }
        guard errno == ENOENT || errno == ENOTDIR else { throw .failure(.create, path) }
        let parent = parentDirectory(of: path)
        if parent != path && parent != "." && parent != "/" {
            try createDirectory(parent)
        }
        guard mkdir(path, directoryMode) == 0 else {
            if errno == EEXIST {
                // Created by someone else meanwhile: fine when it is a directory.
                guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { throw notDirectory(path) }
                return false
            }
            if errno == ENOTDIR { throw notDirectory(parent) }
            throw .failure(.create, path)
        }
        // A umask that takes owner bits away would leave less than 0700.
        if lstat(path, &info) == 0, info.st_mode & 0o7777 != directoryMode {
            guard chmod(path, directoryMode) == 0 else { throw .failure(.setMode, path) }
        }
        try syncDirectory(parent)
        return true
    }

    /// Creates the directory `name` in the open directory `parent` with
    /// `mkdirat(2)` (mode 0700 minus the umask) and flushes `parent`.
    ///
    /// Relative to a descriptor, so no path is resolved again: for callers
    /// that open each directory on the way themselves, without following
    /// links. It neither opens the new directory nor sets its mode; do both
    /// by descriptor (`openat` with `O_NOFOLLOW`, `fchmod`).
    ///
    /// - Parameters:
    ///   - name: a single path component.
    ///   - parent: an open directory descriptor (it must allow reading, to
    ///     be flushed).
    ///   - path: the new directory's path, for errors only.
    /// - Throws: ``DurableFileError`` ``DurableFileError/Code/exists`` when
    ///   anything, even a dangling link, has the name (nothing is flushed
    ///   then); ``DurableFileError/Code/create`` or
    ///   ``DurableFileError/Code/flush`` (the directory stays) otherwise.
    public static func createDirectory(named name: String, in parent: Int32, path: String)
        throws(DurableFileError)
    {
        guard mkdirat(parent, name, directoryMode) == 0 else {
            throw .failure(errno == EEXIST ? .exists : .create, path)
        }
        try sync(parent, path: parentDirectory(of: path))
    }

    /// Renames the file or directory `source` to `target` and flushes the
    /// directory holding `target` (and the one `source` left, when it is
    /// another).
    ///
    /// `rename(2)` replaces an existing `target` file (or empty directory)
    /// atomically. What is renamed must already be durable: a file flushed
    /// (``NewFile/publish(as:)`` does both), a directory's entries flushed
    /// (``publishDirectory(_:as:)``).
    ///
    /// - Throws: ``DurableFileError`` ``DurableFileError/Code/rename`` (with
    ///   `source` as its path) when the rename failed and nothing moved;
    ///   ``DurableFileError/Code/open`` or ``DurableFileError/Code/flush``
    ///   when it happened but may not survive a power loss.
    public static func rename(_ source: String, to target: String) throws(DurableFileError) {
        guard renameEntry(source, target) == 0 else {
            let number = errno
            throw DurableFileError(
                .rename, path: source, errorNumber: number,
                message: "cannot rename \(source) to \(target): \(String(cString: strerror(number)))")
        }
        let targetDirectory = parentDirectory(of: target)
        try syncDirectory(targetDirectory)
        let sourceDirectory = parentDirectory(of: source)
        if sourceDirectory != targetDirectory { try syncDirectory(sourceDirectory) }
    }

    /// Makes the staged directory `staging` the directory `target`: flushes
    /// `staging` (its own entries), renames it and flushes the parent.
    ///
    /// Files in `staging` must have been flushed when written, and any
    /// subdirectory's entries flushed (``createDirectory(_:)`` flushes each
    /// new directory's parent; ``syncDirectory(_:)`` flushes one after
    /// files were added to it). Nothing here walks the tree.
    ///
    /// - Throws: ``DurableFileError`` as ``rename(_:to:)``, or
    ///   ``DurableFileError/Code/flush`` of `staging` before anything moved.
    public static func publishDirectory(_ staging: String, as target: String) throws(DurableFileError) {
        try syncDirectory(staging)
        try rename(staging, to: target)
    }

    /// Flushes the directory at `path`, so that entries added to it, removed
    /// from it or renamed in it survive a power loss.
    ///
    /// - Parameter path: the directory; empty means the working directory.
    /// - Throws: ``DurableFileError`` ``DurableFileError/Code/open`` or
    ///   ``DurableFileError/Code/flush``.
    public static func syncDirectory(_ path: String) throws(DurableFileError) {
        let name = path.isEmpty ? "." : path
        let fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .failure(.open, name) }
        defer { close(fd) }
        try sync(fd, path: name)
    }

    /// Flushes the open file or directory `fd` with `fsync(2)`.
    ///
    /// `EINTR` is retried. `EINVAL` (a file system that cannot flush this
    /// kind of file, such as some directories on FUSE) counts as flushed:
    /// there is nothing more this process could do.
    ///
    /// - Parameter path: what `fd` is, for errors only.
    public static func sync(_ fd: Int32, path: String) throws(DurableFileError) {
        while fsync(fd) != 0 {
            switch errno {
            case EINTR: continue
            case EINVAL: return
            default: throw .failure(.flush, path)
            }
        }
    }

    /// The directory holding `path`'s last component, as spelled in `path`:
    /// `.` for a bare name, `/` for a component of the root; trailing
    /// slashes are ignored.
    public static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        var head = trimmed[..<slash]
        while head.hasSuffix("/") { head.removeLast() }
        return head.isEmpty ? "/" : String(head)
    }

    /// `path`'s last component, trailing slashes ignored (`/` for the root).
    public static func lastComponent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard trimmed != "/", let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    private static func notDirectory(_ path: String) -> DurableFileError {
        DurableFileError(
            .notDirectory, path: path, errorNumber: ENOTDIR, message: "\(path) exists and is not a directory")
    }
}

/// `rename(2)`, named apart from ``Durable/rename(_:to:)``.
private func renameEntry(_ source: String, _ target: String) -> Int32 {
    rename(source, target)
}
