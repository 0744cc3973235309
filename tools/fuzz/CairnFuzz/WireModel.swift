import CairnProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the fuzzer expects back for one request line: one response object,
/// one array for a batch, or nothing (which is not an ``ExpectedAnswer`` at
/// all), and whether the connection closes after it.
public struct ExpectedAnswer: Sendable {
    /// The shape of the answer.
    public enum Shape: Sendable {
        /// One response object.
        case single(ExpectedResponse)
        /// One array holding these responses, in this order.
        case batch([ExpectedResponse])
    }

    /// One object or one array.
    public var shape: Shape
    /// Whether the server closes the connection right after this answer.
    public var closesAfter: Bool
    /// The line that asked for it (the first bytes, for messages).
    public var line: [UInt8]
    /// How long the line was.
    public var lineLength: Int
    /// The number of the unit (in the session) whose bytes completed the line.
    public var unit: Int
}

/// One response the fuzzer expects, inside an ``ExpectedAnswer``.
public struct ExpectedResponse: Sendable {
    /// The id it must echo.
    public var id: JSONValue
    /// Whether `null` is also accepted for the id (where the contract leaves it open).
    public var idMayBeNull = false
    /// What it must say.
    public var outcome: Outcome

    /// What the response must say.
    public enum Outcome: Sendable {
        /// An error the connection itself answers, with this `data.code`.
        case error(String)
        /// A request that was carried out: any result or error of the
        /// contract's, unless the request says more.
        case dispatched(DispatchedRequest)
    }
}

/// A request the connection hands on to be carried out, as the model saw it.
public struct DispatchedRequest: Sendable {
    /// The method it names (maybe none of the table's).
    public var method: String
    /// Its params.
    public var params: JSONObject
    /// The request's position among every request handed on by the
    /// connection (notifications included), counting from 0.
    public var dispatchIndex: Int
    /// The attachment's length, when the request carried one.
    public var attachmentLength: Int?
    /// Whether it is an entry of a batch (no raw bytes may follow its answer).
    public var inBatch: Bool
    /// Whether the grammar made this line valid and nothing changed it on
    /// the way: the server must not refuse it as malformed.
    public var grammarValid: Bool

    /// The `data.code` the server's dispatcher must answer, when the
    /// request alone decides it: an unknown method, or an attachment on a
    /// method that takes none.
    public var expectedCode: String? {
        guard let grammar = RequestGrammar.grammar(named: method) else {
            return RPCError.Code.methodNotFound.name
        }
        if attachmentLength != nil && !grammar.takesAttachment { return RPCError.Code.invalidParams.name }
        return nil
    }

    /// Whether the server may follow the answer with raw bytes: a single
    /// `artifacts.read` asking for `binary`.
    public var mayAnswerWithAttachment: Bool {
        !inBatch && attachmentLength == nil && (RequestGrammar.grammar(named: method)?.mayAnswerWithAttachment ?? false)
            && params["binary"] == .bool(true)
    }
}

/// A reference model of one connection's input, written from
/// docs/protocol.md and independent of the server's code: it frames the
/// byte stream into lines and attachments and says, for each line, what
/// answer must come back and whether the connection closes.
///
/// It parses JSON with ``JSONParser`` (the protocol's strict parser, tested
/// on its own) and judges everything after that itself: blank lines,
/// over-long lines, batches, notifications, invalid requests and every
/// `dataLength` rule, including the bytes dropped after a refused request.
///
/// Feed it exactly the bytes sent on the connection, in order; take the
/// answers it expects with ``takeExpected()``.
public struct WireModel: Sendable {
    /// What follows a line, as the server will read it.
    public enum Announcement: Sendable, Equatable {
        /// No attachment.
        case none
        /// This many raw bytes (kept or dropped).
        case bytes(Int)
        /// A length that cannot be honoured: the connection closes.
        case unframeable
    }

