import Testing

@testable import BackupRepository

struct RepositoryPolicyTests {
    @Test func locationsParseAndRefuseWhatIsNotOne() throws {
        let location = try RepositoryLocation(parsing: "s3://fleet-backups/hosts/web-1/#20261207T151200.000Z-0123abcd")
        #expect(location.bucket == "fleet-backups" && location.prefix == "hosts/web-1")
        #expect(location.backupID == "20261207T151200.000Z-0123abcd")
        #expect(location.key("config") == "hosts/web-1/config")
        #expect(try RepositoryLocation(parsing: "s3://b").key("config") == "config")
        for bad in ["b/p", "s3://", "s3:///p", "s3://b/../p", "s3://b/p#nope", "http://b/p"] {
            #expect(throws: RepositoryError.self, "\(bad)") { try RepositoryLocation(parsing: bad) }
        }
    }

    @Test func backupIDsSortByTimeAndCarryTheirDate() {
        let id = SnapshotID.make(epochMilliseconds: 1_796_656_320_042, random: 0xab)
        #expect(id == "20261207T151200.042Z-000000ab")
        #expect(SnapshotID.isValid(id))
        #expect(RetentionPolicy.day(of: id) == 1_796_656_320 / 86_400)
        #expect(SnapshotID.make(epochMilliseconds: 0, random: 0) == "19700101T000000.000Z-00000000")
        #expect(!SnapshotID.isValid("20261207T152200.042Z-000000AB"))
        #expect(!SnapshotID.isValid("20261207T152200Z-000000ab"))
        // Two backups in one second sort in the order they were taken, whatever their random parts.
        #expect(
            SnapshotID.make(epochMilliseconds: 1_796_656_320_042, random: 0xffff_ffff)
                < SnapshotID.make(epochMilliseconds: 1_796_656_320_043, random: 0))
    }

    static func id(day: Int64, hour: Int64) -> String {
        SnapshotID.make(epochMilliseconds: (day * 86_400 + hour * 3600) * 1000, random: UInt32(hour))
    }

    @Test func retentionKeepsTheNewestAndOnePerDayAndWeek() {
        // Days 20430 (a Monday: (20430 + 3) % 7 == 0) to 20443, two backups a day.
        let ids = (20_430..<20_444).flatMap { [Self.id(day: $0, hour: 1), Self.id(day: $0, hour: 13)] }
        #expect(RetentionPolicy(keepLast: 3).kept(ids) == Set(ids.suffix(3)))
        let daily = RetentionPolicy(keepDaily: 2).kept(ids)
        #expect(daily == [Self.id(day: 20_443, hour: 13), Self.id(day: 20_442, hour: 13)])
        let weekly = RetentionPolicy(keepWeekly: 5).kept(ids)
        #expect(weekly == [Self.id(day: 20_443, hour: 13), Self.id(day: 20_436, hour: 13)])
        let both = RetentionPolicy(keepLast: 1, keepDaily: 1, keepWeekly: 2).kept(ids)
        #expect(both == [Self.id(day: 20_443, hour: 13), Self.id(day: 20_436, hour: 13)])
        #expect(RetentionPolicy().kept(ids) == Set(ids))
        #expect(RetentionPolicy(keepLast: 0).kept(ids).isEmpty)
    }

    @Test func aPruneWaitsForNoOneButABackupOnlyForAPrune() {
        let now: Int64 = 1_000
        func lock(_ kind: String, expires: Int64) -> LockRecord {
            LockRecord(kind: kind, holder: "h", renewed: now, expires: expires)
        }
        let backup = ("b", lock("backup", expires: now + 600))
        let prune = ("p", lock("prune", expires: now + 600))
        let lapsed = ("old", lock("prune", expires: now - 1))
        #expect(RepositoryLocks.conflict(for: "backup", mine: "m", among: [backup, lapsed], now: now) == nil)
        #expect(RepositoryLocks.conflict(for: "backup", mine: "m", among: [prune], now: now)?.name == "p")
        #expect(RepositoryLocks.conflict(for: "prune", mine: "m", among: [backup], now: now)?.name == "b")
        #expect(RepositoryLocks.conflict(for: "prune", mine: "m", among: [lapsed], now: now) == nil)
        #expect(RepositoryLocks.conflict(for: "prune", mine: "p", among: [prune], now: now) == nil)
        // A backup waits for the prune in its way; a prune gives way to anything.
        #expect(RepositoryLocks.waits("backup") && !RepositoryLocks.waits("prune"))
    }
}
