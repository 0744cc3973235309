import Logging

/// A log handler for a service whose standard error is connected to the
/// systemd journal (`JOURNAL_STREAM` is set).
///
/// Each line begins with its syslog priority as `<N>` (`sd-daemon(3)`),
/// which journald strips and records as the entry's `PRIORITY`, so that
/// `journalctl -p warning` finds warnings. No timestamp and no level name
/// are written: the journal records both. A message of several lines is
/// written as several entries, each with the priority. A line reads
/// `<N>label: message key=value …`, the metadata keys sorted.
public struct JournalLogHandler: LogHandler {
    /// The logger's label, written before each message.
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let output: LogOutput

    /// A handler for the logger `label`, writing to `output` (standard error by default).
    public init(label: String, output: LogOutput = .standardError, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The syslog priority of a level: `critical` is 2 (crit), `error` 3,
    /// `warning` 4, `notice` 5, `info` 6, `debug` and `trace` 7.
    public static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        let merged = LogRecord.merge(handler: metadata, provider: metadataProvider, event: event.metadata)
        var text = "\(label): \(event.message)"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            text += " \(key)=\(value)"
        }
        let prefix = "<\(Self.priority(of: event.level))>"
        var record: [UInt8] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            record.append(contentsOf: prefix.utf8)
            record.append(contentsOf: line.utf8)
            record.append(UInt8(ascii: "\n"))
        }
        output.write(record)
    }
}

/// What the handlers share about a record.
enum LogRecord {
    /// The metadata of one record: the handler's, then the provider's, then the call's; later ones win.
    static func merge(
        handler: Logger.Metadata, provider: Logger.MetadataProvider?, event: Logger.Metadata?
    ) -> Logger.Metadata {
        var merged = handler
        if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
        if let event { merged.merge(event) { _, new in new } }
        return merged
    }
}