    private enum State: Sendable {
        case line
        case skipping
        /// Raw bytes after a line; the request they belong to, when it is
        /// carried out once they are complete.
        case attachment(remaining: Int, request: PendingRequest?)
        case closed
    }

    private struct PendingRequest: Sendable {
        var id: JSONValue?
        var method: String
        var params: JSONObject
        var length: Int
        var line: [UInt8]
        var lineLength: Int
        var grammarValid: Bool
    }

    /// The server's limits, which decide over-long lines and unusable lengths.
    public let limits: FuzzWorld.Limits
    private var state = State.line
    private var lineBuffer: [UInt8] = []
    private var expected: [ExpectedAnswer] = []
    private var validLines: Set<[UInt8]> = []
    /// Requests handed on so far.
    public private(set) var dispatchCount = 0
    /// The unit whose bytes are being fed (for messages).
    public var currentUnit = 0
    /// How many bytes of a line are kept for messages.
    static let excerptLength = 2048

    /// A model of a new connection.
    public init(limits: FuzzWorld.Limits) {
        self.limits = limits
    }

    /// Whether the server closes the connection (after the answers expected so far).
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// The raw bytes still owed to an attachment, when one is being read.
    public var pendingAttachmentBytes: Int? {
        if case .attachment(let remaining, _) = state { return remaining }
        return nil
    }

    /// Whether part of a line has been read (it gets no answer if the input ends now).
    public var hasPartialLine: Bool {
        switch state {
        case .line: !lineBuffer.isEmpty
        case .skipping: true
        default: false
        }
    }

    /// Marks `line` (without its newline) as one the grammar made valid.
    public mutating func register(validLine line: [UInt8]) {
        validLines.insert(line)
    }

    /// Forgets the lines marked valid (once their unit is fed: a valid
    /// line is whole within its unit, judged or eaten by then).
    public mutating func forgetValidLines() {
        validLines.removeAll()
    }

    /// The answers expected since the last call, in order.
    public mutating func takeExpected() -> [ExpectedAnswer] {
        defer { expected.removeAll() }
        return expected
    }

    /// Reads `bytes` as the server reads them.
    public mutating func feed(_ bytes: [UInt8]) {
        var input = bytes[...]
        while !input.isEmpty {
            switch state {
            case .closed:
                return
            case .attachment(let remaining, let request):
                let take = min(remaining, input.count)
                input = input.dropFirst(take)
                if take == remaining {
                    state = .line
                    if let request { dispatch(request) }
                } else {
                    state = .attachment(remaining: remaining - take, request: request)
                }
            case .skipping:
                guard let newline = Self.newline(in: input) else { return }
                input = input[(newline + 1)...]
                state = .line
            case .line:
                if let newline = Self.newline(in: input) {
                    let part = input[..<newline]
                    input = input[(newline + 1)...]
                    if lineBuffer.count + part.count > limits.maxRequestBytes {
                        lineBuffer = []
                        answerTooLarge()
                        continue
                    }
                    lineBuffer.append(contentsOf: part)
                    let line = lineBuffer
                    lineBuffer = []
                    judge(line)
                } else {
                    if lineBuffer.count + input.count > limits.maxRequestBytes {
                        lineBuffer = []
                        answerTooLarge()
                        state = .skipping
                    } else {
                        lineBuffer.append(contentsOf: input)
                    }
                    return
                }
            }
        }
    }

