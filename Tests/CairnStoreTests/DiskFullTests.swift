import CairnDigest
import CairnStore
import Foundation
import Testing

/// A full disk is STORE_FULL with nothing written, at any size, and only
/// when the disk is really full: the data file is allocated up to the map
/// size before LMDB writes there, so a commit never meets the full disk
/// halfway (without the allocation, LMDB reports the short write as `EIO`,
/// which the store can only call INTERNAL); the map starts no larger than
/// the disk holds and grows by what still fits.
///
/// Every test runs with the store's default settings and mounts a small
/// file system of its own (a size-limited tmpfs, a loop-mounted ext4
/// image), so the suite runs only as root where `mount` works.
@Suite(.serialized, .enabled(if: SmallFileSystem.available, "needs root and mount(8)"))
struct DiskFullTests {
    let acme = tenant("acme")

    /// Fills file systems of several sizes with uploads until the disk is
    /// full: every refusal is STORE_FULL, and the first comes only once 90%
    /// of the file system holds artifact bytes or the artifact does not fit.
    /// Reads go on, a delete makes room for the next upload, and after a
    /// restart every blob verifies and usage is exact.
    @Test(arguments: [
        (SmallFileSystem.Kind.tmpfs, 48), (.ext4, 48), (.tmpfs, 200), (.ext4, 200), (.tmpfs, 700), (.ext4, 700),
        (.tmpfs, 4096),
    ])
    func theDiskFillsToNinetyPercentWithDefaults(_ kind: SmallFileSystem.Kind, _ megabytes: Int) async throws {
        let fileSystem = try SmallFileSystem(kind, megabytes: megabytes)
        let directory = fileSystem.path + "/store"
        let size = max(chunkBytes, (megabytes << 20) / 32)
        let filler = ContentFiller(seed: UInt64(megabytes))
        var stored: [(id: UUID, size: Int, index: UInt64)] = []
        do {
            let store = try ArtifactStore.open(directory: directory, logger: quietLogger)
            #expect(store.allocatesMap, "\(kind): the store does not allocate its map")
            #expect(try store.health().headroomBytes >= fileSystem.sizeBytes * 9 / 10)

            // Large artifacts until one is refused, then small ones to fill what is left.
            for artifactSize in [size, 64 << 10] {
                while true {
                    let index = UInt64(stored.count)
                    do {
                        let id = try await filler.upload(store, acme, size: artifactSize, index: index)
                        stored.append((id, artifactSize, index))
                    } catch let error as StoreError {
                        #expect(error.code == .storeFull, "\(kind) \(megabytes) MiB: \(error)")
                        break
                    }
                }
            }
            let storedBytes = stored.reduce(0) { $0 + UInt64($1.size) }
            #expect(
                storedBytes >= fileSystem.sizeBytes * 9 / 10,
                "\(kind) \(megabytes) MiB: full at \(storedBytes) bytes of \(fileSystem.sizeBytes)")
            // What is left is free pages scattered through the map, too few in a row for another chunk.
            #expect(try store.health().headroomBytes < fileSystem.sizeBytes / 50)

            // Reads go on, and a delete makes room: for an artifact of half its size at once
            // (pages that copy-on-write takes for the trees' own updates come out of what it
            // freed, so not all of it stays in runs of a chunk), and a second one for an
            // artifact as large as the first.
            for victim in stored.prefix(2) {
                #expect(try readAll(store, acme, victim.id) == filler.content(size: victim.size, index: victim.index))
            }
            #expect(try await store.delete(tenant: acme, artifactId: stored[0].id, actor: alice))
            let half = try await filler.upload(store, acme, size: size / 2, index: 1_000_000)
            #expect(try await store.delete(tenant: acme, artifactId: stored[1].id, actor: alice))
            let whole = try await filler.upload(store, acme, size: size, index: 1_000_001)
            stored.removeFirst(2)
            stored += [(half, size / 2, 1_000_000), (whole, size, 1_000_001)]
            #expect(try readAll(store, acme, whole) == filler.content(size: size, index: 1_000_001))
            try store.flush()
        }
        do {
            let store = try ArtifactStore.open(directory: directory, logger: quietLogger)
            try expectAllBlobsVerify(store, acme)
            let usage = try store.usage(tenant: acme)
            #expect(usage.artifactCount == UInt64(stored.count))
            #expect(usage.storedBytes == stored.reduce(0) { $0 + UInt64($1.size) })
            #expect(usage.logicalBytes == usage.storedBytes)
        }
        withExtendedLifetime(fileSystem) {}
    }

    /// A store opened where less room is free than its initial map asks for
    /// (other files hold most of the disk) starts with the map the disk can
    /// hold: the disk filling up is STORE_FULL, never an I/O error.
    @Test(arguments: [SmallFileSystem.Kind.tmpfs, .ext4])
    func aStoreOpenedOnAnAlmostFullDiskRefusesWithStoreFull(_ kind: SmallFileSystem.Kind) async throws {
        let fileSystem = try SmallFileSystem(kind, megabytes: 200)
        try fileSystem.fill(leavingFree: 50 << 20)
        let free = fileSystem.freeBytes
        let filler = ContentFiller(seed: 7)
        var storedBytes: UInt64 = 0
        do {
            let store = try ArtifactStore.open(directory: fileSystem.path + "/store", logger: quietLogger)
            #expect(store.allocatesMap)
            var refusals = 0
            for size in [chunkBytes + 4096, 4096] {
                while true {
                    do {
                        _ = try await filler.upload(store, acme, size: size, index: storedBytes)
                        storedBytes += UInt64(size)
                    } catch let error as StoreError {
                        #expect(error.code == .storeFull, "\(kind): \(error)")
                        refusals += 1
                        break
                    }
                }
            }
            #expect(refusals == 2)
            #expect(storedBytes >= free * 9 / 10, "\(kind): full at \(storedBytes) bytes of \(free) free")
            try expectAllBlobsVerify(store, acme)
        }
        withExtendedLifetime(fileSystem) {}
    }

    /// Another file takes the disk while the store is open: the store's
    /// writes stay inside the map it allocated, appends fail cleanly, and
    /// with space again the map grows.
    @Test(arguments: [SmallFileSystem.Kind.tmpfs, .ext4])
    func aDiskFilledByAnotherFileIsStoreFullAndNothingIsLost(_ kind: SmallFileSystem.Kind) async throws {
        let fileSystem = try SmallFileSystem(kind, megabytes: 200)
        let directory = fileSystem.path + "/store"
        var staged: [(id: UUID, content: [UInt8])] = []
        do {
            let store = try ArtifactStore.open(directory: directory, logger: quietLogger)
            #expect(try allocatedBytes(directory + "/data.mdb") >= 64 << 20, "\(kind): the map is not allocated")

            try fileSystem.fill()
            let failure: StoreError?
            (staged, failure) = try await stageUntilRefused(store, acme, count: 256, size: chunkBytes / 2, seed: 900)
            #expect(failure?.code == .storeFull, "\(kind): \(String(describing: failure))")
            #expect(staged.count >= 100, "\(kind): only \(staged.count) half-chunks fit into the allocated map")

            // An upload's append fails the same way and leaves the upload usable.
            let upload = try await store.beginUpload(
                tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
            await expectStoreError(.storeFull) {
                try await store.append(
                    uploadId: upload.uploadId, offset: 0, bytes: pseudoRandomBytes(4 << 20, seed: 990), actor: alice)
            }
            #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 0)
            try await store.abortUpload(uploadId: upload.uploadId, actor: alice)

            // With space again, the map grows and writing goes on.
            try fileSystem.unfill()
            let more = pseudoRandomBytes(3 * chunkBytes, seed: 999)
            let committed = try await stage(store, acme, more)
            staged.append((committed.meta.artifactId, more))
            for (id, content) in staged { #expect(try readAll(store, acme, id) == content) }
            try store.flush()
        }
        do {
            let store = try ArtifactStore.open(directory: directory, logger: quietLogger)
            #expect(try store.usage(tenant: acme).artifactCount == UInt64(staged.count))
            for (id, content) in staged { #expect(try readAll(store, acme, id) == content) }
        }
        withExtendedLifetime(fileSystem) {}
    }

    /// Small artifacts pack the map to its last pages; a delete still goes
    /// through (it may grow the map into the reserve that uploads leave
    /// free), and the room it frees takes the next upload, time after time.
    @Test(arguments: [SmallFileSystem.Kind.tmpfs, .ext4])
    func aDeleteOnAFullDiskMakesRoom(_ kind: SmallFileSystem.Kind) async throws {
        let fileSystem = try SmallFileSystem(kind, megabytes: 48)
        let filler = ContentFiller(seed: 11)
        var ids: [UUID] = []
        do {
            let store = try ArtifactStore.open(directory: fileSystem.path + "/store", logger: quietLogger)
            // Large ones first, so that small ones fill what is left quickly.
            for size in [4 << 20, 64 << 10, 4096] {
                while true {
                    do {
                        ids.append(try await filler.upload(store, acme, size: size, index: UInt64(ids.count)))
                    } catch let error as StoreError {
                        #expect(error.code == .storeFull, "\(kind): \(error)")
                        break
                    }
                }
            }
            for cycle in 0..<8 {
                let victim = ids.removeLast()
                #expect(try await store.delete(tenant: acme, artifactId: victim, actor: alice), "cycle \(cycle)")
                ids.append(try await filler.upload(store, acme, size: 4096, index: 2_000_000 + UInt64(cycle)))
            }
            try expectAllBlobsVerify(store, acme)
            #expect(try store.usage(tenant: acme).artifactCount == UInt64(ids.count))
        }
        withExtendedLifetime(fileSystem) {}
    }
}

/// Distinct contents made cheaply, for filling disks: one random block
/// repeated, with the artifact's index stamped at the start of every block.
struct ContentFiller {
    static let blockSize = 64 << 10
    let block: [UInt8]

    init(seed: UInt64) { block = pseudoRandomBytes(Self.blockSize, seed: 0xD15C + seed) }

    /// `count` bytes of artifact `index`'s content, from `offset`.
    func content(size: Int, index: UInt64, offset: Int = 0, count: Int? = nil) -> [UInt8] {
        let count = count ?? size - offset
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var position = 0
            while position < count {
                let absolute = offset + position
                let inBlock = absolute % Self.blockSize
                let run = min(Self.blockSize - inBlock, count - position)
                block.withUnsafeBufferPointer { source in
                    _ = UnsafeMutableBufferPointer(rebasing: buffer[position..<(position + run)])
                        .initialize(from: source[inBlock..<(inBlock + run)])
                }
                // The index over the first eight bytes of each block.
                for byte in 0..<8 where inBlock <= byte && byte < inBlock + run {
                    buffer[position + byte - inBlock] = UInt8(truncatingIfNeeded: index >> (8 * UInt64(byte)))
                }
                position += run
            }
            initialized = count
        }
    }

    /// Uploads artifact `index` in appends of at most 4 MiB; on any failure
    /// the upload is aborted (freeing what it stored) and the error thrown.
    func upload(_ store: ArtifactStore, _ tenant: TenantID, size: Int, index: UInt64) async throws -> UUID {
        let upload = try await store.beginUpload(
            tenant: tenant, providerId: provider("p"), mimeType: "application/octet-stream",
            declaredSize: UInt64(size), actor: alice)
        do {
            var offset = 0
            while offset < size {
                let count = min(4 << 20, size - offset)
                _ = try await store.append(
                    uploadId: upload.uploadId, offset: UInt64(offset),
                    bytes: content(size: size, index: index, offset: offset, count: count), actor: alice)
                offset += count
            }
            return try await store.commitUpload(uploadId: upload.uploadId, actor: alice).meta.artifactId
        } catch {
            try await store.abortUpload(uploadId: upload.uploadId, actor: alice)
            throw error
        }
    }
}

/// Verifies every blob of `tenant`, page by page, expecting no damage.
func expectAllBlobsVerify(_ store: ArtifactStore, _ tenant: TenantID) throws {
    var cursor: String? = nil
    repeat {
        let page = try store.verifyBlobs(tenant: tenant, cursor: cursor)
        #expect(page.corrupt.isEmpty, "corrupt: \(page.corrupt)")
        cursor = page.nextCursor
    } while cursor != nil
}

/// The bytes of disk a file occupies.
func allocatedBytes(_ path: String) throws -> Int {
    var status = stat()
    guard stat(path, &status) == 0 else { throw StoreTestFailure("cannot stat \(path)") }
    return Int(status.st_blocks) * 512
}

/// A small file system mounted on a fresh temporary directory for one test,
/// unmounted (and removed) when the value goes.
final class SmallFileSystem {
    enum Kind: String, Sendable, CustomStringConvertible {
        /// tmpfs with a `size=` limit.
        case tmpfs
        /// An ext4 image on a loop device.
        case ext4
        var description: String { rawValue }
    }

    /// Whether this process may mount file systems (root, with mount(8)).
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        guard let probe = try? SmallFileSystem(.tmpfs, megabytes: 1) else { return false }
        _ = probe
        return true
    }()

    let path: String
    private let image: String?
    private var filler: String { path + "/filler" }

    init(_ kind: Kind, megabytes: Int) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-small-fs-\(UUID().uuidString)")
            .path
        path = base + ".mnt"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        switch kind {
        case .tmpfs:
            image = nil
            try Self.run("/bin/mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path)
        case .ext4:
            image = base + ".img"
            try Self.run("/usr/bin/truncate", "-s", "\(megabytes)M", image!)
            try Self.run("/sbin/mkfs.ext4", "-q", "-F", "-m", "0", image!)
            try Self.run("/bin/mount", "-o", "loop", image!, path)
        }
    }

    /// Takes every free block but `leavingFree` bytes with a file of its own.
    func fill(leavingFree: UInt64 = 0) throws {
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StoreTestFailure("cannot create \(filler)") }
        defer { close(fd) }
        let block = [UInt8](repeating: 0x5A, count: 64 << 10)
        while freeBytes > leavingFree + UInt64(block.count),
            block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0
        {}
        fsync(fd)
    }

    /// The file system's size as `df` shows it (blocks for data, less its own metadata).
    var sizeBytes: UInt64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return 0 }
        return UInt64(info.f_blocks) * UInt64(info.f_frsize)
    }

    /// Bytes available on the file system, as `df` shows them (ext4 keeps
    /// some free blocks from every file for its own metadata).
    var freeBytes: UInt64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return 0 }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// Frees what ``fill()`` took.
    func unfill() throws {
        unlink(filler)
        sync()
    }

    deinit {
        // A store still open on it makes it busy: detach it lazily then.
        if (try? Self.run("/bin/umount", path)) == nil { try? Self.run("/bin/umount", "-l", path) }
        try? FileManager.default.removeItem(atPath: path)
        if let image { try? FileManager.default.removeItem(atPath: image) }
    }

    private static func run(_ tool: String, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StoreTestFailure(
                "\(tool) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
    }
}
