import CairnProtocol

/// The values and edits the generator mutates requests with: wrong JSON
/// types, numbers at and past the edges, malformed ids and digests, odd
/// strings, and byte-level damage to a serialized line.
///
/// Each edit names itself, so a failure message says what was done to the
/// request that triggered it.
enum Mutations {
    /// A JSON value from its literal text (numbers keep their spelling).
    static func literal(_ text: String) -> JSONValue {
        (try? JSONParser.parse(Array(text.utf8))) ?? .string(text)
    }

    /// Values of every JSON type, for a param of some other type.
    static let wrongTypes: [JSONValue] = [
        .string("x"), .string(""), 1, .number(JSONNumber(-1)), literal("1.5"), true, false, .array([]),
        .object(JSONObject()), .array([1, "a"]), .object(JSONObject([("a", 1)])), .string("1"), .string("true"),
    ]

    /// Numbers past the integer range, negative, fractional or with exponents.
    static let oddNumbers: [JSONValue] = [
        literal("9223372036854775807"), literal("9223372036854775808"), literal("18446744073709551616"),
        literal("123456789012345678901234567890"), literal("1e400"), literal("-1"), literal("-9223372036854775808"),
        literal("-0"), literal("0.5"), literal("1.0"), literal("1e3"), literal("1E-7"), literal("-0.0"),
        literal("4294967296"), literal("0"),
    ]

    /// Strings that are not quite UUIDs (and a few that are, in odd spellings).
    static let oddUUIDs: [JSONValue] = [
        "", "not-a-uuid", "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9", "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a0",
        "0B7C3C2E-4A8F-4D55-9D37-0D2F3C6B1E9A", "{0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a}",
        "0b7c3c2e4a8f4d559d370d2f3c6b1e9a", "0b7c3c2g-4a8f-4d55-9d37-0d2f3c6b1e9a",
        "00000000-0000-0000-0000-000000000000",
        "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a ", " 0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "0b7c3c2e_4a8f_4d55_9d37_0d2f3c6b1e9a",
    ]

    /// Strings that are not quite SHA-256 digests (and a few accepted spellings).
    static let oddDigests: [JSONValue] = [
        .string(String(repeating: "a", count: 63)), .string(String(repeating: "a", count: 65)),
        .string("sha256:" + String(repeating: "A", count: 64)), .string("SHA256:" + String(repeating: "b", count: 64)),
        .string(String(repeating: "g", count: 64)), .string("sha512:" + String(repeating: "a", count: 64)),
        .string("sha256:"), "", .string(String(repeating: "0", count: 64)),
        .string(" " + String(repeating: "a", count: 64)),
        .string(String(repeating: "a", count: 32)),
    ]

    /// Names a tenant or provider must not have (and edge cases that pass).
    static let oddNames: [JSONValue] = [
        "", "UPPER", "-starts-with-dash", ".dot", "a/b", "*", "a b", "tenant\u{0}", "ténant",
        .string(String(repeating: "a", count: 63)), .string(String(repeating: "a", count: 64)),
        .string(String(repeating: "a", count: 129)), "nope:x", "a:b", "::", "0", "x\n",
    ]

    /// Strings with escapes, control characters, non-ASCII and long runs.
    static let oddStrings: [JSONValue] = [
        "\u{0}", "\u{1}\u{1f}", "é", "💥", "\u{202e}rtl", "\\", "\"", "line\nbreak", "\u{FFFF}", "tab\tin",
        .string(String(repeating: "ab", count: 2048)), "null", "c1.", "c1.0000000000000001", "c1.zzzz", "c2.1",
    ]

    /// Method names that the table does not have.
    static func unknownMethods(_ known: String) -> [JSONValue] {
        [
            "no.such.method", "", .string(known.uppercased()), .string(known + " "), .string(" " + known),
            .string(known + "\u{0}"), .string(known.replacing(".", with: "/")), "rpc.discover",
            .string(String(repeating: "m", count: 4096)), "system", "system.", ".hello",
        ]
    }

    /// Byte sequences that are not UTF-8.
    static let invalidUTF8: [[UInt8]] = [
        [0xFF], [0xFE, 0xFF], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80],
        [0xE2, 0x82], [0xF0, 0x9F, 0x92],
    ]

    /// Text that breaks a JSON string from inside: a lone surrogate escape,
    /// a bad escape, a raw control byte.
    static let brokenEscapes: [[UInt8]] = [
        Array(#"\ud800"#.utf8), Array(#"\udc00\ud800"#.utf8), Array(#"\x41"#.utf8), Array(#"\u12"#.utf8), [0x01],
        [0x00], Array(#"\"#.utf8),
    ]
}

extension Array where Element == UInt8 {
    /// The bytes for a failure message: printable ASCII as is, others as
    /// `\xNN`, at most `limit` bytes shown.
    public func escapedForMessage(limit: Int = 600) -> String {
        var text = ""
        for byte in prefix(limit) {
            switch byte {
            case 0x20...0x7E where byte != 0x5C: text.unicodeScalars.append(UnicodeScalar(byte))
            case 0x5C: text += "\\\\"
            case 0x0A: text += "\\n"
            case 0x0D: text += "\\r"
            case 0x09: text += "\\t"
            default: text += "\\x" + String(byte, radix: 16).leftPadded(to: 2)
            }
        }
        if count > limit { text += "… (\(count) bytes in all)" }
        return text
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
