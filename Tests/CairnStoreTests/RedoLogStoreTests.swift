import CairnStore
import Foundation
import Testing

/// The store over its redo log: one writing process, and a store a crash
/// left is recovered through the log before anything reads it.
@Suite struct RedoLogStoreTests {
    let acme = tenant("acme")

    @Test func aCrashedStoreIsRecoveredThroughItsLogBeforeAnythingReadsIt() async throws {
        let fixture = try StoreFixture()
        let content = pseudoRandomBytes(5000, seed: 41)
        let committed = try await stage(fixture.store, acme, content)
        let id = committed.meta.artifactId

        // The files as a kill leaves them: the last commit is in the log and
        // the page cache, not in a checkpoint.
        let crashed = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-redo-store-test-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: crashed) }
        try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: false)
        for name in ["data.mdb", "redo.log"] {
            try FileManager.default.copyItem(atPath: fixture.directory + "/" + name, toPath: crashed + "/" + name)
        }
        // Reading the files directly is refused until a writer recovered them.
        do {
            _ = try ArtifactStore.openReadOnly(directory: crashed, logger: quietLogger)
            Issue.record("a crashed store opened read-only")
        } catch let error as StoreError {
            #expect(error.code == .internalError)
            #expect(
                error.message.contains("not closed cleanly (a crash or a power loss): start cairn serve"), "\(error)")
        }
        // Opened with the log turned off in its configuration, the store is
        // still recovered through it: its data file needs it.
        var configuration = ArtifactStore.Configuration()
        configuration.redoLog = nil
        do {
            let recovered = try ArtifactStore.open(
                directory: crashed, configuration: configuration, logger: quietLogger)
            #expect(try readAll(recovered, acme, id) == content)
            #expect(try recovered.usage(tenant: acme).artifactCount == 1)
        }
        let reader = try ArtifactStore.openReadOnly(directory: crashed, logger: quietLogger)
        #expect(try readAll(reader, acme, id) == content)
    }
}
