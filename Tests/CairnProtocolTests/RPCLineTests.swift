import CairnProtocol
import Testing

/// Parses one line given as text.
private func parse(_ text: String) -> RPCLine {
    RPCLine.parse(Array(text.utf8))
}

/// The single entry of a line that is not a batch.
private func single(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> RPCEntry? {
    guard case .single(let entry) = parse(text) else {
        Issue.record("expected a single entry for \(text)", sourceLocation: sourceLocation)
        return nil
    }
    return entry
}

/// The request a line holds, or `nil` (with an issue) when it is refused.
private func request(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> RPCRequest? {
    guard case .request(let request)? = single(text, sourceLocation: sourceLocation) else {
        Issue.record("expected a request for \(text)", sourceLocation: sourceLocation)
        return nil
    }
    return request
}

/// The id and error of a refused line, or `nil` (with an issue) when it is accepted.
private func refusal(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> (
    id: JSONValue, error: RPCError
)? {
    guard case .invalid(let id, let error)? = single(text, sourceLocation: sourceLocation) else {
        Issue.record("expected a refusal for \(text)", sourceLocation: sourceLocation)
        return nil
    }
    return (id, error)
}

/// A number with exactly this literal, as the parser produces it.
private func number(_ literal: String) -> JSONValue {
    try! JSONParser.parse(Array(literal.utf8))
}

@Suite("RPCLine")
struct RPCLineTests {
    // MARK: Parse errors

    @Test(arguments: [
        "{", "not json", #"{"jsonrpc":"2.0","id":1,"method":"m",}"#, #"{"jsonrpc":"2.0","id":1,"method":"m"} x"#,
        #"{"jsonrpc":"2.0","id":5,"method":"#, "", " ", "[1,]", "{'a':1}", "01",
    ])
    func unparsableLineIsParseErrorWithNullId(_ text: String) throws {
        let (id, error) = try #require(refusal(text))
        #expect(id == .null)
        #expect(error.code == .parseError)
        #expect(error.code.number == -32700)
    }

    @Test func invalidUTF8IsParseError() throws {
        let bytes: [UInt8] = Array(#"{"jsonrpc":"2.0","id":1,"method":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        guard case .single(.invalid(let id, let error)) = RPCLine.parse(bytes) else {
            Issue.record("invalid UTF-8 was accepted")
            return
        }
        #expect(id == .null)
        #expect(error.code == .parseError)
    }

    @Test func trailingCarriageReturnAndSurroundingSpacesAreWhitespace() throws {
        let parsed = try #require(request(" {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"} \r"))
        #expect(parsed.id == 1)
        #expect(parsed.method == "m")
    }

    // MARK: Invalid requests

    @Test(arguments: ["1", #""text""#, "null", "true", "false", "1.5"])
    func nonObjectIsInvalidRequestWithNullId(_ text: String) throws {
        let (id, error) = try #require(refusal(text))
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
        #expect(error.code.number == -32600)
    }

    @Test(arguments: [
        #"{"id":7,"method":"m"}"#, #"{"jsonrpc":"1.0","id":7,"method":"m"}"#, #"{"jsonrpc":2.0,"id":7,"method":"m"}"#,
        #"{"jsonrpc":null,"id":7,"method":"m"}"#, #"{"jsonrpc":"2.0 ","id":7,"method":"m"}"#,
        #"{"jsonrpc":["2.0"],"id":7,"method":"m"}"#,
    ])
    func missingOrWrongJSONRPCIsInvalidRequestEchoingTheId(_ text: String) throws {
        let (id, error) = try #require(refusal(text))
        #expect(id == 7)
        #expect(error.code == .invalidRequest)
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":"a"}"#, #"{"jsonrpc":"2.0","id":"a","method":1}"#,
        #"{"jsonrpc":"2.0","id":"a","method":null}"#, #"{"jsonrpc":"2.0","id":"a","method":{"name":"m"}}"#,
        #"{"jsonrpc":"2.0","id":"a","method":["m"]}"#, #"{"jsonrpc":"2.0","id":"a","method":true}"#,
    ])
    func missingOrNonStringMethodIsInvalidRequestEchoingTheId(_ text: String) throws {
        let (id, error) = try #require(refusal(text))
        #expect(id == "a")
        #expect(error.code == .invalidRequest)
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":{"a":1},"method":"m"}"#, #"{"jsonrpc":"2.0","id":{},"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":[1],"method":"m"}"#, #"{"jsonrpc":"2.0","id":[],"method":"m"}"#,
        #"{"id":[1],"method":"m"}"#,
    ])
    func objectOrArrayIdIsInvalidRequestWithNullId(_ text: String) throws {
        let (id, error) = try #require(refusal(text))
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
    }

    /// JSON-RPC 2.0 allows only strings, numbers and null as ids; Cairn answers a boolean id
    /// like an object one (INVALID_REQUEST, id null).
    @Test func booleanIdIsInvalidRequestWithNullId() throws {
        let (id, error) = try #require(refusal(#"{"jsonrpc":"2.0","id":true,"method":"m"}"#))
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
    }

    @Test(arguments: ["[1]", "[]", "null", #""p""#, "1", "true"])
    func nonObjectParamsIsInvalidRequestEchoingTheId(_ params: String) throws {
        let (id, error) = try #require(refusal(#"{"jsonrpc":"2.0","id":3,"method":"m","params":\#(params)}"#))
        #expect(id == 3)
        #expect(error.code == .invalidRequest)
    }

    // MARK: Ids

    @Test(arguments: [
        (#""abc""#, JSONValue.string("abc")), (#""""#, .string("")), (#""7""#, .string("7")), ("7", number("7")),
        ("0", number("0")), ("-3", number("-3")), ("1.5", number("1.5")), ("1.50", number("1.50")),
        ("1e3", number("1e3")), ("-0", number("-0")), ("12345678901234567890123", number("12345678901234567890123")),
        ("null", .null),
    ])
    func idsAreEchoedWithTheirJSONType(_ literal: String, _ expected: JSONValue) throws {
        let call = try #require(request(#"{"jsonrpc":"2.0","id":\#(literal),"method":"m"}"#))
        #expect(call.id == expected)
        #expect(!call.isNotification)
        let response = RPCResponse.success(id: try #require(call.id), result: true)
        #expect(response.description == #"{"jsonrpc":"2.0","id":\#(literal),"result":true}"#)

        let (refusedId, _) = try #require(refusal(#"{"jsonrpc":"1.0","id":\#(literal),"method":"m"}"#))
        #expect(refusedId == expected)
        let failure = RPCResponse.failure(id: refusedId, error: RPCError(.invalidRequest, "x"))
        #expect(failure.description.hasPrefix(#"{"jsonrpc":"2.0","id":\#(literal),"error":"#))
    }

    @Test func stringAndNumberIdsStayDistinct() throws {
        let text = try #require(request(#"{"jsonrpc":"2.0","id":"1","method":"m"}"#))
        let integer = try #require(request(#"{"jsonrpc":"2.0","id":1,"method":"m"}"#))
        let fraction = try #require(request(#"{"jsonrpc":"2.0","id":1.0,"method":"m"}"#))
        #expect(text.id != integer.id)
        #expect(integer.id != fraction.id)
    }

    @Test func nullIdIsACallNotANotification() throws {
        let call = try #require(request(#"{"jsonrpc":"2.0","id":null,"method":"m"}"#))
        #expect(call.id == .null)
        #expect(!call.isNotification)
    }

    // MARK: Requests and notifications

    @Test func requestCarriesMethodAndParams() throws {
        let call = try #require(
            request(#"{"jsonrpc":"2.0","id":1,"method":"artifacts.meta","params":{"tenant":"acme","n":[1,2]}}"#))
        #expect(call.method == "artifacts.meta")
        #expect(call.params == JSONObject([("tenant", "acme"), ("n", [1, 2])]))
        #expect(call.id == 1)
    }

    @Test func absentParamsAreAnEmptyObject() throws {
        let call = try #require(request(#"{"jsonrpc":"2.0","id":1,"method":"system.hello"}"#))
        #expect(call.params == JSONObject())
        let empty = try #require(request(#"{"jsonrpc":"2.0","id":1,"method":"system.hello","params":{}}"#))
        #expect(empty.params == JSONObject())
    }

    @Test func membersInAnyOrderAndUnknownMembersAreAccepted() throws {
        let call = try #require(request(#"{"params":{"a":1},"extra":[true],"method":"m","id":"x","jsonrpc":"2.0"}"#))
        #expect(call.id == "x")
        #expect(call.method == "m")
        #expect(call.params == JSONObject([("a", 1)]))
    }

    @Test func anyStringIsAMethodName() throws {
        #expect(try #require(request(#"{"jsonrpc":"2.0","id":1,"method":""}"#)).method == "")
        #expect(try #require(request(#"{"jsonrpc":"2.0","id":1,"method":"rpc.x"}"#)).method == "rpc.x")
    }

    @Test func requestWithoutIdIsANotification() throws {
        let note = try #require(request(#"{"jsonrpc":"2.0","method":"tenants.usage","params":{"tenant":"a"}}"#))
        #expect(note.id == nil)
        #expect(note.isNotification)
        #expect(note.method == "tenants.usage")
        #expect(note.params["tenant"] == "a")
    }

    @Test func invalidNotificationIsStillAnsweredWithNullId() throws {
        let (id, error) = try #require(refusal(#"{"jsonrpc":"2.0","method":"m","params":[]}"#))
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
    }

    @Test(arguments: [
        RPCRequest(id: 1, method: "system.hello", params: JSONObject()),
        RPCRequest(id: "x", method: "artifacts.read", params: JSONObject([("tenant", "a"), ("offset", 3)])),
        RPCRequest(id: .null, method: "m", params: JSONObject()),
        RPCRequest(id: nil, method: "note", params: JSONObject([("k", [nil, true])])),
    ])
    func requestJSONParsesBackToTheSameRequest(_ original: RPCRequest) {
        #expect(RPCLine.parse(original.json.serialized()) == .single(.request(original)))
    }

    // MARK: Batches

    @Test(arguments: ["[]", "[ ]", " [\n] "])
    func emptyBatchIsOneInvalidRequest(_ text: String) throws {
        let (id, error) = try #require(refusal(text))
        #expect(id == .null)
        #expect(error.code == .invalidRequest)
    }

    @Test func batchEntriesAreJudgedOneByOne() {
        let line = parse(
            #"[1,{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"},{"id":"q","method":"c"},"#
                + #"{"jsonrpc":"2.0","id":{},"method":"d"},[],{"jsonrpc":"2.0","id":2,"method":"e","params":5}]"#)
        guard case .batch(let entries) = line else {
            Issue.record("expected a batch, got \(line)")
            return
        }
        #expect(entries.count == 7)
        guard entries.count == 7 else { return }
        #expect(entries[0] == .invalid(id: .null, error: refusalError(entries[0])))
        #expect(entries[1] == .request(RPCRequest(id: 1, method: "a", params: JSONObject())))
        #expect(entries[2] == .request(RPCRequest(id: nil, method: "b", params: JSONObject())))
        #expect(invalidId(entries[3]) == "q")
        #expect(invalidId(entries[4]) == .null)
        #expect(invalidId(entries[5]) == .null)
        #expect(invalidId(entries[6]) == 2)
        for index in [0, 3, 4, 5, 6] {
            #expect(refusalError(entries[index]).code == .invalidRequest)
        }
    }

    @Test func batchOfOneIsStillABatch() {
        #expect(
            parse(#"[{"jsonrpc":"2.0","id":1,"method":"a"}]"#)
                == .batch([.request(RPCRequest(id: 1, method: "a", params: JSONObject()))]))
    }

    @Test func batchOfNotificationsHoldsOnlyNotifications() throws {
        guard case .batch(let entries) = parse(#"[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"}]"#)
        else {
            Issue.record("expected a batch")
            return
        }
        #expect(
            entries.allSatisfy {
                if case .request(let request) = $0 { return request.isNotification }
                return false
            })
    }

    @Test func unparsableBatchIsOneParseError() throws {
        let (id, error) = try #require(refusal(#"[{"jsonrpc":"2.0","id":1,"method":"a"},"#))
        #expect(id == .null)
        #expect(error.code == .parseError)
    }

    // MARK: Errors and responses

    @Test func errorObjectHasNumberMessageAndDataCode() {
        let error = RPCError(.forbidden, "no grant", data: JSONObject([("tenant", "acme"), ("scope", "read")]))
        let response = RPCResponse.failure(id: 4, error: error)
        #expect(
            response.description
                == #"{"jsonrpc":"2.0","id":4,"error":{"code":-32000,"message":"no grant","data":{"code":"FORBIDDEN","tenant":"acme","scope":"read"}}}"#
        )
    }

    @Test func dataCannotOverrideTheCodeName() {
        let error = RPCError(.notFound, "gone", data: JSONObject([("code", "OTHER"), ("what", "artifact")]))
        #expect(error.json["data"] == ["code": "NOT_FOUND", "what": "artifact"])
    }

    @Test func invalidParamsNamesTheField() {
        let error = RPCError.invalidParams("tenant", "bad")
        #expect(error.code == .invalidParams)
        #expect(error.code.number == -32602)
        #expect(error.json["data"] == ["code": "INVALID_PARAMS", "field": "tenant"])
    }

    @Test func numericCodesFollowJSONRPC() {
        let expected: [RPCError.Code: Int] = [
            .parseError: -32700, .invalidRequest: -32600, .methodNotFound: -32601, .invalidParams: -32602,
            .internalError: -32603,
        ]
        for code in RPCError.Code.all {
            #expect(code.number == expected[code] ?? -32000, "\(code)")
        }
        #expect(Set(RPCError.Code.all.map(\.name)).count == 19)
    }

    @Test func errorReadBackFromJSON() throws {
        for code in RPCError.Code.all {
            let error = RPCError(code, "message", data: JSONObject([("limit", 5)]))
            let back = try #require(RPCError(json: error.json))
            #expect(back == error)
            #expect(back.code.number == code.number)
        }
        let unknown = try #require(
            RPCError(json: ["code": -32000, "message": "m", "data": ["code": "SOMETHING_NEW", "x": 1]]))
        #expect(unknown.code.name == "SOMETHING_NEW")
        #expect(unknown.code.number == -32000)
        #expect(unknown.data == JSONObject([("x", 1)]))
        #expect(RPCError(json: ["code": -32000, "message": "m"]) == nil)
        #expect(RPCError(json: "text") == nil)
    }

    @Test func successResponseShape() {
        #expect(
            RPCResponse.success(id: "a", result: ["offset": 3]).description
                == #"{"jsonrpc":"2.0","id":"a","result":{"offset":3}}"#)
    }
}

private func refusalError(_ entry: RPCEntry) -> RPCError {
    if case .invalid(_, let error) = entry { return error }
    return RPCError(.internalError, "not a refusal")
}

private func invalidId(_ entry: RPCEntry) -> JSONValue? {
    if case .invalid(let id, _) = entry { return id }
    return nil
}
