import CairnProtocol
import Foundation
import Logging

/// A log handler for log shippers: one JSON object a line.
///
/// Each record is `{"time":…,"level":…,"label":…,"message":…,"metadata":{…}}`
/// and a newline, in that key order: `time` in RFC 3339, UTC, to the
/// millisecond; `level` the swift-log level's name (`info`, `warning`, …);
/// `metadata` an object whose keys are sorted, with strings for plain
/// values and arrays and objects for nested ones. A message's line breaks
/// stay inside its string, so a record is always one line.
public struct JSONLogHandler: LogHandler {
    /// The logger's label.
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let output: LogOutput
    private let clock: @Sendable () -> Date

    /// A handler for the logger `label`.
    ///
    /// - Parameters:
    ///   - output: where records go (standard error by default).
    ///   - clock: the time of a record (the wall clock by default).
    public init(
        label: String, output: LogOutput = .standardError, metadataProvider: Logger.MetadataProvider? = nil,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = LogRecord.merge(handler: metadata, provider: metadataProvider, event: event.metadata)
        let record = JSONValue.object(
            JSONObject([
                ("time", .string(clock().ISO8601Format(.iso8601WithTimeZone(includingFractionalSeconds: true)))),
                ("level", .string(event.level.rawValue)),
                ("label", .string(label)),
                ("message", .string(event.message.description)),
                ("metadata", Self.json(merged)),
            ]))
        var bytes = record.serialized()
        bytes.append(UInt8(ascii: "\n"))
        output.write(bytes)
    }

    static func json(_ metadata: Logger.Metadata) -> JSONValue {
        .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let metadata): json(metadata)
        }
    }
}
