import CairnProtocol
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the client subcommands print: `key: value` lines and tables for
/// people, one JSON text per line for `--json`, one line per error on
/// standard error.
enum Output {
    /// A line on standard output.
    static func line(_ text: String) {
        print(text)
    }

    /// A JSON value as one line on standard output.
    static func json(_ value: JSONValue) {
        print(value.description)
    }

    /// A line on standard error, unbuffered.
    static func error(_ text: String) {
        writeStandardError(text + "\n")
    }

    /// Text on standard error, unbuffered and without a newline (progress bars).
    static func writeStandardError(_ text: String) {
        // Whatever is buffered on standard output goes first, so the two streams stay in order on a terminal.
        fflush(nil)
        var bytes = Array(text.utf8)
        _ = try? FileIO.writeAll(2, &bytes)
    }

    /// `key: value` lines with the values aligned; an empty key continues the previous key's list.
    static func fields(_ pairs: [(String, String)]) {
        let width = (pairs.map { $0.0.count }.max() ?? 0) + 2
        for (key, value) in pairs {
            let label = key.isEmpty ? "" : key + ":"
            print(label + String(repeating: " ", count: max(0, width - label.count)) + value)
        }
    }

    /// A table: a header row, then the rows, columns separated by two spaces.
    ///
    /// - Parameter rightAligned: the columns whose cells are aligned right (numbers).
    static func table(_ headers: [String], _ rows: [[String]], rightAligned: Set<Int> = []) {
        var widths = headers.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.count)
            }
        }
        func render(_ cells: [String]) -> String {
            var line = ""
            for (column, cell) in cells.enumerated() {
                let last = column == cells.count - 1
                let pad = String(repeating: " ", count: max(0, widths[column] - cell.count))
                if rightAligned.contains(column) {
                    line += pad + cell
                } else {
                    line += last ? cell : cell + pad
                }
                if !last { line += "  " }
            }
            return line
        }
        print(render(headers))
        for row in rows { print(render(row)) }
    }

    /// A byte count for people: exact below 1 KiB, else IEC units with one decimal (`40.0 MiB`).
    static func bytes(_ count: UInt64) -> String {
        guard count >= 1024 else { return "\(count) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var divisor: UInt64 = 1024
        var unit = 0
        while count / divisor >= 1024, unit < units.count - 1 {
            divisor *= 1024
            unit += 1
        }
        // Tenths of the unit, rounded half to even as printf's %.1f rounds (the quotient is exact here).
        var (tenths, remainder) = divisor.dividingFullWidth(count.multipliedFullWidth(by: 10))
        if remainder * 2 > divisor || (remainder * 2 == divisor && tenths % 2 == 1) { tenths += 1 }
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// A byte count as its exact number, followed by the IEC form when that is shorter to read.
    static func exactBytes(_ count: UInt64) -> String {
        count >= 1024 ? "\(count) (\(bytes(count)))" : "\(count)"
    }

    /// A JSON value as plain text: strings bare, `null` as `none`, arrays comma-separated.
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: "none"
        case .bool(let flag): flag ? "true" : "false"
        case .number(let number): number.literal
        case .string(let string): string
        case .array(let elements): elements.isEmpty ? "none" : elements.map(text).joined(separator: ", ")
        case .object: value.description
        }
    }

    /// A byte-count field of a result as exact bytes plus IEC units; `none` for null.
    static func bytesField(_ value: JSONValue?) -> String {
        guard let value else { return "-" }
        if let count = value.uint64 { return exactBytes(count) }
        return text(value)
    }
}

extension JSONValue {
    /// The value as a non-negative integer, when it is one.
    var uint64: UInt64? {
        guard case .number(let number) = self, let value = number.int64, value >= 0 else { return nil }
        return UInt64(value)
    }
}
