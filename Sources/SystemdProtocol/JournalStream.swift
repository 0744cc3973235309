/// The journal stream a service's output is connected to (`JOURNAL_STREAM`).
///
/// systemd sets `JOURNAL_STREAM=DEVICE:INODE` when it connects standard
/// output or error to the journal. A process that inherited the variable
/// but whose standard error was redirected elsewhere must not log for the
/// journal, so the value is compared with what `fstat(2)` says of the
/// descriptor (`systemd.exec(5)`).
public struct JournalStream: Equatable, Sendable {
    /// The stream's device number (`st_dev`).
    public let device: UInt64
    /// The stream's inode number (`st_ino`).
    public let inode: UInt64

    /// Creates a stream identity from its device and inode numbers.
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// Reads `JOURNAL_STREAM` from `environment`.
    ///
    /// - Returns: `nil` when it is unset or not two decimal numbers joined by
    ///   a colon: then nothing says the output goes to the journal.
    public static func from(environment: [String: String]) -> JournalStream? {
        guard let text = environment["JOURNAL_STREAM"] else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return JournalStream(device: device, inode: inode)
    }
}