    /// The index of the first newline in `bytes` (memchr: lines may be many MiB).
    static func newline(in bytes: ArraySlice<UInt8>) -> Int? {
        bytes.withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress, !buffer.isEmpty,
                let hit = memchr(base, 0x0A, buffer.count)
            else { return nil }
            return bytes.startIndex + base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// The input ended: a partial line or attachment gets no answer.
    public mutating func endOfInput() {
        lineBuffer = []
        state = .closed
    }

    // MARK: - Judging lines

    private mutating func answerTooLarge() {
        expected.append(
            ExpectedAnswer(
                shape: .single(
                    ExpectedResponse(id: .null, outcome: .error(RPCError.Code.requestTooLarge.name))),
                closesAfter: false, line: [], lineLength: limits.maxRequestBytes + 1, unit: currentUnit))
    }

    private mutating func answer(_ shape: ExpectedAnswer.Shape, line: [UInt8]) {
        expected.append(
            ExpectedAnswer(
                shape: shape, closesAfter: false, line: Array(line.prefix(Self.excerptLength)), lineLength: line.count,
                unit: currentUnit))
    }

    /// The connection closes after the last answer (there always is one).
    private mutating func close() {
        if !expected.isEmpty { expected[expected.count - 1].closesAfter = true }
        state = .closed
        lineBuffer = []
    }

    private mutating func judge(_ line: [UInt8]) {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
        guard let value = try? JSONParser.parse(line) else {
            answer(.single(ExpectedResponse(id: .null, outcome: .error(RPCError.Code.parseError.name))), line: line)
            return
        }
        if case .array(let elements) = value {
            if elements.isEmpty {
                answer(
                    .single(ExpectedResponse(id: .null, outcome: .error(RPCError.Code.invalidRequest.name))), line: line
                )
            } else {
                judge(batch: elements, line: line)
            }
            return
        }
        switch Entry(value) {
        case .invalid(let id):
            answer(.single(ExpectedResponse(id: id, outcome: .error(RPCError.Code.invalidRequest.name))), line: line)
            switch announcement(in: value["params"]?["dataLength"]) {
            case .none: break
            case .bytes(let length): if length > 0 { state = .attachment(remaining: length, request: nil) }
            case .unframeable: close()
            }
        case .request(let id, let method, let params):
            let grammarValid = validLines.contains(line)
            guard let announced = params["dataLength"] else {
                dispatch(
                    PendingRequest(
                        id: id, method: method, params: params, length: -1,
                        line: Array(line.prefix(Self.excerptLength)), lineLength: line.count, grammarValid: grammarValid
                    ))
                return
            }
            switch announcement(in: announced) {
            case .bytes(let length):
                let request = PendingRequest(
                    id: id, method: method, params: params, length: length,
                    line: Array(line.prefix(Self.excerptLength)), lineLength: line.count, grammarValid: grammarValid)
                if length == 0 {
                    dispatch(request)
                } else {
                    state = .attachment(remaining: length, request: request)
                }
            case .unframeable, .none:
                let tooLarge = isTooLarge(announced)
                let code = tooLarge ? RPCError.Code.requestTooLarge : RPCError.Code.invalidParams
                answer(
                    .single(ExpectedResponse(id: tooLarge ? .null : id ?? .null, outcome: .error(code.name))),
                    line: line)
                close()
            }
        }
    }

    private mutating func judge(batch elements: [JSONValue], line: [UInt8]) {
        var responses: [ExpectedResponse] = []
        var dropped = 0
        var framingLost = false
        entries: for element in elements {
            switch Entry(element) {
            case .invalid(let id):
                responses.append(ExpectedResponse(id: id, outcome: .error(RPCError.Code.invalidRequest.name)))
                switch announcement(in: element["params"]?["dataLength"]) {
                case .none: break
                case .bytes(let length): dropped += length
                case .unframeable:
                    framingLost = true
                    break entries
                }
            case .request(let id, let method, let params):
                if let announced = params["dataLength"] {
                    if case .bytes(let length) = announcement(in: announced) {
                        dropped += length
                        responses.append(
                            ExpectedResponse(id: id ?? .null, outcome: .error(RPCError.Code.invalidRequest.name)))
                    } else {
                        let code = isTooLarge(announced) ? RPCError.Code.requestTooLarge : .invalidParams
                        // The contract names id null for a single request only; a batch entry may echo its id.
                        responses.append(
                            ExpectedResponse(id: id ?? .null, idMayBeNull: true, outcome: .error(code.name)))
                        framingLost = true
                        break entries
                    }
                } else {
                    let index = dispatchCount
                    dispatchCount += 1
                    if let id {
                        responses.append(
                            ExpectedResponse(
                                id: id,
                                outcome: .dispatched(
                                    DispatchedRequest(
                                        method: method, params: params, dispatchIndex: index, attachmentLength: nil,
                                        inBatch: true, grammarValid: false))))
                    }
                }
            }
        }
        if !responses.isEmpty { answer(.batch(responses), line: line) }
        if framingLost || dropped > limits.attachmentLimit {
            close()
        } else if dropped > 0 {
            state = .attachment(remaining: dropped, request: nil)
        }
    }

    private mutating func dispatch(_ request: PendingRequest) {
        let index = dispatchCount
        dispatchCount += 1
        guard let id = request.id else { return }
        let dispatched = DispatchedRequest(
            method: request.method, params: request.params, dispatchIndex: index,
            attachmentLength: request.length >= 0 ? request.length : nil, inBatch: false,
            grammarValid: request.grammarValid)
        expected.append(
            ExpectedAnswer(
                shape: .single(ExpectedResponse(id: id, outcome: .dispatched(dispatched))), closesAfter: false,
                line: request.line, lineLength: request.lineLength, unit: currentUnit))
    }

    // MARK: - The rules

    /// What a `dataLength` value announces.
    func announcement(in value: JSONValue?) -> Announcement {
        guard let value else { return .none }
        guard case .number(let number) = value, let length = number.int64, length >= 0,
            length <= limits.attachmentLimit
        else { return .unframeable }
        return .bytes(Int(length))
    }

    /// Whether an unusable `dataLength` is refused for its size (an integer
    /// over every limit) rather than its form.
    private func isTooLarge(_ value: JSONValue) -> Bool {
        guard case .number(let number) = value, let length = number.int64 else { return false }
        return length > limits.attachmentLimit
    }

    /// What the server reads after `line` (without its newline), judged
    /// like the model judges it: the generator uses it to send the bytes a
    /// refused request or a batch announces.
    public func announcement(afterLine line: [UInt8]) -> Announcement {
        guard line.count <= limits.maxRequestBytes, let value = try? JSONParser.parse(line) else { return .none }
        if case .array(let elements) = value {
            var total = 0
            for element in elements {
                let announced: JSONValue?
                switch Entry(element) {
                case .invalid: announced = element["params"]?["dataLength"]
                case .request(_, _, let params): announced = params["dataLength"]
                }
                switch announcement(in: announced) {
                case .none: continue
                case .bytes(let length): total += length
                case .unframeable: return .unframeable
                }
            }
            if total > limits.attachmentLimit { return .unframeable }
            return total > 0 ? .bytes(total) : .none
        }
        switch Entry(value) {
        case .invalid: return announcement(in: value["params"]?["dataLength"])
        case .request(_, _, let params): return announcement(in: params["dataLength"])
        }
    }
}

/// One element of a line, judged by the contract's rules.
enum Entry {
    /// Refused with INVALID_REQUEST, echoing this id.
    case invalid(id: JSONValue)
    /// A request; `id` is `nil` for a notification.
    case request(id: JSONValue?, method: String, params: JSONObject)

    init(_ value: JSONValue) {
        guard case .object(let object) = value else {
            self = .invalid(id: .null)
            return
        }
        let id = object["id"]
        switch id {
        case .object?, .array?, .bool?:
            self = .invalid(id: .null)
            return
        default: break
        }
        guard object["jsonrpc"] == .string("2.0"), case .string(let method)? = object["method"] else {
            self = .invalid(id: id ?? .null)
            return
        }
        switch object["params"] {
        case nil: self = .request(id: id, method: method, params: JSONObject())
        case .object(let params)?: self = .request(id: id, method: method, params: params)
        case _?: self = .invalid(id: id ?? .null)
        }
    }
}
