import Foundation
import Testing

@testable import CairnStore

/// Ids from the batched CSPRNG: version 4 UUIDs, never repeated, across batches.
@Suite struct RandomIDsTests {
    @Test func idsAreDistinctVersionFourUUIDsAcrossBatches() {
        let ids = RandomIDs()
        var seen = Set<UUID>()
        for _ in 0..<(RandomIDs.batchSize * 9 + 3) {
            let id = ids.next()
            let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 4, "\(id) is not version 4")
            #expect(bytes[8] >> 6 == 0b10, "\(id) is not of the RFC 4122 variant")
            #expect(seen.insert(id).inserted, "\(id) came twice")
        }
        // Two generators do not hand out the same ids.
        let other = RandomIDs()
        #expect((0..<100).allSatisfy { _ in !seen.contains(other.next()) })
    }
}
