import ObjectStorage

/// Which backups a prune keeps: pure, on backup ids (whose first part is the time they began).
///
/// `keepLast` keeps the newest N. `keepDaily` keeps, for each of the newest N UTC days that have
/// backups, the newest backup of that day; `keepWeekly` likewise for weeks (Monday to Sunday,
/// UTC). A backup any rule keeps is kept. No rule at all keeps everything.
public struct RetentionPolicy: Sendable, Hashable {
    /// Keep the newest N backups.
    public var keepLast: Int?
    /// Keep the newest backup of each of the newest N days that have one.
    public var keepDaily: Int?
    /// Keep the newest backup of each of the newest N weeks that have one.
    public var keepWeekly: Int?

    /// A policy of these rules.
    public init(keepLast: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil) {
        self.keepLast = keepLast
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
    }

    /// The ids of `ids` to keep.
    public func kept(_ ids: [String]) -> Set<String> {
        if keepLast == nil, keepDaily == nil, keepWeekly == nil { return Set(ids) }
        let newestFirst = ids.filter(SnapshotID.isValid).sorted(by: >)
        var kept = Set(newestFirst.prefix(max(0, keepLast ?? 0)))
        func keepNewestPer(_ bucket: (Int64) -> Int64, count: Int?) {
            guard let count, count > 0 else { return }
            var seen: Set<Int64> = []
            for id in newestFirst {
                let key = bucket(Self.day(of: id))
                guard !seen.contains(key) else { continue }
                guard seen.count < count else { break }
                seen.insert(key)
                kept.insert(id)
            }
        }
        keepNewestPer({ $0 }, count: keepDaily)
        // 1970-01-01 was a Thursday: days + 3 counts from a Monday.
        keepNewestPer({ day in (day + 3 >= 0 ? day + 3 : day - 3) / 7 }, count: keepWeekly)
        return kept
    }

    /// Days since 1970-01-01 of the date an id begins with (`YYYYMMDD`).
    static func day(of id: String) -> Int64 {
        let digits = Array(id.utf8.prefix(8)).map { Int($0) - 48 }
        let year = digits[0...3].reduce(0) { $0 * 10 + $1 }
        let time = SigningTime(year: year, month: digits[4] * 10 + digits[5], day: digits[6] * 10 + digits[7])
        return time.secondsSince1970 / 86_400
    }
}
