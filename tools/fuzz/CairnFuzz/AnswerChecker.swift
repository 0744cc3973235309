import CairnProtocol

/// Why an answer broke the rules; the session adds the seed and the request.
public struct AnswerProblem: Error, Sendable, CustomStringConvertible {
    /// What was wrong with the answer.
    public var description: String

    /// A problem described for people.
    public init(_ description: String) { self.description = description }
}

/// Reads the answers a connection sends and checks each against the one
/// the ``WireModel`` expects, in order.
///
/// Every response must be a JSON-RPC 2.0 response object (`jsonrpc`, `id`,
/// and exactly one of `result` and `error`) echoing the expected id exactly
/// (same JSON type and spelling); every error must carry a `data.code` of
/// the contract (``RPCError/Code/all``) with its numeric `code`. A batch
/// gets one array with one response per entry that asks for one. Raw bytes
/// follow a response only where the request asked for them.
///
/// Against a real server (``Replies/server``) it also checks what the
/// request alone decides: an unknown method is `METHOD_NOT_FOUND`, an
/// attachment on a method that takes none `INVALID_PARAMS`, a request the
/// grammar made valid is never refused as malformed, and no request gets
/// `INTERNAL` (a fault in the server). With ``Replies/canned`` each
/// response must carry exactly the ``CannedReply`` of its request's position.
public struct AnswerChecker: Sendable {
    /// Who made the replies to requests that were carried out.
    public enum Replies: Sendable {
        /// The real server.
        case server
        /// A test, with ``CannedReply``.
        case canned
    }

    /// An answer taken off the stream.
    public struct Taken: Sendable {
        /// The response object, or the batch's array.
        public var response: JSONValue
        /// The raw bytes after it.
        public var attachment: [UInt8]?
    }

    /// Who made the replies.
    public let replies: Replies
    /// The server's limits (a binary result's `dataLength` is at most `maxChunkBytes`).
    public let limits: FuzzWorld.Limits
    private var buffer: [UInt8] = []
    private var start = 0

    /// A checker for one connection.
    public init(replies: Replies, limits: FuzzWorld.Limits) {
        self.replies = replies
        self.limits = limits
    }

    /// Bytes received and not yet taken as answers.
    public var unreadBytes: [UInt8] { Array(buffer[start...]) }

    /// Whether bytes were received that no answer took yet.
    public var hasUnreadBytes: Bool { start < buffer.count }

