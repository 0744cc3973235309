import CairnProtocol
import Testing

/// Parses UTF-8 text.
private func parse(_ text: String) throws(JSONParseError) -> JSONValue {
    try JSONParser.parse(Array(text.utf8))
}

/// The error the parser reports for `bytes`, or `nil` when it accepts them.
private func parseError(_ bytes: [UInt8]) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes)
        return nil
    } catch {
        return error
    }
}

private func parseError(_ text: String) -> JSONParseError? {
    parseError(Array(text.utf8))
}

/// The number a text parses to; fails the test when it is not one.
private func number(_ text: String) throws -> JSONNumber {
    guard case .number(let number) = try parse(text) else {
        Issue.record("\(text) did not parse as a number")
        return JSONNumber(0)
    }
    return number
}

@Suite("JSONParser: values")
struct JSONParserValueTests {
    @Test func literals() throws {
        #expect(try parse("null") == .null)
        #expect(try parse("true") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse(" \t\r\n true \t\r\n") == true)
    }

    @Test func containers() throws {
        #expect(try parse("[]") == [])
        #expect(try parse("{}") == .object(JSONObject()))
        #expect(try parse(" [ 1 , \"a\" , null , [ ] , { } ] ") == [1, "a", nil, [], .object(JSONObject())])
        let value = try parse(#"{"b":1,"a":{"c":[true,false]},"z":"x"}"#)
        #expect(value.objectValue?.keys == ["b", "a", "z"])
        #expect(value["a"]?["c"]?.arrayValue == [true, false])
        #expect(value["z"]?.stringValue == "x")
        #expect(value["missing"] == nil)
        #expect(value["z"]?["not an object"] == nil)
    }

    @Test func duplicateKeysLastWins() throws {
        let value = try parse(#"{"a":1,"b":2,"a":3}"#)
        let object = try #require(value.objectValue)
        #expect(object.count == 2)
        #expect(object.keys == ["a", "b"])
        #expect(object["a"] == 3)
        #expect(value.serialized() == Array(#"{"a":3,"b":2}"#.utf8))
    }

    @Test func manyKeysUseTheIndexConsistently() throws {
        let text = "{" + (0..<200).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + ",\"k7\":-1}"
        let object = try #require(try parse(text).objectValue)
        #expect(object.count == 200)
        #expect(object["k7"] == -1)
        #expect(object["k199"] == 199)
        #expect(object.keys.first == "k0")
    }

    @Test func sliceOfALargerBufferIsNotReadPastItsEnd() throws {
        // The closing quote lies outside the slice; the word-at-a-time scan must not see it.
        let bytes = Array(#""aaaaaaaaaaaaaaaaaaaaaa"   "#.utf8)
        let error = bytes.withUnsafeBytes { buffer -> JSONParseError? in
            do throws(JSONParseError) {
                _ = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<20]))
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.reason == "unterminated string")
        let whole = try bytes.withUnsafeBytes { buffer in
            try JSONParser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<24]))
        }
        #expect(whole == .string(String(repeating: "a", count: 22)))
    }

    @Test func largeStringValue() throws {
        let payload = String(repeating: "QUJDRA+/", count: 1 << 19)  // 4 MiB
        let value = try parse(#"{"data":""# + payload + #""}"#)
        #expect(value["data"]?.stringValue == payload)
    }
}

@Suite("JSONParser: numbers")
struct JSONParserNumberTests {
    @Test(arguments: [
        "0", "-0", "1", "-1", "10", "1.5", "-0.25", "0.0", "1e3", "1E3", "1e+3", "1e-3", "1.25E-10", "-0.0e0",
        "123456789012345678901234567890", "1e400", "9223372036854775807", "-9223372036854775808",
    ])
    func validNumbersKeepTheirLiteral(text: String) throws {
        #expect(try number(text).literal == text)
        #expect(try parse(text).serialized() == Array(text.utf8))
    }

