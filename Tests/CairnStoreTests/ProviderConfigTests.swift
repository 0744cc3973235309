import CairnDigest
import CairnProviders
import CairnStore
import DamageSupport
import Foundation
import StoreLayout
import Testing

/// Provider configurations in the store: revisions, references checked and
/// indexed in the same transaction, ARTIFACT_IN_USE, and the audit trail.
@Suite struct ProviderConfigTests {
    let acme = tenant("acme")
    let globex = tenant("globex")
    let vex = provider("excititor:oci-openvex")
    let other = provider("other")

    func set(
        _ store: ArtifactStore, _ tenant: TenantID, _ providerId: ProviderID, _ changes: [String: FieldChange],
        expectedRevision: UInt64? = nil, actor: Actor = alice
    ) async throws -> ProviderConfiguration {
        try await store.setProviderConfiguration(
            tenant: tenant, providerId: providerId, changes: changes, expectedRevision: expectedRevision, actor: actor)
    }

    func id(_ committed: CommittedArtifact) -> String { committed.meta.artifactId.uuidString.lowercased() }

    @Test func aNeverConfiguredProviderIsAtRevisionZero() throws {
        let fixture = try StoreFixture()
        let configuration = try fixture.store.providerConfiguration(tenant: acme, providerId: vex)
        #expect(configuration.revision == 0)
        #expect(configuration.values.isEmpty)
        #expect(configuration.updatedAt == nil && configuration.updatedBy == nil)
    }

    @Test func changesMergeAndEveryChangeAddsARevision() async throws {
        let fixture = try StoreFixture()
        let second = try await changeTwice(fixture)
        // Survives a reopen, once the first store is closed.
        fixture.close()
        let reopened = try fixture.reopen()
        #expect(try reopened.providerConfiguration(tenant: acme, providerId: vex) == second)
    }