    /// Adds bytes read from the connection.
    public mutating func receive(_ bytes: some Collection<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Takes and checks the answer `expected` describes; `nil` while its
    /// bytes have not all arrived.
    public mutating func take(_ expected: ExpectedAnswer) throws(AnswerProblem) -> Taken? {
        guard let newline = buffer[start...].firstIndex(of: 0x0A) else {
            if buffer.count - start > 64 << 20 {
                throw AnswerProblem("over 64 MiB of answer without a newline")
            }
            return nil
        }
        let lineBytes = Array(buffer[start..<newline])
        let response: JSONValue
        do {
            response = try JSONParser.parse(lineBytes)
        } catch {
            throw AnswerProblem("an answer that is not JSON (\(error.reason)): \(lineBytes.escapedForMessage())")
        }
        var attachmentLength: Int? = nil
        switch expected.shape {
        case .single(let one):
            guard response.objectValue != nil else {
                throw AnswerProblem("expected one response object, got \(excerpt(response))")
            }
            attachmentLength = try check(response, against: one, inBatch: false)
        case .batch(let many):
            guard let elements = response.arrayValue else {
                throw AnswerProblem(
                    "expected an array of \(many.count) responses for a batch, got \(excerpt(response))")
            }
            guard elements.count == many.count else {
                throw AnswerProblem(
                    "expected an array of \(many.count) responses for a batch, got \(elements.count): \(excerpt(response))"
                )
            }
            for (element, one) in zip(elements, many) {
                guard element.objectValue != nil else {
                    throw AnswerProblem("a batch's response that is not an object: \(excerpt(element))")
                }
                _ = try check(element, against: one, inBatch: true)
            }
        }
        var attachment: [UInt8]? = nil
        if let length = attachmentLength {
            guard buffer.count - (newline + 1) >= length else { return nil }
            attachment = Array(buffer[(newline + 1)..<(newline + 1 + length)])
            start = newline + 1 + length
            if case .single(let one) = expected.shape, case .dispatched(let request) = one.outcome,
                replies == .canned,
                case .binary(_, let bytes) = CannedReply.reply(
                    toDispatch: request.dispatchIndex, method: request.method, params: request.params),
                bytes != attachment
            {
                throw AnswerProblem("the raw bytes after a binary result are not the reply's")
            }
        } else {
            start = newline + 1
        }
        return Taken(response: response, attachment: attachment)
    }

    /// Checks one response object; the number of raw bytes that follow it, if any.
    private func check(_ response: JSONValue, against expected: ExpectedResponse, inBatch: Bool) throws(AnswerProblem)
        -> Int?
    {
        guard let object = response.objectValue else { throw AnswerProblem("not an object: \(excerpt(response))") }
        guard object["jsonrpc"] == .string("2.0") else {
            throw AnswerProblem("a response without \"jsonrpc\":\"2.0\": \(excerpt(response))")
        }
        guard let id = object["id"] else { throw AnswerProblem("a response without an id: \(excerpt(response))") }
        let result = object["result"]
        let error = object["error"]
        guard (result == nil) != (error == nil), object.count == 3 else {
            throw AnswerProblem(
                "a response must have exactly jsonrpc, id and one of result and error: \(excerpt(response))")
        }
        guard id == expected.id || (expected.idMayBeNull && id == .null) else {
            throw AnswerProblem("expected id \(expected.id), got \(id): \(excerpt(response))")
        }
        var code: String? = nil
        if let error {
            code = try checkError(error, response: response)
        }
        switch expected.outcome {
        case .error(let expectedCode):
            guard code == expectedCode else {
                throw AnswerProblem("expected a \(expectedCode) error, got \(excerpt(response))")
            }
            return nil
        case .dispatched(let request):
            switch replies {
            case .canned:
                return try checkCanned(object, request: request, inBatch: inBatch)
            case .server:
                return try checkServer(object, code: code, request: request, inBatch: inBatch)
            }
        }
    }

    /// The error object's rules; its `data.code`.
    private func checkError(_ error: JSONValue, response: JSONValue) throws(AnswerProblem) -> String {
        guard let object = error.objectValue, case .number(let number)? = object["code"], number.isInteger,
            let numeric = number.int64, object["message"]?.stringValue != nil, let data = object["data"]?.objectValue,
            let name = data["code"]?.stringValue
        else {
            throw AnswerProblem("an error without code, message and data.code: \(excerpt(response))")
        }
        guard let known = RPCError.Code.all.first(where: { $0.name == name }) else {
            throw AnswerProblem("data.code \(name) is not one of the contract's: \(excerpt(response))")
        }
        guard known.number == numeric else {
            throw AnswerProblem("\(name) must have code \(known.number), not \(numeric): \(excerpt(response))")
        }
        return name
    }

    private func checkServer(_ object: JSONObject, code: String?, request: DispatchedRequest, inBatch: Bool)
        throws(AnswerProblem) -> Int?
    {
        let response = JSONValue.object(object)
        if let expectedCode = request.expectedCode, code != expectedCode {
            throw AnswerProblem("expected a \(expectedCode) error, got \(excerpt(response))")
        }
        if let code {
            if code == RPCError.Code.internalError.name {
                throw AnswerProblem("INTERNAL, a fault in the server: \(excerpt(response))")
            }
            let framing = [RPCError.Code.parseError, .invalidRequest, .requestTooLarge].map(\.name)
            if framing.contains(code) {
                throw AnswerProblem("a framing error for a well-framed request: \(excerpt(response))")
            }
            if request.grammarValid && [RPCError.Code.methodNotFound, .invalidParams].map(\.name).contains(code) {
                throw AnswerProblem("a valid request refused as malformed: \(excerpt(response))")
            }
            if code == RPCError.Code.invalidParams.name, object["error"]?["data"]?["field"]?.stringValue == nil {
                throw AnswerProblem("INVALID_PARAMS without data.field: \(excerpt(response))")
            }
            return nil
        }
        guard case .object(let result)? = object["result"], let announced = result["dataLength"] else { return nil }
        guard request.mayAnswerWithAttachment, !inBatch else {
            throw AnswerProblem("a result with dataLength where no raw bytes may follow: \(excerpt(response))")
        }
        guard case .number(let number) = announced, let length = number.int64, length >= 0,
            length <= Int64(limits.maxChunkBytes), result["length"] == announced
        else {
            throw AnswerProblem(
                "a binary result's dataLength is not its length (0…maxChunkBytes): \(excerpt(response))")
        }
        return Int(length)
    }

    private func checkCanned(_ object: JSONObject, request: DispatchedRequest, inBatch: Bool) throws(AnswerProblem)
        -> Int?
    {
        let reply = CannedReply.reply(toDispatch: request.dispatchIndex, method: request.method, params: request.params)
        let member = inBatch ? reply.batchMember : reply.singleMember
        guard object[member.key] == member.value else {
            throw AnswerProblem(
                "expected the reply to request #\(request.dispatchIndex) (\(member.key) \(member.value)), got \(excerpt(.object(object)))"
            )
        }
        if !inBatch, case .binary(_, let bytes) = reply { return bytes.count }
        return nil
    }

    private func excerpt(_ value: JSONValue) -> String {
        value.serialized().escapedForMessage(limit: 400)
    }
}
