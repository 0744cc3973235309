import CairnDigest
import CairnStore
import Foundation
import Testing

/// A full disk is STORE_FULL with nothing written: the data file is
/// allocated up to the map size before LMDB writes there, so a commit never
/// meets the full disk halfway (without the allocation, LMDB reports the
/// short write as `EIO`, which the store can only call INTERNAL).
///
/// Each test mounts a small file system of its own (a size-limited tmpfs,
/// a loop-mounted ext4 image), so the suite runs only as root where
/// `mount` works.
@Suite(.serialized, .enabled(if: SmallFileSystem.available, "needs root and mount(8)"))
struct DiskFullTests {
    let acme = tenant("acme")

    static func configure(_ configuration: inout ArtifactStore.Configuration) {
        configuration.initialMapSize = 8 << 20
    }

    @Test(arguments: [SmallFileSystem.Kind.tmpfs, .ext4])
    func aFullDiskIsStoreFullAndNothingIsLost(_ kind: SmallFileSystem.Kind) async throws {
        let fileSystem = try SmallFileSystem(kind, megabytes: 48)
        let directory = fileSystem.path + "/store"
        var configuration = ArtifactStore.Configuration()
        Self.configure(&configuration)
        var staged: [(id: UUID, content: [UInt8])] = []
        do {
            let store = try ArtifactStore.open(directory: directory, configuration: configuration, logger: quietLogger)
            #expect(store.allocatesMap, "\(kind): the store does not allocate its map")
            let dataFile = directory + "/data.mdb"
            #expect(try allocatedBytes(dataFile) >= 8 << 20, "\(kind): the map is not allocated")

            // Another file takes every free block: the store's next write must
            // stay inside what it allocated, or fail cleanly.
            try fileSystem.fill()
            let failure: StoreError?
            (staged, failure) = try await stageUntilRefused(store, acme, count: 64, size: chunkBytes / 2, seed: 900)
            #expect(failure?.code == .storeFull, "\(kind): \(String(describing: failure))")
            #expect(!staged.isEmpty, "\(kind): nothing fit into the allocated map")

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

        // Everything reported stored is there after reopening.
        do {
            let store = try ArtifactStore.open(directory: directory, configuration: configuration, logger: quietLogger)
            #expect(store.allocatesMap)
            #expect(try store.usage(tenant: acme).artifactCount == UInt64(staged.count))
            for (id, content) in staged { #expect(try readAll(store, acme, id) == content) }
        }
        // The stores are closed before the file system is unmounted.
        withExtendedLifetime(fileSystem) {}
    }

    /// Growth that cannot be allocated fails as STORE_FULL with the map as
    /// it was; the size limit is not what stops it here.
    @Test(arguments: [SmallFileSystem.Kind.tmpfs, .ext4])
    func aMapThatCannotBeAllocatedDoesNotGrow(_ kind: SmallFileSystem.Kind) async throws {
        let fileSystem = try SmallFileSystem(kind, megabytes: 40)
        var configuration = ArtifactStore.Configuration()
        Self.configure(&configuration)
        do {
            let store = try ArtifactStore.open(
                directory: fileSystem.path + "/store", configuration: configuration, logger: quietLogger)
            #expect(store.allocatesMap)
            let (staged, failure) = try await stageUntilRefused(store, acme, count: 64, size: chunkBytes, seed: 1000)
            let count = staged.count
            #expect(failure?.code == .storeFull, "\(kind): \(String(describing: failure))")
            let health = try store.health()
            #expect(health.usedBytes < 40 << 20)
            // The growth that failed gave back what it had taken.
            #expect(health.diskFreeBytes > 1 << 20, "\(kind): \(health.diskFreeBytes) bytes left free")
            #expect(try store.usage(tenant: acme).artifactCount == UInt64(count))
        }
        // The store is closed before the file system is unmounted.
        withExtendedLifetime(fileSystem) {}
    }
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

    /// Takes every free block with a file of its own.
    func fill() throws {
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StoreTestFailure("cannot create \(filler)") }
        defer { close(fd) }
        let block = [UInt8](repeating: 0x5A, count: 64 << 10)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        fsync(fd)
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
