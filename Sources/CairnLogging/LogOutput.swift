#if canImport(Glibc)
    import Glibc
#endif

/// Where a log handler's records go: one call per record.
///
/// Each record arrives whole, its lines ended by newlines, so that an
/// output writing it with one `write(2)` keeps records of concurrent
/// loggers from interleaving (a pipe keeps writes up to `PIPE_BUF` whole).
public struct LogOutput: Sendable {
    private let sink: @Sendable ([UInt8]) -> Void

    /// An output that hands each record to `sink`.
    public init(_ sink: @escaping @Sendable ([UInt8]) -> Void) {
        self.sink = sink
    }

    /// Writes one record.
    public func write(_ record: [UInt8]) { sink(record) }

    /// Standard error, written unbuffered: a record is on its way when the call returns.
    public static let standardError = LogOutput { record in
        record.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // Nowhere left to say it.
                }
                offset += written
            }
        }
    }
}
