/// Splits a connection's byte stream into request lines and the raw
/// attachments that follow some of them. A pure state machine: feed it
/// bytes, then take frames until it has none.
///
/// After a ``Frame/line(_:)`` the caller decides, before taking the next
/// frame, whether that line carries an attachment: ``expectAttachment(_:keep:)``
/// makes the decoder collect (or silently drop) the next N bytes.
///
/// A line longer than `maxLineBytes` is reported once as
/// ``Frame/lineTooLarge`` and the rest of it, up to the next newline, is
/// skipped without being buffered.
public struct FrameDecoder: Sendable {
    /// One unit of input.
    public enum Frame: Sendable, Equatable {
        /// A request line, without its newline (a trailing CR is kept).
        case line([UInt8])
        /// A line over the limit; it is being skipped.
        case lineTooLarge
        /// The whole attachment announced by the previous line.
        case attachment([UInt8])
    }

    private enum State: Sendable, Equatable {
        case line
        case skippingLine
        case attachment(remaining: Int, keep: Bool)
    }

    public let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for a newline resumes.
    private var scanned = 0
    private var state = State.line
    private var collected: [UInt8] = []

    public init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes buffered and not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - start + collected.count }

    /// True when no partial line or attachment is pending.
    public var isIdle: Bool { state == .line && start == buffer.count }

    /// Adds bytes read from the connection.
    ///
    /// While an attachment is being collected and nothing else is
    /// buffered, its bytes go straight into the attachment (or are dropped)
    /// instead of passing through the line buffer: bulk uploads are copied
    /// once here, not twice.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var bytes = bytes
        if case .attachment(let remaining, let keep) = state, start == buffer.count, !bytes.isEmpty {
            let take = min(remaining, bytes.count)
            if keep { collected.append(contentsOf: bytes[..<take]) }
            state = .attachment(remaining: remaining - take, keep: keep)
            bytes = UnsafeRawBufferPointer(rebasing: bytes[take...])
            if bytes.isEmpty { return }
        }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            scanned -= start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes read from the connection.
    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// The announced line will be followed by `length` raw bytes; collect
    /// them as an ``Frame/attachment(_:)`` when `keep`, else drop them.
    public mutating func expectAttachment(_ length: Int, keep: Bool) {
        precondition(state == .line, "an attachment must follow a line")
        precondition(length >= 0)
        if length == 0 {
            if keep { pendingEmpty = true }
            return
        }
        state = .attachment(remaining: length, keep: keep)
        if keep { collected.reserveCapacity(length) }
    }

    private var pendingEmpty = false

    /// The next complete frame, or `nil` when more bytes are needed.
    public mutating func next() -> Frame? {
        if pendingEmpty {
            pendingEmpty = false
            return .attachment([])
        }
        while true {
            switch state {
            case .line:
                let available = buffer.count - start
                if let newline = indexOfNewline() {
                    defer {
                        start = newline + 1
                        scanned = start
                    }
                    if newline - start > maxLineBytes { return .lineTooLarge }
                    return .line(Array(buffer[start..<newline]))
                }
                if available > maxLineBytes {
                    start = buffer.count
                    scanned = start
                    state = .skippingLine
                    return .lineTooLarge
                }
                return nil
            case .skippingLine:
                if let newline = indexOfNewline() {
                    start = newline + 1
                    scanned = start
                    state = .line
                    continue
                }
                start = buffer.count
                scanned = start
                return nil
            case .attachment(let remaining, let keep):
                // `remaining` is 0 when `feed` completed the attachment.
                let take = min(remaining, buffer.count - start)
                if keep { collected.append(contentsOf: buffer[start..<start + take]) }
                start += take
                scanned = start
                if take == remaining {
                    state = .line
                    if keep {
                        defer { collected = [] }
                        return .attachment(collected)
                    }
                    continue
                }
                state = .attachment(remaining: remaining - take, keep: keep)
                return nil
            }
        }
    }

    private mutating func indexOfNewline() -> Int? {
        let from = max(scanned, start)
        let found = buffer.withUnsafeBufferPointer { pointer -> Int? in
            guard from < pointer.count else { return nil }
            guard let base = pointer.baseAddress,
                let hit = memchr(base + from, Int32(UInt8(ascii: "\n")), pointer.count - from)
            else { return nil }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
        if found == nil { scanned = buffer.count }
        return found
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