    @Test func int64Boundaries() throws {
        #expect(try number("9223372036854775807").int64 == .max)
        #expect(try number("-9223372036854775808").int64 == .min)
        let over = try number("9223372036854775808")
        #expect(over.int64 == nil)
        #expect(over.isInteger)
        #expect(over.double == 9_223_372_036_854_775_808.0)
        #expect(try number("-9223372036854775809").int64 == nil)
        #expect(try number("123456789012345678901234567890").int64 == nil)
    }

    @Test func negativeZero() throws {
        let zero = try number("-0")
        #expect(zero.int64 == 0)
        #expect(zero.isInteger)
        #expect(zero.literal == "-0")
    }

    @Test func fractionsAndExponentsAreNotIntegers() throws {
        let one = try number("1.0")
        #expect(!one.isInteger)
        #expect(one.int64 == nil)
        #expect(one.double == 1)
        let thousand = try number("1e3")
        #expect(!thousand.isInteger)
        #expect(thousand.int64 == nil)
        #expect(thousand.double == 1000)
        #expect(try number("1E-2").double == 0.01)
        #expect(try number("1e400").double == .infinity)
        // Literal equality: 1 and 1.0 are different values.
        #expect(JSONValue.number(one) != 1)
        #expect(try parse("1") == 1)
    }

    @Test(arguments: [
        "01", "-01", "00", "+1", ".5", "-.5", "1.", "1.e3", "-", "--1", "1e", "1e+", "1E-", "0x10", "1_000", "NaN",
        "Infinity", "-Infinity", "1.5.2", "1e3e3", "- 1", "١",
    ])
    func invalidNumbers(text: String) {
        #expect(parseError(text) != nil, "accepted \(text)")
        #expect(parseError("[\(text)]") != nil, "accepted [\(text)]")
    }

    @Test func leadingZeroIsNamed() {
        #expect(parseError("012") == JSONParseError(offset: 1, reason: "leading zero in number"))
    }
}

@Suite("JSONParser: strings")
struct JSONParserStringTests {
    @Test func simpleEscapes() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try parse(#""a\nb""#) == "a\nb")
        #expect(try parse(#""\\""#) == "\\")
    }

