import ArgumentParser
import CFileWriteback
import CairnClient
import CairnProtocol
import DurableFiles
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `cairn get ID [-o FILE]`: writes an artifact's content, verified.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Write an artifact's content to a file or standard output, checking its sha256.",
        discussion: """
            With -o FILE the content goes to a temporary file next to FILE, which replaces FILE only \
            once every byte has arrived and the sha256 matches; on any failure FILE is left as it was \
            and the temporary file is removed. Without -o (or with -o -) the bytes go to standard \
            output as they arrive, which cannot be taken back: on a failure the exit status is non-zero \
            and what was written must be discarded. The same holds for -o naming something that is not \
            a regular file, such as /dev/stdout, a device or a FIFO: it is written in place, never replaced.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Argument(help: ArgumentHelp("The artifact id.", valueName: "id"))
    var id: String

    @Option(
        name: [.short, .customLong("output")], help: ArgumentHelp("Write to this file, atomically.", valueName: "file"))
    var output: String?

    func validate() throws {
        _ = try Names.artifactId(id)
        if let output, output != "-", let info = FileIO.status(path: output), FileIO.isDirectory(info) {
            throw ValidationError("\(output) is a directory")
        }
    }

    func run() async throws {
        let artifactId = try Names.artifactId(id)
        guard let output, output != "-" else {
            try await streamed(artifactId, to: 1, named: "standard output")
            return
        }
        if let existing = FileIO.status(path: output), !FileIO.isRegular(existing) {
            // A device or FIFO (`-o /dev/stdout`) cannot be replaced by a rename.
            let fd = open(output, O_WRONLY | O_NOCTTY | O_CLOEXEC)
            guard fd >= 0 else { throw LocalFailure.system("cannot open", output) }
            defer { close(fd) }
            try await streamed(artifactId, to: fd, named: output)
            return
        }
        var staged = try StagedFile(replacing: output)
        let meta: ArtifactInfo
        do {
            meta = try await client.withClient { connection in
                try await download(artifactId, with: connection) { bytes in try staged.write(bytes) }
            }
            try staged.publish()
        } catch {
            staged.discard()
            throw error
        }
        if client.json {
            Output.json(meta.json)
        } else {
            let size = meta.sizeBytes >= 1024 ? " (\(Output.bytes(meta.sizeBytes)))" : ""
            Output.line("wrote \(meta.sizeBytes) bytes\(size) to \(output) (sha256 \(meta.sha256), verified)")
        }
    }

    /// Writes the content to `fd` as it arrives: nothing can be taken back.
    private func streamed(_ artifactId: String, to fd: Int32, named name: String) async throws {
        do {
            _ = try await client.withClient { connection in
                try await download(artifactId, with: connection, toTerminal: isatty(fd) != 0) { bytes in
                    var bytes = bytes
                    do {
                        try FileIO.writeAll(fd, &bytes)
                    } catch {
                        throw LocalFailure("cannot write to \(name): \(error)")
                    }
                }
            }
        } catch let exit as ExitCode where exit == Failure.Status.verification {
            Output.error("cairn: the bytes already written to \(name) are not the artifact's; discard them")
            throw exit
        }
    }

    /// Downloads with a progress bar when one is wanted; the client checks size and digest at the end.
    private func download(
        _ artifactId: String, with connection: CairnClient, toTerminal: Bool = false,
        _ sink: ([UInt8]) throws -> Void
    ) async throws -> ArtifactInfo {
        // Not over content going to the terminal the bar would be drawn on.
        let showProgress = !toTerminal && ProgressBar.shouldShow(json: client.json)
        let meta = try await connection.meta(tenant: tenant.name, artifactId: artifactId)
        var progress: ProgressBar? = nil
        if showProgress {
            let label =
                output.flatMap { $0 == "-" ? nil : ($0 as NSString).lastPathComponent } ?? String(artifactId.prefix(8))
            progress = ProgressBar(label: label, total: meta.sizeBytes, enabled: true)
        }
        defer { progress?.interrupt() }
        var received: UInt64 = 0
        _ = try await connection.download(meta) { bytes in
            try sink(bytes)
            received += UInt64(bytes.count)
            progress?.update(received)
        }
        progress?.finish()
        return meta
    }
}

/// The content of a `get -o FILE` on its way: a temporary file beside FILE
/// that becomes FILE only through ``publish()``.
///
/// The temporary file is a ``NewFile`` created exclusively (`O_CREAT|O_EXCL`,
/// mode 0600) in FILE's directory, so the final `rename(2)` is atomic and
/// nobody else can read a partial download. ``publish()`` flushes it to disk,
/// gives it FILE's current mode (or the umask's default for a new file),
/// renames it over FILE and flushes the directory; ``discard()`` removes it.
/// Every path that does not publish must discard.
///
/// While the download goes on, the bytes written are sent on to the disk
/// every ``writebackBytes`` (`sync_file_range(2)`, which starts the writes
/// and does not wait for them), so that the disk writes while the rest
/// arrives and is verified, and the flush in ``publish()`` has little left
/// to wait for. Nothing about durability changes: only ``publish()``'s
/// flush, after the digest check, makes the file durable, and the rename
/// comes after it.
struct StagedFile {
    let target: String
    let temporary: String
    private let file: NewFile
    /// Bytes written in all.
    private var written: Int64 = 0
    /// Where the bytes not yet sent on to the disk start.
    private var writebackStart: Int64 = 0

    /// How many written bytes are sent on to the disk at a time.
    static let writebackBytes: Int64 = 8 << 20

    init(replacing target: String) throws {
        self.target = target
        do throws(DurableFileError) {
            file = try NewFile.beside(target)
        } catch {
            throw LocalFailure.system("cannot create a file beside", target, errno: error.errorNumber)
        }
        temporary = file.path
    }

    /// Appends bytes to the temporary file, and starts writing them to the disk every ``writebackBytes``.
    mutating func write(_ bytes: [UInt8]) throws {
        do throws(DurableFileError) {
            try file.write(bytes)
        } catch {
            throw LocalFailure("cannot write \(temporary): \(error.reason)")
        }
        written += Int64(bytes.count)
        if written - writebackStart >= Self.writebackBytes {
            // Only a hint: where it fails, the flush in publish() does all the work, as it always may.
            _ = cairn_start_writeback(file.descriptor, writebackStart, written - writebackStart)
            writebackStart = written
        }
    }

    /// Makes the temporary file FILE: mode, fsync, rename, directory fsync.
    mutating func publish() throws {
        let mode: mode_t
        if let existing = FileIO.status(path: target), FileIO.isRegular(existing) {
            mode = existing.st_mode & 0o7777
        } else {
            let mask = umask(0o077)
            umask(mask)
            mode = 0o666 & ~mask
        }
        do throws(DurableFileError) {
            try file.setMode(mode)
        } catch {
            throw LocalFailure.system("cannot set the mode of", temporary, errno: error.errorNumber)
        }
        do throws(DurableFileError) {
            try file.publish(as: target)
        } catch let error where error.code == .rename {
            throw LocalFailure.system("cannot rename the download to", target, errno: error.errorNumber)
        } catch let error where error.code == .flush && error.path == temporary {
            throw LocalFailure.system("cannot flush", temporary, errno: error.errorNumber)
        } catch {
            throw LocalFailure(error.message)
        }
    }

    /// Removes the temporary file; after a successful ``publish()`` there is nothing left to remove.
    mutating func discard() {
        file.discard()
    }
}