    private func changeTwice(_ fixture: StoreFixture) async throws -> ProviderConfiguration {
        let store = try #require(fixture.openStore)
        let first = try await set(
            store, acme, vex,
            ["cosignMode": .set(.scalar("keyless")), "imageSubscriptions": .set(.list(["a/b:1", "c/d"]))])
        #expect(first.revision == 1)
        #expect(first.updatedBy == "alice")
        #expect(first.updatedAt == fixture.clock.now)

        fixture.clock.advance(by: 60)
        let second = try await set(
            store, acme, vex, ["cosignIssuer": .set(.scalar("https://issuer")), "cosignMode": .clear], actor: bob)
        #expect(second.revision == 2)
        #expect(second.updatedBy == "bob")
        #expect(
            second.values == [
                "imageSubscriptions": .list(["a/b:1", "c/d"]), "cosignIssuer": .scalar("https://issuer"),
            ])
        #expect(try store.providerConfiguration(tenant: acme, providerId: vex) == second)
        // Other tenants and providers are untouched.
        #expect(try store.providerConfiguration(tenant: globex, providerId: vex).revision == 0)
        #expect(try store.providerConfiguration(tenant: acme, providerId: other).revision == 0)
        return second
    }

    @Test func aChangeThatChangesNothingKeepsTheRevisionAndWritesNoEvent() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let first = try await set(store, acme, vex, ["offline": .set(.scalar("true"))])
        let events = try allEvents(store, tenant: acme).count
        let again = try await set(store, acme, vex, ["offline": .set(.scalar("true")), "tufRoot": .clear])
        #expect(again == first)
        #expect(try allEvents(store, tenant: acme).count == events)
    }

    @Test func aStaleExpectedRevisionIsAConflictAndChangesNothing() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        _ = try await set(store, acme, vex, ["offline": .set(.scalar("true"))], expectedRevision: 0)
        await expectStoreError(.conflict, .revision(1)) {
            try await set(store, acme, vex, ["offline": .set(.scalar("false"))], expectedRevision: 0)
        }
        #expect(try store.providerConfiguration(tenant: acme, providerId: vex).values["offline"] == .scalar("true"))
        let next = try await set(store, acme, vex, ["offline": .set(.scalar("false"))], expectedRevision: 1)
        #expect(next.revision == 2)
    }

    @Test func referencesMustNameAnArtifactOfTheSameTenantAndProvider() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let mine = try await stage(store, acme, [1, 2, 3], providerId: vex)
        let otherProviders = try await stage(store, acme, [4], providerId: other)
        let otherTenants = try await stage(store, globex, [5], providerId: vex)
        let missing = UUID().uuidString.lowercased()

        for (field, value) in [
            ("cosignKey", FieldValue.artifactRef(id(otherProviders))),
            ("cosignKey", .artifactRef(id(otherTenants))),
            ("cosignKey", .artifactRef(missing)),
            ("registryCaCertificates", .artifactRefs([id(mine), id(otherTenants)])),
        ] {
            let error = await expectStoreError(.providerConfigInvalid) {
                try await set(store, acme, vex, [field: .set(value), "offline": .set(.scalar("true"))])
            }
            guard case .issues(let issues)? = error?.detail else {
                Issue.record("no issues in \(String(describing: error))")
                continue
            }
            #expect(issues.map(\.field) == [field])
            #expect(issues.map(\.subCode) == [.artifactNotFound])
        }
        // Another tenant's artifact is refused exactly like one that does not exist.
        let foreign = await expectStoreError(.providerConfigInvalid) {
            try await set(store, acme, vex, ["cosignKey": .set(.artifactRef(id(otherTenants)))])
        }
        let absent = await expectStoreError(.providerConfigInvalid) {
            try await set(store, acme, vex, ["cosignKey": .set(.artifactRef(missing))])
        }
        #expect(
            foreign?.message.replacingOccurrences(of: id(otherTenants), with: "ID")
                == absent?.message.replacingOccurrences(of: missing, with: "ID"))

        // Nothing was stored by the refused changes.
        #expect(try store.providerConfiguration(tenant: acme, providerId: vex).revision == 0)
        let stored = try await set(store, acme, vex, ["cosignKey": .set(.artifactRef(id(mine)))])
        #expect(stored.values == ["cosignKey": .artifactRef(id(mine))])
    }

    @Test func aReferencedArtifactCannotBeDeletedUntilTheFieldIsCleared() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let key = try await stage(store, acme, Array("key".utf8), providerId: vex)
        let ca1 = try await stage(store, acme, Array("ca1".utf8), providerId: vex)
        let ca2 = try await stage(store, acme, Array("ca2".utf8), providerId: vex)
        _ = try await set(
            store, acme, vex,
            [
                "cosignKey": .set(.artifactRef(id(key))),
                "registryCaCertificates": .set(.artifactRefs([id(ca1), id(ca2), id(ca1)])),
            ])
        _ = try await set(store, acme, vex, ["offlineBundle": .set(.artifactRef(id(key)))])

        let inUse = await expectStoreError(.artifactInUse) {
            try await store.delete(tenant: acme, artifactId: key.meta.artifactId, actor: alice)
        }
        #expect(
            inUse?.detail
                == .references([
                    ArtifactReference(providerId: "excititor:oci-openvex", field: "cosignKey"),
                    ArtifactReference(providerId: "excititor:oci-openvex", field: "offlineBundle"),
                ]))
        #expect(
            try store.references(tenant: acme, artifactId: ca1.meta.artifactId).map(\.field) == [
                "registryCaCertificates"
            ])
        // Still there, usage unchanged.
        #expect(try store.meta(tenant: acme, artifactId: key.meta.artifactId) == key.meta)
        #expect(try store.usage(tenant: acme).artifactCount == 3)

        // Replacing the list drops ca1's reference and keeps ca2's.
        _ = try await set(store, acme, vex, ["registryCaCertificates": .set(.artifactRefs([id(ca2)]))])
        #expect(try await store.delete(tenant: acme, artifactId: ca1.meta.artifactId, actor: alice))
        await expectStoreError(.artifactInUse) {
            try await store.delete(tenant: acme, artifactId: ca2.meta.artifactId, actor: alice)
        }

        // Clearing every referencing field lets the delete through.
        _ = try await set(store, acme, vex, ["cosignKey": .clear])
        await expectStoreError(.artifactInUse) {
            try await store.delete(tenant: acme, artifactId: key.meta.artifactId, actor: alice)
        }
        _ = try await set(store, acme, vex, ["offlineBundle": .clear])
        #expect(try await store.delete(tenant: acme, artifactId: key.meta.artifactId, actor: alice))
        #expect(try store.references(tenant: acme, artifactId: ca2.meta.artifactId).count == 1)
    }

    @Test func referencesOfAnotherTenantsArtifactAreNotFound() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let key = try await stage(store, acme, [9], providerId: vex)
        _ = try await set(store, acme, vex, ["cosignKey": .set(.artifactRef(id(key)))])
        await expectStoreError(.notFound) { try store.references(tenant: globex, artifactId: key.meta.artifactId) }
        await expectStoreError(.notFound) {
            try await store.delete(tenant: globex, artifactId: key.meta.artifactId, actor: alice)
        }
        #expect(try store.artifactMetas(tenant: globex, ids: [id(key)]).isEmpty)
        #expect(try store.artifactMetas(tenant: acme, ids: [id(key), "junk"]) == [id(key): key.meta])
        #expect(try store.artifactStates(tenant: globex, ids: [id(key)]) == [id(key): .missing])
    }

    @Test func configSetEventsNameTheKeysButNeverTheValues() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        _ = try await set(
            store, acme, vex,
            ["registryPassword": .set(.scalar("hunter2-secret")), "registryUsername": .set(.scalar("robot"))])
        _ = try await set(store, acme, vex, ["registryPassword": .clear], actor: bob)
        let events = try allEvents(store, tenant: acme).filter { $0.action == "config.set" }
        #expect(events.count == 2)
        #expect(events.map(\.actor) == ["alice", "bob"])
        #expect(events.allSatisfy { $0.providerId == vex.rawValue })
        #expect(events[0].detail == #"{"revision":1,"set":["registryPassword","registryUsername"],"cleared":[]}"#)
        #expect(events[1].detail == #"{"revision":2,"set":[],"cleared":["registryPassword"]}"#)
        #expect(!events.contains { ($0.detail ?? "").contains("hunter2") || ($0.detail ?? "").contains("robot") })
        #expect(try allEvents(store, tenant: globex).isEmpty)
    }

    @Test func artifactStatesVerifyTheReferencedBytes() async throws {
        let directory = StoreDirectory()
        let content = pseudoRandomBytes(70_000, seed: 0x5EC0_0001)
        let intact = pseudoRandomBytes(1000, seed: 0x5EC0_0002)
        let (damagedId, intactId) = try await directory.withStore { store in
            (
                try await stage(store, acme, content, providerId: vex).meta.artifactId.uuidString.lowercased(),
                try await stage(store, acme, intact, providerId: vex).meta.artifactId.uuidString.lowercased()
            )
        }
        let found = try #require(try FileDamage.offsets(of: Array(content[..<64]), in: directory.dataFile).first)
        try FileDamage.flip(directory.dataFile, at: found + 30_000)

        try await directory.withStore { store throws in
            let missing = UUID().uuidString.lowercased()
            #expect(
                try store.artifactStates(tenant: acme, ids: [damagedId, intactId, missing, "not-an-id"]) == [
                    damagedId: .corrupt, intactId: .present, missing: .missing, "not-an-id": .missing,
                ])
        }
    }

    @Test func racingDeletesAndReferencesNeverLeaveADanglingReference() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        var staged: [CommittedArtifact] = []
        for index in 0..<40 { staged.append(try await stage(store, acme, [UInt8(index), 7], providerId: vex)) }
        let ids = staged
        await withTaskGroup(of: Void.self) { group in
            for artifact in ids {
                group.addTask {
                    _ = try? await store.delete(tenant: acme, artifactId: artifact.meta.artifactId, actor: alice)
                }
                group.addTask {
                    _ = try? await self.set(
                        store, acme, self.vex, ["registryCaCertificates": .set(.artifactRefs([self.id(artifact)]))])
                }
            }
        }
        let configuration = try store.providerConfiguration(tenant: acme, providerId: vex)
        for referenced in configuration.values["registryCaCertificates"]?.artifactIds ?? [] {
            #expect(try store.artifactStates(tenant: acme, ids: [referenced]) == [referenced: .present])
            #expect(try store.references(tenant: acme, artifactId: UUID(uuidString: referenced)!).count == 1)
        }
        // Every other artifact is either deleted or unreferenced.
        for artifact in ids where configuration.values["registryCaCertificates"]?.artifactIds != [id(artifact)] {
            if let references = try? store.references(tenant: acme, artifactId: artifact.meta.artifactId) {
                #expect(references.isEmpty)
            }
        }
    }
}
