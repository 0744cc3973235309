/// Why a JSON text was refused, and where.
///
/// The parser stops at the first problem; ``offset`` is the byte offset in the
/// input where it was found and ``reason`` a short English phrase for logs and
/// error messages (for example `"nesting too deep"` or `"invalid UTF-8"`). The
/// reason texts are for people, not for matching in code.
public struct JSONParseError: Error, Sendable, Equatable {
    /// The byte offset in the input at which the problem was found.
    public let offset: Int
    /// A short description of the problem.
    public let reason: String

    /// Creates an error at a byte offset.
    ///
    /// - Parameters:
    ///   - offset: the byte offset in the input at which the problem was found.
    ///   - reason: a short description of the problem.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
}

/// A strict RFC 8259 JSON parser for byte buffers.
///
/// The input must hold exactly one JSON value, optionally surrounded by
/// whitespace (space, tab, CR, LF). Everything RFC 8259 leaves to the
/// implementation is decided strictly: strings must be valid UTF-8 (no
/// overlong forms, no encoded surrogates), a `\u` escape of a surrogate must
/// be a proper high/low pair, control characters below U+0020 must be
/// escaped, numbers follow the grammar exactly (no leading zeros, no `+`,
/// no bare `.`), and containers nest at most ``maximumDepth`` deep, so no
/// input can exhaust the stack. A byte-order mark is refused. Repeated object
/// keys are accepted; the last value wins (see ``JSONObject``).
///
/// The parser does not stream and does not stop at a newline: give it one
/// complete line (the trailing `\n` may be included, it is whitespace).
public enum JSONParser {
    /// The deepest nesting of arrays and objects accepted; a 65th level is refused with "nesting too deep".
    static let maximumDepth = 64

