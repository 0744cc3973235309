import DurableFiles
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file-system moves of a materialization session, each relative to an
/// open directory descriptor so that no path is resolved twice.
///
/// Nothing here follows a symbolic link it did not expect: the final
/// component of every directory it opens is opened with `O_NOFOLLOW`, new
/// directories come from `mkdirat` (which fails on anything already there)
/// and new files from `openat` with `O_CREAT | O_EXCL | O_NOFOLLOW`.
/// Directories are 0700 and files 0600 whatever the umask. The directory
/// that gets a new directory is flushed (``Durable``) before the new one is
/// used, so a directory handed out as a result is on the disk.
enum PrivateDirectory {
    /// The name of the directory below `TMPDIR` that holds the sessions.
    static let sessionsName = "cairn-artifacts"

    /// Opens `<base>/cairn-artifacts`, creating it (0700) when absent.
    ///
    /// `base` itself (TMPDIR) is taken as the user names it, links and all.
    /// The sessions directory must be a real directory owned by this user
    /// and writable by nobody else; anything else is refused, untouched.
    static func openSessions(in base: String) throws(MaterializationError) -> Int32 {
        let baseFD = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard baseFD >= 0 else { throw failure("cannot open the temporary directory", base) }
        defer { close(baseFD) }
        let path = join(base, sessionsName)
        var created = false
        do throws(DurableFileError) {
            try Durable.createDirectory(named: sessionsName, in: baseFD, path: path)
            created = true
        } catch let error where error.code == .exists {
            // Someone's: checked below.
        } catch {
            throw failure(error, path)
        }
        let fd = try openDirectory(sessionsName, in: baseFD, path: path)
        do throws(MaterializationError) {
            let info = try status(fd, path)
            if created {
                guard fchmod(fd, 0o700) == 0 else { throw failure("cannot set the mode of", path) }
            } else if info.st_mode & 0o022 != 0 {
                throw MaterializationError(
                    .unsafeDirectory,
                    "\(path) is writable by others (mode \(String(info.st_mode & 0o7777, radix: 8))); refusing to use it"
                )
            }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// Creates the directory `name` in `parent` (it must not exist yet, not
    /// even as a dangling link) with mode 0700, and opens it.
    static func createDirectory(_ name: String, in parent: Int32, path: String) throws(MaterializationError) -> Int32 {
        do throws(DurableFileError) {
            try Durable.createDirectory(named: name, in: parent, path: path)
        } catch let error where error.code == .exists {
            throw MaterializationError(.pathTaken, "\(path) already exists; refusing to write there")
        } catch {
            throw failure(error, path)
        }
        let fd = try openDirectory(name, in: parent, path: path)
        guard fchmod(fd, 0o700) == 0 else {
            close(fd)
            throw failure("cannot set the mode of", path)
        }
        return fd
    }

    /// Creates the session directory `name` (as ``createDirectory(_:in:path:)``)
    /// and takes its advisory lock (`flock`), which marks it as in use
    /// until its descriptor is closed, even when the process is killed.
    static func createSessionDirectory(_ name: String, in sessions: Int32, path: String) throws(MaterializationError)
        -> Int32
    {
        for _ in 0..<3 {
            let fd = try createDirectory(name, in: sessions, path: path)
            guard flock(fd, LOCK_EX) == 0 else {
                let failure = failure("cannot lock", path)
                close(fd)
                unlinkat(sessions, name, AT_REMOVEDIR)
                throw failure
            }
            // Another process's sweep may have taken the directory before it was locked.
            var held = stat()
            var named = stat()
            if fstat(fd, &held) == 0, fstatat(sessions, name, &named, AT_SYMLINK_NOFOLLOW) == 0,
                held.st_dev == named.st_dev, held.st_ino == named.st_ino
            {
                return fd
            }
            close(fd)
        }
        throw MaterializationError(.fileSystem, "\(path) was removed by someone else while it was created")
    }

    /// Removes the session directories in `sessions` that no session holds:
    /// those left by a process that was killed before it could clean up.
    ///
    /// Only directories (never links) named like a session, owned by this
    /// user and not locked are removed, each by descriptor; `keep` (the
    /// name about to be created) is left alone. Best effort: what cannot be
    /// removed stays.
    static func removeAbandonedSessions(in sessions: Int32, path: String, except keep: String) {
        guard let names = try? entries(of: sessions, path: path) else { return }
        for name in names where name != keep && name.utf8.count == 36 && UUID(uuidString: name) != nil {
            let fd = openat(sessions, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_uid == geteuid(), flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            guard (try? removeContents(of: fd, path: join(path, name))) != nil else { continue }
            unlinkat(sessions, name, AT_REMOVEDIR)
        }
    }

    /// Opens the directory at `path`, creating it (0700) when absent; an
    /// existing one must be empty, owned by this user and not a link. Its
    /// mode becomes 0700.
    ///
    /// The directory holding it is taken as the user names it, links and
    /// all; the last component is created and opened relative to it.
    static func openEmptyDirectory(_ path: String) throws(MaterializationError) -> Int32 {
        let parentPath = Durable.parentDirectory(of: path)
        let name = Durable.lastComponent(of: path)
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        // Spelled as when the directory itself could not be made (a missing parent, no permission).
        guard parent >= 0 else { throw failure("cannot create", path) }
        defer { close(parent) }
        do throws(DurableFileError) {
            try Durable.createDirectory(named: name, in: parent, path: path)
        } catch let error where error.code == .exists {
            // Checked below: it must be an empty directory of this user's.
        } catch {
            throw failure(error, path)
        }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw refusal(path) }
        do throws(MaterializationError) {
            _ = try status(fd, path)
            guard try entries(of: fd, path: path).isEmpty else {
                throw MaterializationError(.pathTaken, "\(path) is not empty; refusing to write there")
            }
            guard fchmod(fd, 0o700) == 0 else { throw failure("cannot set the mode of", path) }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// Creates the file `name` in `directory`, exclusively and with mode
    /// 0600, and opens it for writing.
    static func createFile(_ name: String, in directory: Int32, path: String) throws(MaterializationError) -> Int32 {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw MaterializationError(.pathTaken, "\(path) already exists; not overwriting it") }
            throw failure("cannot create", path)
        }
        guard fchmod(fd, 0o600) == 0 else {
            close(fd)
            unlinkat(directory, name, 0)
            throw failure("cannot set the mode of", path)
        }
        return fd
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and `EINTR`.
    static func write(_ bytes: [UInt8], to fd: Int32, path: String) throws(MaterializationError) {
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeBytes { writeSome(fd, $0.baseAddress! + done, bytes.count - done) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw failure("cannot write", path) }
            done += result
        }
    }

    /// Removes everything inside `directory`, descending into directories
    /// by descriptor and never following a link (a link is removed, not
    /// its target).
    static func removeContents(of directory: Int32, path: String) throws(MaterializationError) {
        for name in try entries(of: directory, path: path) {
            if unlinkat(directory, name, 0) == 0 || errno == ENOENT { continue }
            guard errno == EISDIR || errno == EPERM else { throw failure("cannot remove", join(path, name)) }
            let inner = join(path, name)
            let fd = try openDirectory(name, in: directory, path: inner)
            defer { close(fd) }
            try removeContents(of: fd, path: inner)
            guard unlinkat(directory, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
                throw failure("cannot remove", inner)
            }
        }
    }

    /// Closes a descriptor (a name the session's own `close()` does not hide).
    static func closeDescriptor(_ fd: Int32) {
        close(fd)
    }

    /// `directory/name`.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// A failed system call on `path`, with the reason from `errno`.
    static func failure(_ what: String, _ path: String, errno code: Int32 = errno) -> MaterializationError {
        MaterializationError(.fileSystem, "\(what) \(path): \(String(cString: strerror(code)))")
    }

    /// A failed durable step: `cannot create <path>` when the directory was
    /// not made, else the step's own message (a flush of the parent).
    private static func failure(_ error: DurableFileError, _ path: String) -> MaterializationError {
        error.code == .create
            ? failure("cannot create", path, errno: error.errorNumber)
            : MaterializationError(.fileSystem, error.message)
    }

    // MARK: - Helpers

    /// Opens the directory `name` in `parent` without following a link, and
    /// checks that it is a directory owned by this user.
    private static func openDirectory(_ name: String, in parent: Int32, path: String) throws(MaterializationError)
        -> Int32
    {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw refusal(path) }
        do {
            _ = try status(fd, path)
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// The error for a directory that could not be opened: a link or a non-directory is unsafe.
    private static func refusal(_ path: String, errno code: Int32 = errno) -> MaterializationError {
        if code == ELOOP || code == ENOTDIR {
            return MaterializationError(
                .unsafeDirectory, "\(path) is a symbolic link or not a directory; refusing to use it")
        }
        return failure("cannot open", path, errno: code)
    }

    /// The status of an open directory, which must be owned by this user.
    private static func status(_ fd: Int32, _ path: String) throws(MaterializationError) -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot inspect", path) }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw MaterializationError(.unsafeDirectory, "\(path) is not a directory; refusing to use it")
        }
        guard info.st_uid == geteuid() else {
            throw MaterializationError(
                .unsafeDirectory, "\(path) belongs to uid \(info.st_uid), not to this user; refusing to use it")
        }
        return info
    }

    /// The names in a directory, without `.` and `..`.
    private static func entries(of directory: Int32, path: String) throws(MaterializationError) -> [String] {
        // A descriptor of its own, so that reading does not move the caller's position.
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            throw failure("cannot list", path)
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// `write(2)`, named apart from ``PrivateDirectory/write(_:to:path:)``.
private func writeSome(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