    @Test func unicodeEscapes() throws {
        #expect(try parse(#""\u0041""#) == "A")
        #expect(try parse(#""\u00e9\u00E9""#) == "éé")
        #expect(try parse(#""\u20AC""#) == "€")
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try parse(#""\uFFFF""#) == .string("\u{FFFF}"))
        #expect(try parse(#""\uD83D\uDE00""#) == "😀")
        #expect(try parse(#""\ud83d\ude00x""#) == "😀x")
        #expect(try parse(#""\uDBFF\uDFFF""#) == .string("\u{10FFFF}"))
        #expect(try parse(#""a\u0041b\nc\u00e9d""#) == "aAb\ncéd")
    }

    @Test(arguments: [
        #""\uD800""#, #""\uD800x""#, #""\uDC00""#, #""\uDFFF\uD800""#, #""\uD800\u0041""#, #""\uD800\uD800""#,
        #""\uDBFF\n""#, #""\uD83D\"#, #""\uD83D\u""#,
    ])
    func loneSurrogates(text: String) {
        #expect(parseError(text) != nil, "accepted \(text)")
    }

    @Test(arguments: [#""\x""#, #""\U0041""#, #""\u00G0""#, #""\u12""#, #""\'""#, #""\"#, #""\u""#, #""\ ""#])
    func invalidEscapes(text: String) {
        #expect(parseError(text) != nil, "accepted \(text)")
    }

    @Test func unescapedControlCharactersAreRefused() {
        for byte: UInt8 in 0..<0x20 {
            #expect(parseError([0x22, 0x61, byte, 0x62, 0x22])?.offset == 2, "byte \(byte)")
        }
        // DEL is not a control character for JSON.
        #expect(parseError([0x22, 0x7F, 0x22]) == nil)
    }

    @Test func validUTF8PassesThrough() throws {
        #expect(try parse("\"é€😀\u{10FFFF}\u{FEFF}\"") == .string("é€😀\u{10FFFF}\u{FEFF}"))
        let mixed = String(repeating: "aé€😀b", count: 1000)
        #expect(try parse("\"\(mixed)\"") == .string(mixed))
    }

    @Test(
        arguments: [
            [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],
            [0xE2, 0x82], [0xE2, 0x82, 0x41], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF0, 0x80, 0x80, 0x80],
            [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
            [0xF8, 0x88, 0x80, 0x80, 0x80],
            [0xFE], [0xFF], [0xF0, 0x9F, 0x98],
        ] as [[UInt8]])
    func invalidUTF8InStrings(sequence: [UInt8]) {
        // Inside a short string, inside a long one (past the word-at-a-time scan), and at the very end.
        #expect(parseError([0x22] + sequence + [0x22]) != nil)
        #expect(parseError([0x22] + Array(repeating: 0x61, count: 37) + sequence + [0x61, 0x22]) != nil)
        #expect(parseError([0x22] + sequence) != nil)
        #expect(parseError(Array("{\"".utf8) + sequence + Array("\":1}".utf8)) != nil)
    }

    @Test func invalidUTF8OffsetPointsAtTheLeadByte() {
        #expect(parseError([0x22, 0x61, 0x62, 0xC0, 0x80, 0x22])?.offset == 3)
    }

    @Test func unterminatedStrings() {
        #expect(parseError("\"abc")?.reason == "unterminated string")
        #expect(parseError("\"" + String(repeating: "x", count: 100))?.reason == "unterminated string")
        #expect(parseError("\"abc\\")?.reason == "unterminated string")
    }
}

@Suite("JSONParser: structure errors")
struct JSONParserStructureTests {
    @Test(arguments: [
        "", " ", "\n", "[", "]", "{", "}", "[1", "[1,", "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{\"a\":}", "{\"a\" 1}",
        "{\"a\":1,}", "{,}", "{1:1}", "{a:1}", "{'a':1}", "['a']", "1 2", "{}x", "[]]", "nul", "nulll", "tru", "True",
        "NULL", "// c\n1", "/* c */ 1", "\u{FEFF}1", "\u{0B}1", "\u{0C}1", "\u{A0}1", "1\u{0B}", "[1]\u{0}",
        "{\"a\":1 \"b\":2}", "\"a\" \"b\"", "[\"a\":1]",
    ])
    func malformedDocuments(text: String) {
        #expect(parseError(text) != nil, "accepted \(text.debugDescription)")
    }

    @Test func errorOffsets() {
        #expect(parseError("[1,]") == JSONParseError(offset: 3, reason: "unexpected character"))
        #expect(parseError("") == JSONParseError(offset: 0, reason: "unexpected end of input"))
        #expect(parseError("[1 2]") == JSONParseError(offset: 3, reason: "expected ',' or ']'"))
        #expect(parseError("{\"a\" 1}") == JSONParseError(offset: 5, reason: "expected ':'"))
        #expect(parseError("1 x")?.offset == 2)
        #expect(parseError("tx")?.offset == 1)
    }

    @Test func depthLimitIs64() throws {
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(parseError(deepest) == nil)
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(parseError(tooDeep) == JSONParseError(offset: 64, reason: "nesting too deep"))
        let objects = String(repeating: "{\"a\":", count: 64) + "1" + String(repeating: "}", count: 64)
        #expect(parseError(objects) == nil)
        let mixed = String(repeating: "{\"a\":[", count: 33) + String(repeating: "]}", count: 33)
        #expect(parseError(mixed)?.reason == "nesting too deep")
        // Siblings do not add up: depth is nesting, not count.
        let wide =
            "["
            + Array(repeating: String(repeating: "[", count: 63) + String(repeating: "]", count: 63), count: 100)
            .joined(separator: ",") + "]"
        #expect(parseError(wide) == nil)
    }

    @Test func twentyMebibytesOfOpenBracketsAreRefusedWithoutCrashing() {
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 20 << 20)
        #expect(parseError(bytes) == JSONParseError(offset: 64, reason: "nesting too deep"))
        let objects = Array(String(repeating: "{\"a\":", count: 4 << 20).utf8)
        #expect(parseError(objects)?.reason == "nesting too deep")
    }

    @Test func emptyRawBuffer() {
        let error = { () -> JSONParseError? in
            do throws(JSONParseError) {
                _ = try JSONParser.parse(UnsafeRawBufferPointer(start: nil, count: 0))
                return nil
            } catch {
                return error
            }
        }()
        #expect(error?.reason == "unexpected end of input")
    }
}

@Suite("JSONValue, JSONNumber, JSONObject")
struct JSONValueModelTests {
    @Test func numberInitializers() {
        #expect(JSONNumber(Int64.min).literal == "-9223372036854775808")
        #expect(JSONNumber(Int64.min).int64 == .min)
        #expect(JSONNumber(UInt64.max).literal == "18446744073709551615")
        #expect(JSONNumber(UInt64.max).int64 == nil)
        #expect(JSONNumber(UInt64.max).isInteger)
        #expect(JSONNumber(42).int64 == 42)
        #expect(JSONNumber(1.0).literal == "1.0")
        #expect(!JSONNumber(1.0).isInteger)
        #expect(JSONNumber(0.1).double == 0.1)
        #expect(JSONNumber(-0.0).double.sign == .minus)
        for double in [1e20, 1e-7, -2.5e300, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude, 123.456] {
            let number = JSONNumber(double)
            #expect(number.double == double)
            #expect(parseError(number.literal) == nil, "\(number.literal) is not valid JSON")
        }
    }

    @Test func objectEditing() {
        var object = JSONObject([("a", 1), ("b", 2), ("a", 3)])
        #expect(object.keys == ["a", "b"])
        #expect(object["a"] == 3)
        object["c"] = "x"
        object["a"] = nil
        #expect(object.keys == ["b", "c"])
        object["b"] = .null
        #expect(object["b"] == .null)
        #expect(object.count == 2)
        object["b"] = nil
        object["b"] = nil
        #expect(object.keys == ["c"])
        #expect(JSONObject().count == 0)
    }

    @Test func largeObjectEditing() {
        var object = JSONObject()
        for i in 0..<100 { object["k\(i)"] = .number(JSONNumber(i)) }
        object["k50"] = nil
        object["k10"] = "ten"
        #expect(object.count == 99)
        #expect(object["k50"] == nil)
        #expect(object["k51"] == 51)
        #expect(object["k10"] == "ten")
        #expect(object.keys[10] == "k10")
        #expect(object.keys[50] == "k51")
        object["k50"] = 0
        #expect(object.keys.last == "k50")
    }

    @Test func objectEqualityIgnoresOrder() {
        let ab: JSONValue = ["a": 1, "b": [true, nil]]
        let ba: JSONValue = ["b": [true, nil], "a": 1]
        #expect(ab == ba)
        #expect(ab != ["a": 1, "b": [true, false]])
        #expect(ab != ["a": 1])
        #expect(ab != ["a": 1, "b": [true, nil], "c": 0])
    }

    @Test func accessors() {
        let value: JSONValue = ["s": "text", "b": false, "a": [1], "o": ["k": nil]]
        #expect(value["s"]?.stringValue == "text")
        #expect(value["b"]?.boolValue == false)
        #expect(value["a"]?.arrayValue == [1])
        #expect(value["o"]?.objectValue?["k"] == .null)
        #expect(value["s"]?.boolValue == nil)
        #expect(value["b"]?.stringValue == nil)
        #expect(value.arrayValue == nil)
        #expect(JSONValue.null.objectValue == nil)
        #expect(value.description == #"{"s":"text","b":false,"a":[1],"o":{"k":null}}"#)
    }
}
