import CairnDigest
import CairnStore
import Foundation
import Synchronization
import Testing

/// Listings: creation order, pages, provider filter, and cursors that hold
/// while others write.
@Suite struct ListingTests {
    let acme = tenant("acme")

    /// Stages `count` small distinct artifacts, alternating between providers `p` and `q`.
    func stageMany(_ store: ArtifactStore, count: Int, seed: UInt64) async throws -> [ArtifactMeta] {
        var metas: [ArtifactMeta] = []
        for index in 0..<count {
            let staged = try await stage(
                store, acme, pseudoRandomBytes(64, seed: seed + UInt64(index)),
                providerId: provider(index % 2 == 0 ? "p" : "q"))
            metas.append(staged.meta)
        }
        return metas
    }

    @Test func artifactsAreListedInCreationOrder() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let metas = try await stageMany(store, count: 12, seed: 100)
        // Random ids: creation order is not id order.
        #expect(try store.list(tenant: acme).artifacts == metas)
        #expect(try store.list(tenant: acme).nextCursor == nil)
        #expect(try store.list(tenant: acme, limit: 12).nextCursor == nil)
    }

    @Test func pagesFollowEachOtherWithoutGapsOrRepeats() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let metas = try await stageMany(store, count: 7, seed: 200)
        let first = try store.list(tenant: acme, limit: 3)
        #expect(first.artifacts == Array(metas[0..<3]))
        let cursor1 = try #require(first.nextCursor)
        let second = try store.list(tenant: acme, limit: 3, cursor: cursor1)
        #expect(second.artifacts == Array(metas[3..<6]))
        let cursor2 = try #require(second.nextCursor)
        let third = try store.list(tenant: acme, limit: 3, cursor: cursor2)
        #expect(third.artifacts == [metas[6]])
        #expect(third.nextCursor == nil)
        // A cursor can be used again: it names a position.
        #expect(try store.list(tenant: acme, limit: 3, cursor: cursor1) == second)

        // A page that ends exactly at the last artifact has no cursor.
        let exact = try store.list(tenant: acme, limit: 4, cursor: cursor1)
        #expect(exact.artifacts == Array(metas[3..<7]))
        #expect(exact.nextCursor == nil)
        // The whole listing one by one.
        #expect(try allArtifacts(store, tenant: acme, limit: 1) == metas)
    }

    @Test func theProviderFilterListsOnlyThatProvider() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let metas = try await stageMany(store, count: 9, seed: 300)
        // A provider whose id extends another's is not listed with it.
        let extended = try await stage(store, acme, [1, 2], providerId: provider("p:x"))
        let ofP = metas.filter { $0.providerId == provider("p") }
        let ofQ = metas.filter { $0.providerId == provider("q") }
        #expect(try allArtifacts(store, tenant: acme, providerId: provider("p"), limit: 2) == ofP)
        #expect(try allArtifacts(store, tenant: acme, providerId: provider("q"), limit: 2) == ofQ)
        #expect(try allArtifacts(store, tenant: acme, providerId: provider("p:x")) == [extended.meta])
        #expect(try store.list(tenant: acme, providerId: provider("none")).artifacts.isEmpty)
        #expect(try allArtifacts(store, tenant: acme) == metas + [extended.meta])

        let page = try store.list(tenant: acme, providerId: provider("p"), limit: 2)
        #expect(page.artifacts == Array(ofP[0..<2]))
        #expect(page.nextCursor != nil)
        let last = try store.list(tenant: acme, providerId: provider("p"), limit: 3, cursor: page.nextCursor)
        #expect(last.artifacts == Array(ofP[2...]))
        #expect(last.nextCursor == nil)

        // Deleting removes an artifact from both listings.
        _ = try await store.delete(tenant: acme, artifactId: ofP[1].artifactId, actor: alice)
        #expect(
            try allArtifacts(store, tenant: acme, providerId: provider("p")).map(\.artifactId)
                == ofP.filter { $0 != ofP[1] }.map(\.artifactId))
        #expect(try allArtifacts(store, tenant: acme).count == metas.count)
    }

    @Test func aCursorNamesAPositionNotAnArtifact() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let metas = try await stageMany(store, count: 8, seed: 400)
        let first = try store.list(tenant: acme, limit: 3)
        let cursor = try #require(first.nextCursor)
        // The artifact the cursor was taken after, and the one after it, go.
        _ = try await store.delete(tenant: acme, artifactId: metas[2].artifactId, actor: alice)
        _ = try await store.delete(tenant: acme, artifactId: metas[3].artifactId, actor: alice)
        let added = try await stage(store, acme, [9, 9, 9])
        let rest = try store.list(tenant: acme, limit: 100, cursor: cursor)
        #expect(rest.artifacts == Array(metas[4...]) + [added.meta])
        #expect(rest.nextCursor == nil)
    }

    @Test func aListingPagedThroughWhileOthersWriteSeesEveryLastingArtifactOnce() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let originals = try await stageMany(store, count: 40, seed: 500)
        let originalIds = Set(originals.map(\.artifactId))
        let writerRounds = 25

        // Concurrently: stage two new artifacts, delete one of them, repeat.
        let churn = Task {
            var deleted: [UUID] = []
            for round in 0..<writerRounds {
                try await stage(store, acme, pseudoRandomBytes(32, seed: 10_000 + UInt64(round)))
                let doomed = try await stage(store, acme, pseudoRandomBytes(32, seed: 20_000 + UInt64(round)))
                #expect(try await store.delete(tenant: acme, artifactId: doomed.meta.artifactId, actor: alice))
                deleted.append(doomed.meta.artifactId)
            }
            return deleted
        }

        var seen: [UUID] = []
        var cursor: String?
        var pages = 0
        var step: UInt64 = 0
        repeat {
            let page = try store.list(tenant: acme, limit: 3, cursor: cursor)
            seen += page.artifacts.map(\.artifactId)
            cursor = page.nextCursor
            pages += 1
            // And between every two pages, for certain: a new artifact, and
            // the deletion of another new one listed earlier or not yet.
            step += 1
            let added = try await stage(store, acme, pseudoRandomBytes(16, seed: 30_000 + step))
            if step % 2 == 0 {
                _ = try await store.delete(tenant: acme, artifactId: added.meta.artifactId, actor: alice)
            }
        } while cursor != nil && pages < 1000
        let deletedByChurn = try await churn.value

        #expect(pages < 1000, "the listing did not end")
        #expect(Set(seen).count == seen.count, "an artifact was listed twice")
        #expect(originalIds.isSubset(of: Set(seen)), "an artifact that existed throughout was skipped")
        // The originals come first, in creation order.
        #expect(Array(seen.prefix(originals.count)) == originals.map(\.artifactId))
        #expect(deletedByChurn.count == writerRounds)
        // Everything listed existed at some point; what remains lists once more, in order.
        let final = try allArtifacts(store, tenant: acme, limit: 7)
        #expect(Array(final.prefix(originals.count)) == originals)
        #expect(Set(final.map(\.artifactId)).count == final.count)
    }

    @Test func listingsOfATenantAreEmptyBeforeItsFirstArtifact() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let page = try store.list(tenant: tenant("empty"))
        #expect(page.artifacts.isEmpty && page.nextCursor == nil)
        let filtered = try store.list(tenant: tenant("empty"), providerId: provider("p"))
        #expect(filtered.artifacts.isEmpty && filtered.nextCursor == nil)
    }
}