    /// Parses one JSON text from raw bytes.
    ///
    /// - Parameter bytes: the UTF-8 encoded JSON text. It is read only during the call.
    /// - Returns: the value the text holds.
    /// - Throws: ``JSONParseError`` at the first byte that breaks the grammar.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw JSONParseError(offset: 0, reason: "unexpected end of input")
        }
        var parser = Parser(bytes: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        return try parser.parseDocument()
    }

    /// Parses one JSON text from an array of bytes.
    ///
    /// - Parameter bytes: the UTF-8 encoded JSON text.
    /// - Returns: the value the text holds.
    /// - Throws: ``JSONParseError`` at the first byte that breaks the grammar.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        // `withUnsafeBytes` does not forward typed throws, so carry the outcome out as a Result.
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { buffer in
            do throws(JSONParseError) {
                return .success(try parse(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// The parser's cursor over one input buffer.
private struct Parser {
    let bytes: UnsafePointer<UInt8>
    let count: Int
    var position = 0
    /// Reused for strings that contain escapes.
    var scratch: [UInt8] = []

    init(bytes: UnsafePointer<UInt8>, count: Int) {
        self.bytes = bytes
        self.count = count
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard position == count else { throw error("unexpected data after the value") }
        return value
    }

    // MARK: Values

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard position < count else { throw error("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw error("unexpected character")
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw error("nesting too deep") }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard position < count else { throw error("unexpected end of input") }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "]"):
                position += 1
                return .array(elements)
            default:
                throw error("expected ',' or ']'")
            }
        }
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw error("nesting too deep") }
        position += 1  // {
        var object = JSONObject()
        skipWhitespace()
        if position < count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard position < count else { throw error("unexpected end of input") }
            guard bytes[position] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard position < count else { throw error("unexpected end of input") }
            guard bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
            position += 1
            object[key] = try parseValue(depth: depth)
            skipWhitespace()
            guard position < count else { throw error("unexpected end of input") }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "}"):
                position += 1
                return .object(object)
            default:
                throw error("expected ',' or '}'")
            }
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let length = literal.utf8CodeUnitCount
        let text = literal.utf8Start
        for offset in 0..<length {
            guard position + offset < count else {
                position += offset
                throw error("unexpected end of input")
            }
            guard bytes[position + offset] == text[offset] else {
                position += offset
                throw error("invalid literal")
            }
        }
        position += length
    }

    // MARK: Numbers

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < count else { throw error("unexpected end of input in number") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < count, isDigit(bytes[position]) { throw error("leading zero in number") }
        } else if isDigit(bytes[position]) {
            skipDigits()
        } else {
            throw error("invalid number")
        }
        if position < count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < count, isDigit(bytes[position]) else { throw error("expected a digit after '.'") }
            skipDigits()
        }
        if position < count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < count, isDigit(bytes[position]) else { throw error("expected a digit in exponent") }
            skipDigits()
        }
        let literal = String(
            decoding: UnsafeBufferPointer(start: bytes + start, count: position - start), as: UTF8.self)
        return JSONNumber(uncheckedLiteral: literal)
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    mutating func skipDigits() {
        while position < count, isDigit(bytes[position]) { position += 1 }
    }

    // MARK: Strings

    /// Parses a string starting at its opening quote and leaves the cursor after the closing one.
    ///
    /// Runs of plain bytes are skipped eight at a time and copied into the result in one piece;
    /// only escapes and non-ASCII bytes are looked at one by one.
    mutating func parseString() throws(JSONParseError) -> String {
        position += 1  // opening quote
        var runStart = position
        var escaped = false
        while true {
            position = skipPlainASCII(from: position)
            guard position < count else { throw error("unterminated string") }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                let run = UnsafeBufferPointer(start: bytes + runStart, count: position - runStart)
                position += 1
                if !escaped {
                    return String(decoding: run, as: UTF8.self)
                }
                scratch.append(contentsOf: run)
                let string = String(decoding: scratch, as: UTF8.self)
                scratch.removeAll(keepingCapacity: true)
                return string
            case UInt8(ascii: "\\"):
                if !escaped {
                    escaped = true
                    scratch.removeAll(keepingCapacity: true)
                }
                scratch.append(contentsOf: UnsafeBufferPointer(start: bytes + runStart, count: position - runStart))
                try parseEscape()
                runStart = position
            case 0..<0x20:
                throw error("unescaped control character in string")
            case 0x80...:
                try skipUTF8Sequence()
            default:
                position += 1
            }
        }
    }

    /// The first position at or after `start` whose byte is a quote, a backslash, a control
    /// character or non-ASCII (or `count`, or a position near the end the caller checks bytewise).
    @inline(__always)
    func skipPlainASCII(from start: Int) -> Int {
        StringScan.skip(UnsafeRawPointer(bytes), count: count, from: start, stopAtNonASCII: true)
    }

    /// Validates one multi-byte UTF-8 sequence (Unicode Table 3-7) and moves past it.
    mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = bytes[position]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default:
            throw error("invalid UTF-8")
        }
        guard position + length <= count else { throw error("invalid UTF-8") }
        let second = bytes[position + 1]
        guard second >= low, second <= high else { throw error("invalid UTF-8") }
        for offset in 2..<length where bytes[position + offset] & 0xC0 != 0x80 {
            throw error("invalid UTF-8")
        }
        position += length
    }

    /// Decodes the escape at the cursor (a backslash) into `scratch`.
    mutating func parseEscape() throws(JSONParseError) {
        guard position + 1 < count else { throw error("unterminated string") }
        let replacement: UInt8
        switch bytes[position + 1] {
        case UInt8(ascii: "\""): replacement = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): replacement = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): replacement = UInt8(ascii: "/")
        case UInt8(ascii: "b"): replacement = 0x08
        case UInt8(ascii: "f"): replacement = 0x0C
        case UInt8(ascii: "n"): replacement = 0x0A
        case UInt8(ascii: "r"): replacement = 0x0D
        case UInt8(ascii: "t"): replacement = 0x09
        case UInt8(ascii: "u"):
            try parseUnicodeEscape()
            return
        default:
            position += 1
            throw error("invalid escape")
        }
        scratch.append(replacement)
        position += 2
    }

    /// Decodes `\uXXXX`, or a surrogate pair `\uD8xx\uDCxx`, into `scratch` as UTF-8.
    mutating func parseUnicodeEscape() throws(JSONParseError) {
        let escapeStart = position
        let first = try hexQuad(at: position + 2)
        position += 6
        var scalar = UInt32(first)
        switch first {
        case 0xD800...0xDBFF:
            guard position + 1 < count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
            else {
                position = escapeStart
                throw error("lone surrogate in \\u escape")
            }
            let second = try hexQuad(at: position + 2)
            guard (0xDC00...0xDFFF).contains(second) else {
                position = escapeStart
                throw error("lone surrogate in \\u escape")
            }
            position += 6
            scalar = 0x10000 + ((UInt32(first) - 0xD800) << 10) + (UInt32(second) - 0xDC00)
        case 0xDC00...0xDFFF:
            position = escapeStart
            throw error("lone surrogate in \\u escape")
        default:
            break
        }
        appendUTF8(scalar)
    }

    /// The four hex digits at `index` as a number.
    func hexQuad(at index: Int) throws(JSONParseError) -> UInt16 {
        guard index + 4 <= count else { throw JSONParseError(offset: min(index, count), reason: "unterminated string") }
        var value: UInt16 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONParseError(offset: index + offset, reason: "invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: Whitespace and errors

    @inline(__always)
    mutating func skipWhitespace() {
        while position < count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    func error(_ reason: String) -> JSONParseError {
        JSONParseError(offset: position, reason: reason)
    }
}
