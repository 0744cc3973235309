extension JSONValue {
    /// The compact JSON text of this value, as UTF-8 bytes.
    ///
    /// See ``serialized(into:)`` for the format. No newline is appended.
    public func serialized() -> [UInt8] {
        var buffer: [UInt8] = []
        serialized(into: &buffer)
        return buffer
    }

    /// Appends the compact JSON text of this value to `buffer`.
    ///
    /// The output has no whitespace; object keys come in insertion order; numbers are
    /// written as their literal; strings escape `"`, `\` and the control characters below
    /// U+0020 (as `\b \f \n \r \t`, else `\u00XX` with lowercase hex) and pass every other
    /// character through as UTF-8, including `/`, DEL and non-ASCII. Long strings are copied
    /// in runs, not character by character. No newline is appended.
    ///
    /// - Parameter buffer: the bytes to append to; existing contents are kept.
    public func serialized(into buffer: inout [UInt8]) {
        switch self {
        case .null:
            appendASCII("null", to: &buffer)
        case .bool(let value):
            appendASCII(value ? "true" : "false", to: &buffer)
        case .number(let number):
            buffer.append(contentsOf: number.literal.utf8)
        case .string(let string):
            JSONWriter.appendString(string, to: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { buffer.append(UInt8(ascii: ",")) }
                element.serialized(into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let object):
            buffer.append(UInt8(ascii: "{"))
            for (position, entry) in object.entries.enumerated() {
                if position > 0 { buffer.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(entry.key, to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                entry.value.serialized(into: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
    }

    private func appendASCII(_ text: StaticString, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}

/// String escaping for the writer.
enum JSONWriter {
    private static let hexDigits: StaticString = "0123456789abcdef"

    /// Appends `string` as a quoted JSON string.
    static func appendString(_ string: String, to buffer: inout [UInt8]) {
        var string = string
        string.withUTF8 { utf8 in
            let needed = buffer.count + utf8.count + 2
            if needed > buffer.capacity {
                // Grow geometrically: an exact reservation per string would make many small strings quadratic.
                buffer.reserveCapacity(max(needed, buffer.capacity * 2))
            }
            buffer.append(UInt8(ascii: "\""))
            guard let base = utf8.baseAddress else {
                buffer.append(UInt8(ascii: "\""))
                return
            }
            let count = utf8.count
            var runStart = 0
            var position = 0
            while true {
                position = skipUnescaped(base, count: count, from: position)
                guard position < count else { break }
                let byte = base[position]
                guard let escape = escapeNeeded(byte) else {
                    position += 1
                    continue
                }
                buffer.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: position - runStart))
                buffer.append(UInt8(ascii: "\\"))
                if escape != UInt8(ascii: "u") {
                    buffer.append(escape)
                } else {
                    buffer.append(UInt8(ascii: "u"))
                    buffer.append(UInt8(ascii: "0"))
                    buffer.append(UInt8(ascii: "0"))
                    buffer.append(hexDigits.utf8Start[Int(byte >> 4)])
                    buffer.append(hexDigits.utf8Start[Int(byte & 0x0F)])
                }
                position += 1
                runStart = position
            }
            buffer.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: count - runStart))
            buffer.append(UInt8(ascii: "\""))
        }
    }

    /// The character to write after the backslash for `byte`, `u` for a `\u00XX` escape,
    /// or `nil` when the byte is written as is.
    @inline(__always)
    private static func escapeNeeded(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "\""): return UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): return UInt8(ascii: "\\")
        case 0x08: return UInt8(ascii: "b")
        case 0x09: return UInt8(ascii: "t")
        case 0x0A: return UInt8(ascii: "n")
        case 0x0C: return UInt8(ascii: "f")
        case 0x0D: return UInt8(ascii: "r")
        case 0..<0x20: return UInt8(ascii: "u")
        default: return nil
        }
    }

    /// The first position at or after `start` that may need an escape, checking eight bytes at a time;
    /// may stop early at a byte that needs none.
    @inline(__always)
    private static func skipUnescaped(_ base: UnsafePointer<UInt8>, count: Int, from start: Int) -> Int {
        StringScan.skip(UnsafeRawPointer(base), count: count, from: start, stopAtNonASCII: false)
    }
}
