import Foundation
import LMDB
import Testing

@Suite struct LMDBErrorTests {
    @Test func constantsAreLMDBsCodes() {
        #expect(LMDBError.keyExists == -30799)
        #expect(LMDBError.notFound == -30798)
        #expect(LMDBError.corrupted == -30796)
        #expect(LMDBError.invalid == -30793)
        #expect(LMDBError.mapFull == -30792)
        #expect(LMDBError.readersFull == -30790)
        #expect(LMDBError.transactionFull == -30788)
        #expect(LMDBError.mapResized == -30785)
        #expect(LMDBError.diskFull == ENOSPC)
        #expect(LMDBError.diskQuota == EDQUOT)
    }

    @Test(arguments: [LMDBError.mapFull, LMDBError.diskFull, LMDBError.diskQuota, LMDBError.transactionFull])
    func noRoomIsOutOfSpace(code: Int32) {
        #expect(LMDBError(code: code, operation: "mdb_put").isOutOfSpace)
    }

    @Test(arguments: [
        LMDBError.notFound, LMDBError.keyExists, LMDBError.mapResized, LMDBError.readersFull,
        LMDBError.corrupted, LMDBError.invalid, EACCES, EINVAL, EIO,
    ])
    func otherFailuresAreNotOutOfSpace(code: Int32) {
        #expect(!LMDBError(code: code, operation: "mdb_put").isOutOfSpace)
    }

    @Test func messageIsLMDBsOwnAndDescriptionNamesTheOperation() {
        let mapFull = LMDBError(code: LMDBError.mapFull, operation: "mdb_txn_commit")
        #expect(mapFull.message.contains("MDB_MAP_FULL"))
        #expect(mapFull.description == "mdb_txn_commit: \(mapFull.message) (-30792)")

        let diskFull = LMDBError(code: ENOSPC, operation: "mdb_put(blobs)")
        #expect(diskFull.message == String(cString: strerror(ENOSPC)))
        #expect(diskFull.description.hasPrefix("mdb_put(blobs): "))
        #expect(diskFull.description.hasSuffix("(\(ENOSPC))"))
    }

    @Test func equalityComparesCodeAndOperation() {
        let error = LMDBError(code: LMDBError.notFound, operation: "mdb_get(meta)")
        #expect(error == LMDBError(code: LMDBError.notFound, operation: "mdb_get(meta)"))
        #expect(error != LMDBError(code: LMDBError.notFound, operation: "mdb_get(blobs)"))
        #expect(error != LMDBError(code: LMDBError.keyExists, operation: "mdb_get(meta)"))
    }
}
