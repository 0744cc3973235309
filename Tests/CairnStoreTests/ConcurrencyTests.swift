import CairnDigest
import CairnStore
import Foundation
import StoreLayout
import Synchronization
import Testing

/// Writes that race: one writer orders them, and a losing append or a
/// second copy leaves nothing behind.
@Suite struct ConcurrencyTests {
    let acme = tenant("acme")

    func outcome<R>(_ body: () async throws -> R) async -> Result<R, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    @Test func concurrentStagesOfTheSameContentStoreItOnce() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(chunkBytes + 1, seed: 1201)
        let results = try await withThrowingTaskGroup(of: CommittedArtifact.self) { group in
            for _ in 0..<8 { group.addTask { try await stage(store, acme, content) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count { !$0.deduplicated } == 1)
        let stat = try store.stat(tenant: acme, sha256: SHA256Hasher.digest(content))
        #expect(stat.refCount == 8)
        #expect(Set(stat.artifactIds) == Set(results.map(\.meta.artifactId)))
        let usage = try store.usage(tenant: acme)
        #expect(usage.storedBytes == UInt64(content.count) && usage.logicalBytes == 8 * UInt64(content.count))
        #expect(try allEvents(store, tenant: acme).map(\.seq) == Array(1...8))
    }

    @Test func concurrentStagesOverAQuotaFailAloneAndLeaveNothing() async throws {
        // Durable writes that wait together are committed together, each in a nested
        // transaction: the ones the quota refuses must leave no chunk, blob or event.
        let fixture = try StoreFixture()
        let store = fixture.store
        _ = try await store.setQuota(tenant: acme, maxBytes: .unchanged, maxArtifacts: .set(10), actor: alice)
        let contents = (0..<48).map { pseudoRandomBytes(3000 + $0 * 50, seed: 1300 + UInt64($0)) }
        let results = await withTaskGroup(of: (Int, Result<CommittedArtifact, any Error>).self) { group in
            for (index, content) in contents.enumerated() {
                group.addTask { (index, await outcome { try await stage(store, acme, content) }) }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        var stored: [Int] = []
        for (index, result) in results {
            switch result {
            case .success(let committed):
                stored.append(index)
                #expect(try readAll(store, acme, committed.meta.artifactId) == contents[index])
            case .failure(let error):
                #expect((error as? StoreError)?.code == .quotaExceeded, "\(error)")
            }
        }
        #expect(stored.count == 10)
        let usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 10)
        #expect(usage.storedBytes == stored.reduce(0) { $0 + UInt64(contents[$1].count) })
        #expect(try allArtifacts(store, tenant: acme).count == 10)
        let staged = try allEvents(store, tenant: acme).filter { $0.action == "artifact.created" }
        #expect(staged.count == 10)
        for index in Set(contents.indices).subtracting(stored) {
            await expectStoreError(.notFound) {
                try store.stat(tenant: acme, sha256: SHA256Hasher.digest(contents[index]))
            }
        }
        #expect(try store.verifyBlobs(tenant: acme).corrupt.isEmpty)
    }

    @Test func racingAppendsAtTheSameOffsetStoreOneOfThem() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        for round in 0..<8 {
            let upload = try await store.beginUpload(
                tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
            let head = pseudoRandomBytes(1000, seed: 1210 + UInt64(round))
            _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: head, actor: alice)
            let one = pseudoRandomBytes(300_000, seed: 1220 + UInt64(round))
            let other = pseudoRandomBytes(200_000, seed: 1230 + UInt64(round))
            async let first = outcome {
                try await store.append(uploadId: upload.uploadId, offset: 1000, bytes: one, actor: alice)
            }
            async let second = outcome {
                try await store.append(uploadId: upload.uploadId, offset: 1000, bytes: other, actor: alice)
            }
            let outcomes = await [first, second]
            let winners = outcomes.enumerated().filter { (try? $0.element.get()) != nil }.map(\.offset)
            try #require(winners.count == 1, "round \(round): \(outcomes)")
            for case .failure(let error) in outcomes {
                #expect((error as? StoreError)?.code == .offsetMismatch, "round \(round): \(error)")
            }
            let content = head + (winners == [0] ? one : other)
            #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == UInt64(content.count))
            // The loser's bytes are in neither the chunks nor the running digest.
            let committed = try await store.commitUpload(
                uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
            #expect(try readAll(store, acme, committed.meta.artifactId) == content)
        }
    }

    @Test func concurrentUploadsOfTheSameContentCommitOnce() async throws {
        let directory = StoreDirectory()
        let content = pseudoRandomBytes(2 * chunkBytes + 7, seed: 1240)
        try await directory.withStore { store in
            let results = try await withThrowingTaskGroup(of: CommittedArtifact.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let upload = try await store.beginUpload(
                            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
                        var offset: UInt64 = 0
                        for start in stride(from: 0, to: content.count, by: 700_000) {
                            let piece = Array(content[start..<min(content.count, start + 700_000)])
                            offset = try await store.append(
                                uploadId: upload.uploadId, offset: offset, bytes: piece, actor: alice)
                        }
                        return try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count { !$0.deduplicated } == 1)
            #expect(try store.usage(tenant: acme).storedBytes == UInt64(content.count))
            for result in results { #expect(try readAll(store, acme, result.meta.artifactId) == content) }
            try store.flush()
            #expect(try store.health().pendingReclaim == 0)
        }
        // One copy of three chunks: the duplicates' extents were reclaimed.
        #expect(try directory.rawCount(of: .chunks) == 3)
    }

    /// While Alice's append runs, Bob's attempts on her upload must still be
    /// NOT_FOUND ("another operation is running" would tell him it exists),
    /// and must not make her append fail.
    @Test func anotherPeersAttemptsDuringAnAppendAreNotFoundAndHarmless() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = [UInt8](repeating: 0x42, count: 24 * chunkBytes)
        let upload = try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
        let id = upload.uploadId
        let done = Atomic(false)
        let appending = Task {
            defer { done.store(true, ordering: .releasing) }
            return await outcome { try await store.append(uploadId: id, offset: 0, bytes: content, actor: alice) }
        }
        try await Task.sleep(for: .milliseconds(1))
        var attempts = 0
        var wrongCount = 0
        var wrong: Set<String> = []
        func check(_ result: Result<some Any, any Error>) {
            switch result {
            case .success(let value):
                wrongCount += 1
                wrong.insert("succeeded with \(value)")
            case .failure(let error as StoreError) where error.code == .notFound && error.detail == .what("upload"):
                break
            case .failure(let error):
                wrongCount += 1
                wrong.insert("\(error)")
            }
        }
        while !done.load(ordering: .acquiring) && attempts < 5000 {
            check(await outcome { try await store.append(uploadId: id, offset: 0, bytes: [1], actor: bob) })
            check(await outcome { try await store.commitUpload(uploadId: id, actor: bob) })
            check(await outcome { try await store.abortUpload(uploadId: id, actor: bob) })
            attempts += 1
        }
        #expect(wrongCount == 0, "of \(3 * attempts) attempts by bob, these were not NOT_FOUND: \(wrong)")
        let appended = await appending.value
        #expect(throws: Never.self, "alice's append failed while bob tried her upload") { try appended.get() }
        if case .success(let offset) = appended {
            #expect(offset == UInt64(content.count))
            let committed = try await store.commitUpload(
                uploadId: id, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
            #expect(committed.meta.sizeBytes == UInt64(content.count))
        }
    }
}
