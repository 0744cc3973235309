import ObjectStorage

/// Where a repository lives: `s3://BUCKET[/PREFIX][#BACKUP_ID]`.
///
/// The prefix is kept without leading or trailing slashes; every object of the repository is
/// under `PREFIX/` (or at the bucket's top when there is none).
public struct RepositoryLocation: Sendable, Hashable, CustomStringConvertible {
    /// The bucket.
    public var bucket: String
    /// The prefix, without slashes at either end; empty for the bucket's top.
    public var prefix: String
    /// The backup named after `#`, if any.
    public var backupID: String?

    /// Parses `s3://BUCKET[/PREFIX][#BACKUP_ID]`.
    ///
    /// - Throws: ``RepositoryError`` (`invalidArgument`) for anything else.
    public init(parsing text: String) throws {
        guard text.hasPrefix("s3://") else {
            throw RepositoryError(.invalidArgument, "\(text) is not an s3://BUCKET/PREFIX location")
        }
        var rest = Substring(text.dropFirst(5))
        if let hash = rest.firstIndex(of: "#") {
            let id = String(rest[rest.index(after: hash)...])
            guard SnapshotID.isValid(id) else {
                throw RepositoryError(.invalidArgument, "\(id) is not a backup id (see `cairn backup --list`)")
            }
            backupID = id
            rest = rest[..<hash]
        }
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { throw RepositoryError(.invalidArgument, "\(text) names no bucket") }
        self.bucket = String(bucket)
        let trimmed = rest.dropFirst(bucket.count).split(separator: "/", omittingEmptySubsequences: true)
        prefix = trimmed.joined(separator: "/")
        guard !trimmed.contains(where: { $0 == "." || $0 == ".." }) else {
            throw RepositoryError(.invalidArgument, "\(text): a prefix has no . or .. parts")
        }
    }

    /// A location of these parts.
    public init(bucket: String, prefix: String, backupID: String? = nil) {
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
        self.backupID = backupID
    }

    /// The key of the repository's object `name`.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "/" + name }

    public var description: String {
        "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") + (backupID.map { "#\($0)" } ?? "")
    }
}

/// Backup ids: the UTC time the backup was committed, to the millisecond, and a random part,
/// `20261207T151200.123Z-0123abcd`, so that their order is their age.
public enum SnapshotID {
    /// A new id for a backup committed at `epochMilliseconds`, with `random` as its last part.
    public static func make(epochMilliseconds: Int64, random: UInt32) -> String {
        let seconds = epochMilliseconds >= 0 ? epochMilliseconds / 1000 : (epochMilliseconds - 999) / 1000
        let stamp = SigningTime(secondsSince1970: seconds).timestamp.dropLast()  // YYYYMMDDTHHMMSS
        let milliseconds = String(epochMilliseconds - seconds * 1000)
        let hex = String(random, radix: 16)
        return stamp + "." + String(repeating: "0", count: 3 - milliseconds.count) + milliseconds + "Z-"
            + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Whether `text` has the shape of an id.
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 29, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "."),
            bytes[19] == UInt8(ascii: "Z"), bytes[20] == UInt8(ascii: "-")
        else { return false }
        let digits = bytes[0..<8] + bytes[9..<15] + bytes[16..<19]
        let hex = bytes[21...]
        return digits.allSatisfy { (0x30...0x39).contains($0) }
            && hex.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// UTC times as the repository writes them, on the calendar of the S3 client's signing times.
enum CivilTime {
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    static func iso8601(epochSeconds: Int64) -> String {
        let stamp = Array(SigningTime(secondsSince1970: epochSeconds).timestamp)
        return String(stamp[0..<4]) + "-" + String(stamp[4..<6]) + "-" + String(stamp[6..<8]) + "T"
            + String(stamp[9..<11]) + ":" + String(stamp[11..<13]) + ":" + String(stamp[13..<15]) + "Z"
    }
}
