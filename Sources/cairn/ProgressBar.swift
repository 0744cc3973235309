import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A one-line progress display of a transfer on standard error.
///
/// It draws only when enabled (see ``shouldShow(json:)``: standard error is
/// a terminal and `--json` is off), redraws at most ten times a second, and
/// shows the percentage and a bar when the total is known, the bytes done,
/// and the rate of this run (bytes resumed from an earlier run do not count
/// towards the rate). It never writes to standard output.
struct ProgressBar {
    private let enabled: Bool
    private let label: String
    private let total: UInt64?
    private let resumedBytes: UInt64
    private let started = ContinuousClock.now
    private var lastDrawn: ContinuousClock.Instant?
    private var done: UInt64
    private var visible = false

    /// Whether progress should be shown: standard error is a terminal and the output is not JSON.
    static func shouldShow(json: Bool) -> Bool {
        !json && isatty(2) == 1
    }

    /// - Parameters:
    ///   - label: what is transferred, e.g. the file name.
    ///   - total: the bytes expected, when known.
    ///   - resumedBytes: bytes already done before this run.
    ///   - enabled: draw at all; when false every method does nothing.
    init(label: String, total: UInt64?, resumedBytes: UInt64 = 0, enabled: Bool) {
        self.label = label
        self.total = total
        self.resumedBytes = resumedBytes
        self.done = resumedBytes
        self.enabled = enabled
    }

    /// Records that `bytes` are done in all, redrawing if the last draw is over 0.1 s old.
    mutating func update(_ bytes: UInt64) {
        done = bytes
        guard enabled else { return }
        let now = ContinuousClock.now
        if let lastDrawn, now - lastDrawn < .milliseconds(100) { return }
        lastDrawn = now
        draw(now)
    }

    /// Draws the final state and ends the line.
    mutating func finish() {
        guard enabled else { return }
        draw(.now)
        Output.writeStandardError("\n")
        visible = false
    }

    /// Ends the line if anything was drawn, so that an error message starts on a fresh one.
    mutating func interrupt() {
        guard enabled, visible else { return }
        Output.writeStandardError("\n")
        visible = false
    }

    private mutating func draw(_ now: ContinuousClock.Instant) {
        let elapsed = now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let transferred = done - min(done, resumedBytes)
        var name = label
        if name.count > 24 { name = "…" + name.suffix(23) }
        var line = name
        if let total {
            let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
            let width = 20
            let filled = Int((fraction * Double(width)).rounded(.down))
            let percent = String(Int((fraction * 100).rounded(.down)))
            line += "  " + String(repeating: " ", count: 3 - percent.count) + percent + "% ["
            line += String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "]"
            line += "  \(Output.bytes(done)) / \(Output.bytes(total))"
        } else {
            line += "  \(Output.bytes(done))"
        }
        if seconds > 0.05, transferred > 0 {
            line += "  \(Output.bytes(UInt64(Double(transferred) / seconds)))/s"
        }
        // Carriage return, the line, then erase whatever a longer previous line left.
        Output.writeStandardError("\r" + line + "\u{1B}[K")
        visible = true
    }
}
