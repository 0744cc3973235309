import CairnProtocol
import Testing

/// Params from the text of a JSON object.
private func params(_ text: String) -> Params {
    guard case .object(let object) = try? JSONParser.parse(Array(text.utf8)) else {
        preconditionFailure("not a JSON object: \(text)")
    }
    return Params(object)
}

/// Params holding one key `k` with the value written as `literal`.
private func k(_ literal: String) -> Params {
    params(#"{"k":\#(literal)}"#)
}

/// The error `body` throws, or `nil` when it returns.
private func failure<T>(_ body: () throws(RPCError) -> T) -> RPCError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// Expects INVALID_PARAMS naming `field`.
private func expectInvalid(
    _ error: RPCError?, field: String = "k", sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error else {
        Issue.record("expected INVALID_PARAMS for \(field), got a value", sourceLocation: sourceLocation)
        return
    }
    #expect(error.code == .invalidParams, sourceLocation: sourceLocation)
    #expect(error.code.number == -32602, sourceLocation: sourceLocation)
    #expect(error.data["field"] == .string(field), sourceLocation: sourceLocation)
}

@Suite("Params")
struct ParamsTests {
    // MARK: Presence

    @Test func hasCountsNullAsPresent() {
        #expect(k("null").has("k"))
        #expect(k("1").has("k"))
        #expect(!params("{}").has("k"))
    }

    // MARK: Strings

    @Test func stringReadsAString() throws {
        #expect(try k(#""acme""#).string("k") == "acme")
        #expect(try k(#""""#).string("k") == "")
        #expect(try k(#""\u00e9\n""#).string("k") == "é\n")
    }

    @Test(arguments: ["1", "true", "[]", "{}", #"["a"]"#, "1.5"])
    func stringOfTheWrongTypeIsRefused(_ literal: String) {
        expectInvalid(failure { () throws(RPCError) in try k(literal).string("k") })
        expectInvalid(failure { () throws(RPCError) in try k(literal).optionalString("k") })
    }

    @Test func missingOrNullRequiredStringIsRefused() {
        expectInvalid(failure { () throws(RPCError) in try params("{}").string("k") })
        expectInvalid(failure { () throws(RPCError) in try k("null").string("k") })
        expectInvalid(failure { () throws(RPCError) in try params(#"{"K":"x"}"#).string("k") })
    }

    @Test func optionalStringIsNilWhenAbsentOrNull() throws {
        #expect(try params("{}").optionalString("k") == nil)
        #expect(try k("null").optionalString("k") == nil)
        #expect(try k(#""x""#).optionalString("k") == "x")
    }

    // MARK: Integers

    @Test(arguments: [
        ("0", UInt64(0)), ("1", 1), ("4194304", 4_194_304), ("9223372036854775807", 9_223_372_036_854_775_807),
        ("-0", 0),
    ])
    func integerReadsNonNegativeIntegers(_ literal: String, _ expected: UInt64) throws {
        #expect(try k(literal).integer("k") == expected)
        #expect(try k(literal).optionalInteger("k") == expected)
        #expect(try k(literal).nullableInteger("k") == .value(expected))
    }

    @Test(arguments: [
        "1.0", "1.5", "0.0", "1e3", "1E3", "10e-1", "-1.5", "true", "false", #""1""#, "[1]", #"{"v":1}"#,
    ])
    func fractionsBooleansAndOtherTypesAreNotIntegers(_ literal: String) {
        expectInvalid(failure { () throws(RPCError) in try k(literal).integer("k") })
        expectInvalid(failure { () throws(RPCError) in try k(literal).optionalInteger("k") })
        expectInvalid(failure { () throws(RPCError) in try k(literal).nullableInteger("k") })
    }

    @Test(arguments: ["-1", "-9223372036854775808", "-4194304"])
    func negativeIntegersAreRefused(_ literal: String) {
        expectInvalid(failure { () throws(RPCError) in try k(literal).integer("k") })
        expectInvalid(failure { () throws(RPCError) in try k(literal).optionalInteger("k") })
        expectInvalid(failure { () throws(RPCError) in try k(literal).nullableInteger("k") })
    }

    @Test(arguments: [
        "9223372036854775808", "18446744073709551615", "18446744073709551616", "99999999999999999999999999",
        "-9223372036854775809",
    ])
    func integersOutsideTheSignedRangeAreRefused(_ literal: String) {
        expectInvalid(failure { () throws(RPCError) in try k(literal).integer("k") })
        expectInvalid(failure { () throws(RPCError) in try k(literal).optionalInteger("k") })
        expectInvalid(failure { () throws(RPCError) in try k(literal).nullableInteger("k") })
    }

    @Test func missingOrNullRequiredIntegerIsRefused() {
        expectInvalid(failure { () throws(RPCError) in try params("{}").integer("k") })
        expectInvalid(failure { () throws(RPCError) in try k("null").integer("k") })
    }

    @Test func optionalIntegerIsNilWhenAbsentOrNull() throws {
        #expect(try params("{}").optionalInteger("k") == nil)
        #expect(try k("null").optionalInteger("k") == nil)
    }

    @Test func nullableIntegerTellsAbsentFromNull() throws {
        #expect(try params("{}").nullableInteger("k") == .absent)
        #expect(try k("null").nullableInteger("k") == .null)
        #expect(try k("0").nullableInteger("k") == .value(0))
        #expect(try params(#"{"other":null}"#).nullableInteger("k") == .absent)
    }

    @Test func theErrorNamesTheKeyAsked() {
        let object = params(#"{"offset":true,"length":-1,"tenant":5}"#)
        expectInvalid(failure { () throws(RPCError) in try object.integer("offset") }, field: "offset")
        expectInvalid(failure { () throws(RPCError) in try object.optionalInteger("length") }, field: "length")
        expectInvalid(failure { () throws(RPCError) in try object.string("tenant") }, field: "tenant")
        expectInvalid(failure { () throws(RPCError) in try object.string("mimeType") }, field: "mimeType")
    }

    // MARK: Booleans

    @Test func optionalBoolReadsBooleans() throws {
        #expect(try k("true").optionalBool("k") == true)
        #expect(try k("false").optionalBool("k") == false)
        #expect(try k("null").optionalBool("k") == nil)
        #expect(try params("{}").optionalBool("k") == nil)
    }

    @Test(arguments: ["1", "0", #""true""#, "[]", "{}"])
    func optionalBoolRefusesOtherTypes(_ literal: String) {
        expectInvalid(failure { () throws(RPCError) in try k(literal).optionalBool("k") })
    }

    // MARK: Base64

    @Test(arguments: [
        (#""""#, [UInt8]()), (#""QQ==""#, [0x41]), (#""QUI=""#, [0x41, 0x42]), (#""QUJD""#, [0x41, 0x42, 0x43]),
        (#""+/8=""#, [0xFB, 0xFF]), (#""AAAA""#, [0, 0, 0]),
    ])
    func base64DecodesStrictStandardBase64(_ literal: String, _ expected: [UInt8]) throws {
        #expect(try k(literal).base64("k") == expected)
    }

    @Test(arguments: [
        // Unpadded, over-padded, padding in the wrong place.
        "QQ", "QUI", "Q===", "====", "=QQQ", "Q=Q=", "QQ==QQ==", "QQ=A", "QUI=QUI=",
        // Non-zero bits before the padding.
        "QR==", "QUJ=",
        // Whitespace, line breaks, the URL-safe alphabet, other characters.
        " QQ==", "QQ== ", "QU\nJD", "QU\\r\\nJD", "-_8=", "QUJD!", "QUJ\u{00e9}",
    ])
    func base64RefusesAnythingElse(_ text: String) {
        let object = Params(JSONObject([("data", .string(text))]))
        expectInvalid(failure { () throws(RPCError) in try object.base64("data") }, field: "data")
    }

    @Test(arguments: ["null", "1", "true", #"["QQ=="]"#])
    func base64NeedsAString(_ literal: String) {
        expectInvalid(failure { () throws(RPCError) in try k(literal).base64("k") })
        expectInvalid(failure { () throws(RPCError) in try params("{}").base64("k") })
    }

    @Test func base64RoundTripsEveryLengthUpToSixteen() throws {
        var rng = SplitMix64(seed: 42)
        for count in 0...16 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let object = Params(JSONObject([("data", .string(Base64.encode(bytes)))]))
            #expect(try object.base64("data") == bytes)
        }
    }
}
