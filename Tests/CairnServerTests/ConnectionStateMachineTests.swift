import CairnProtocol
import Testing

@testable import CairnServer

private typealias Machine = ConnectionStateMachine
private typealias Instant = ConnectionStateMachine.Instant

/// A connection's machine driven by hand, as ``Connection`` drives it on a
/// socket: actions are performed in order, the clock moves only when told,
/// dispatched requests wait for the test (or the responder) to reply, and
/// writes complete when the test says the client read them.
private final class Harness {
    var machine: Machine
    var now = Instant(nanoseconds: 5_000_000_000)
    /// Every byte the machine asked to write, in order.
    var output: [UInt8] = []
    /// The writes' sizes, and how many of them completed.
    var writes: [Int] = []
    var completedWrites = 0
    /// Requests handed on, in order, and those not yet replied to.
    var dispatched: [Machine.Dispatch] = []
    var unanswered: [Int: Machine.Dispatch] = [:]
    var timers: [Machine.Timer: Instant] = [:]
    var readingPaused = false
    var closed: Machine.CloseReason?
    var log: [Machine.Action] = []
    /// Writes complete as soon as they are asked for (a client that reads at once).
    var completesWrites = true
    /// Answers each dispatch on the spot, as `answerNow` does.
    var responder: ((Machine.Dispatch) -> Reply?)?
    private var pending: [Machine.Action] = []
    private var performing = false

    init(_ configure: (inout Machine.Configuration) -> Void = { _ in }) {
        var configuration = Machine.Configuration(
            limits: ServerConfiguration.Limits(), idleTimeout: .seconds(300),
            pipelines: { Dispatcher.pipelines($0, attachment: $1) })
        configure(&configuration)
        machine = Machine(configuration: configuration)
        perform(machine.activated(now: now))
    }

    // Events, as the driver feeds them.

    /// One read burst carrying `bytes`.
    func send(_ bytes: [UInt8]) {
        perform(machine.read(bytes, now: now))
        perform(machine.readComplete())
    }

    /// One read burst carrying several reads.
    func send(reads: [[UInt8]]) {
        for bytes in reads { perform(machine.read(bytes, now: now)) }
        perform(machine.readComplete())
    }

    /// Bytes of a read burst that has not ended yet.
    func readWithoutCompleting(_ bytes: [UInt8]) { perform(machine.read(bytes, now: now)) }

    func accept(_ sequence: Int) { perform(machine.accepted(sequence)) }

    func reply(_ sequence: Int, _ reply: Reply) {
        unanswered[sequence] = nil
        perform(machine.replied(sequence, reply))
    }

    /// Replies to the request handed on as `sequence` with a result naming it.
    func answer(_ sequence: Int) {
        let dispatch = try! #require(unanswered[sequence], "request \(sequence) is not waiting")
        reply(sequence, Harness.echo(dispatch))
    }

    /// The client read everything written so far (not what is written as
    /// a result of that).
    func completeWrites() {
        let written = writes.count
        while completedWrites < written {
            let size = writes[completedWrites]
            completedWrites += 1
            perform(machine.written(size, now: now))
        }
    }

    func writability(_ isWritable: Bool) { perform(machine.writabilityChanged(isWritable: isWritable)) }
    func inputClosed() { perform(machine.inputClosed()) }
    func shutDown() { perform(machine.shutDown(now: now)) }

    /// Moves the clock on, firing each timer whose deadline comes.
    func advance(by duration: Duration) {
        let target = now.advanced(by: duration)
        while let (timer, deadline) = timers.filter({ $0.value <= target }).min(by: { $0.value < $1.value }) {
            now = deadline
            timers[timer] = nil
            perform(machine.timerFired(timer, now: now))
        }
        now = target
    }

    // Actions, in order, like the driver.

    private func perform(_ actions: [Machine.Action]) {
        pending.append(contentsOf: actions)
        guard !performing else { return }
        performing = true
        defer { performing = false }
        var next = 0
        while next < pending.count {
            perform(pending[next])
            next += 1
        }
        pending.removeAll()
    }

    private func perform(_ action: Machine.Action) {
        log.append(action)
        #expect(closed == nil, "\(action) after the connection was closed")
        switch action {
        case .write(let bytes):
            output += bytes.joined
            writes.append(bytes.count)
            if completesWrites { completeWrites() }
        case .flush: break
        case .dispatch(let dispatch):
            dispatched.append(dispatch)
            unanswered[dispatch.sequence] = dispatch
            if let reply = responder?(dispatch) { self.reply(dispatch.sequence, reply) }
        case .pauseReading:
            #expect(!readingPaused)
            readingPaused = true
        case .resumeReading:
            #expect(readingPaused)
            readingPaused = false
        case .startTimer(let timer, let deadline): timers[timer] = deadline
        case .cancelTimer(let timer): timers[timer] = nil
        case .close(let reason): closed = reason
        }
    }

    // Reading the output.

    /// The output's response lines, parsed (for output without raw bytes).
    var responses: [JSONValue] {
        output.split(separator: 0x0a).map { try! JSONParser.parse(Array($0)) }
    }

    /// The methods of the requests handed on, in order.
    var dispatchedMethods: [String] { dispatched.map(\.request.method) }

    /// The number of write actions so far.
    var writeCount: Int { writes.count }

    /// A result naming the request: its method and its attachment's length.
    static func echo(_ dispatch: Machine.Dispatch) -> Reply {
        var result = JSONObject([("method", .string(dispatch.request.method))])
        if let attachment = dispatch.attachment { result["attachment"] = .number(JSONNumber(attachment.count)) }
        return .result(.object(result))
    }

    /// A responder answering every request at once with ``echo(_:)``.
    static let echoing: @Sendable (Machine.Dispatch) -> Reply? = { echo($0) }
}

/// A request line with its newline.
private func line(_ json: JSONValue) -> [UInt8] {
    var bytes: [UInt8] = []
    json.serialized(into: &bytes)
    bytes.append(0x0a)
    return bytes
}

private func request(_ id: JSONValue?, _ method: String, _ params: JSONObject = JSONObject()) -> JSONValue {
    RPCRequest(id: id, method: method, params: params).json
}

private func text(_ string: String) -> [UInt8] { Array(string.utf8) }

private let uploadId = "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a"

/// An `uploads.append` line announcing `length` raw bytes.
private func append(_ id: JSONValue, offset: Int, length: Int) -> [UInt8] {
    line(
        request(
            id, "uploads.append",
            JSONObject([
                ("uploadId", .string(uploadId)), ("offset", .number(JSONNumber(offset))),
                ("dataLength", .number(JSONNumber(length))),
            ])))
}

private func errorCode(_ response: JSONValue) -> String? { response["error"]?["data"]?["code"]?.stringValue }

@Suite
struct ConnectionStateMachineTests {
    // MARK: - Framing, split at every byte boundary

    /// Feeds `stream` in two read bursts split at every byte boundary, and
    /// once a byte at a time; each run must give what one whole read gives.
    private func expectSameAtEverySplit(
        of stream: [UInt8], configure: (inout Machine.Configuration) -> Void = { _ in }, check: (Harness) -> Void
    ) {
        var runs: [[[UInt8]]] = (0...stream.count).map { [Array(stream[..<$0]), Array(stream[$0...])] }
        runs.append(stream.map { [$0] })
        for pieces in runs {
            let harness = Harness(configure)
            harness.responder = Harness.echoing
            for piece in pieces { harness.send(piece) }
            check(harness)
        }
    }

    @Test func aRequestLineSplitAnywhere() {
        let stream = line(request(1, "system.hello"))
        expectSameAtEverySplit(of: stream) { harness in
            #expect(harness.dispatchedMethods == ["system.hello"])
            #expect(harness.responses == [RPCResponse.success(id: 1, result: ["method": "system.hello"])])
        }
        // Nothing is handed on before the newline.
        let harness = Harness()
        harness.send(Array(stream.dropLast()))
        #expect(harness.dispatched.isEmpty)
        harness.send([0x0a])
        #expect(harness.dispatched.count == 1)
    }

    @Test func aRequestWithAnAttachmentSplitAnywhere() {
        // Byte by byte as in docs/protocol.md: a newline inside an attachment is just a byte.
        let upload = request(7, "artifacts.upload", JSONObject([("dataLength", 7)]))
        let stream = line(upload) + text(" cairn\n") + line(request(8, "system.hello"))
        expectSameAtEverySplit(of: stream) { harness in
            #expect(harness.dispatchedMethods == ["artifacts.upload", "system.hello"])
            #expect(harness.dispatched.first?.attachment == text(" cairn\n"))
            #expect(harness.dispatched.first?.pipelined == false)
            #expect(
                harness.responses == [
                    RPCResponse.success(id: 7, result: ["method": "artifacts.upload", "attachment": 7]),
                    RPCResponse.success(id: 8, result: ["method": "system.hello"]),
                ])
        }
    }

    @Test func anEmptyAttachment() {
        let stream =
            line(request(1, "artifacts.upload", JSONObject([("dataLength", 0)]))) + line(request(2, "system.hello"))
        expectSameAtEverySplit(of: stream) { harness in
            #expect(harness.dispatched.map(\.attachment) == [[], nil])
            #expect(harness.responses.map { $0["id"] } == [1, 2])
        }
    }

    @Test func aBatchSplitAnywhere() {
        let batch: JSONValue = [
            request(1, "tenants.usage"),
            request(nil, "tenants.usage"),
            5,
            request(2, "artifacts.upload", JSONObject([("dataLength", 3)])),
        ]
        let stream = line(batch) + text("abc") + line(request(3, "system.hello"))
        expectSameAtEverySplit(of: stream) { harness in
            // The two requests without attachments are carried out, one after the other.
            #expect(harness.dispatchedMethods == ["tenants.usage", "tenants.usage", "system.hello"])
            #expect(harness.dispatched.allSatisfy { $0.attachment == nil && !$0.pipelined })
            let responses = harness.responses
            #expect(responses.count == 2)
            guard responses.count == 2 else { return }
            let array = responses[0].arrayValue ?? []
            #expect(array.count == 3)
            #expect(array.first == RPCResponse.success(id: 1, result: ["method": "tenants.usage"]))
            #expect(array.dropFirst().map(errorCode) == ["INVALID_REQUEST", "INVALID_REQUEST"])
            #expect(array.dropFirst().map { $0["id"] } == [.null, 2])
            // The 3 announced bytes were dropped: the next line is the next request.
            #expect(responses[1]["id"] == 3)
        }
    }

    @Test func anInvalidRequestAnnouncingADataLengthSplitAnywhere() {
        let invalid = text(#"{"id":"bad","method":"artifacts.upload","params":{"dataLength":5}}"#) + [0x0a]
        let stream = invalid + text("{\"x\"\n") + line(request("next", "system.hello"))
        expectSameAtEverySplit(of: stream) { harness in
            #expect(harness.dispatchedMethods == ["system.hello"])
            let responses = harness.responses
            #expect(responses.count == 2)
            #expect(responses.first.flatMap(errorCode) == "INVALID_REQUEST")
            #expect(responses.first?["id"] == "bad")
            #expect(responses.last?["id"] == "next")
            #expect(harness.closed == nil)
        }
    }

    @Test func aTooLongLineSplitAnywhere() {
        let long = line(request(1, "system.hello", JSONObject([("pad", .string(String(repeating: "a", count: 80)))])))
        let stream = long + line(request(2, "system.hello"))
        expectSameAtEverySplit(of: stream, configure: { $0.maxRequestBytes = 64 }) { harness in
            #expect(harness.dispatchedMethods == ["system.hello"])
            let responses = harness.responses
            #expect(responses.count == 2)
            #expect(responses.first.flatMap(errorCode) == "REQUEST_TOO_LARGE")
            #expect(responses.first?["id"] == .null)
            #expect(responses.first?["error"]?["data"]?["limit"] == 64)
            #expect(responses.last?["id"] == 2)
        }
    }

    @Test func aLineOfExactlyMaxRequestBytesIsRead() {
        let exact = line(request(1, "system.hello"))
        let harness = Harness { $0.maxRequestBytes = exact.count - 1 }
        harness.responder = Harness.echoing
        harness.send(exact + exact.dropLast() + text(" \n"))
        #expect(harness.responses.map(errorCode) == [nil, "REQUEST_TOO_LARGE"])
    }

    @Test func blankLinesAreIgnored() {
        let harness = Harness()
        harness.responder = Harness.echoing
        harness.send(text("\n \t\r\n\r\n   \n") + line(request(1, "system.hello")))
        #expect(harness.dispatchedMethods == ["system.hello"])
        #expect(harness.responses.count == 1)
    }

    @Test func invalidLinesAreAnsweredAndTheConnectionGoesOn() {
        let harness = Harness()
        harness.responder = Harness.echoing
        harness.send(
            text("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"system.hello\"\n")
                + text(#"{"id":"abc","method":"system.hello"}"# + "\n")
                + text(#"{"jsonrpc":"2.0","id":{"a":1},"method":"system.hello"}"# + "\n")
                + text("[]\n") + line(request(2, "system.hello")))
        let responses = harness.responses
        #expect(
            responses.map(errorCode) == ["PARSE_ERROR", "INVALID_REQUEST", "INVALID_REQUEST", "INVALID_REQUEST", nil])
        #expect(responses.map { $0["id"] } == [.null, "abc", .null, .null, 2])
        #expect(harness.closed == nil)
    }

    // MARK: - Order and pipelining

    @Test func requestsAreCarriedOutOneAtATime() {
        let harness = Harness()
        harness.send(line(request(1, "tenants.usage")) + line(request(2, "tenants.usage")))
        #expect(harness.dispatched.map(\.sequence) == [0])
        harness.answer(0)
        #expect(harness.dispatched.map(\.sequence) == [0, 1])
        harness.answer(1)
        #expect(harness.responses.map { $0["id"] } == [1, 2])
    }

    @Test func pipelinedAppendsAnswerInRequestOrderWhateverOrderTheirRepliesComeIn() {
        let harness = Harness()
        let chunk = text("0123456789")
        harness.send(
            append("a0", offset: 0, length: 10) + chunk + append("a1", offset: 10, length: 10) + chunk
                + append("a2", offset: 20, length: 10) + chunk
                + line(request("commit", "uploads.commit", JSONObject([("uploadId", .string(uploadId))]))))
        // Each append is handed on once the one before it was accepted.
        #expect(harness.dispatched.map(\.sequence) == [0])
        #expect(harness.dispatched[0].pipelined)
        harness.accept(0)
        harness.accept(1)
        #expect(harness.dispatched.map(\.sequence) == [0, 1, 2])
        harness.accept(2)
        // The commit waits for every append before it.
        #expect(harness.dispatchedMethods == ["uploads.append", "uploads.append", "uploads.append"])
        harness.answer(2)
        harness.answer(1)
        #expect(harness.output.isEmpty, "a response was written before the one of an earlier request")
        harness.answer(0)
        #expect(harness.responses.map { $0["id"] } == ["a0", "a1", "a2"])
        #expect(harness.dispatchedMethods.last == "uploads.commit")
        harness.answer(3)
        #expect(harness.responses.map { $0["id"] } == ["a0", "a1", "a2", "commit"])
    }

    @Test func atMostFourAppendsInFlight() {
        let harness = Harness()
        var stream: [UInt8] = []
        for index in 0..<6 { stream += append(.number(JSONNumber(index)), offset: index, length: 1) + [0x41] }
        harness.send(stream)
        for sequence in 0..<4 { harness.accept(sequence) }
        #expect(harness.dispatched.count == 4)
        harness.accept(4)  // not handed on: ignored
        #expect(harness.dispatched.count == 4)
        // Any reply makes room; the next is handed on once the one before it was accepted.
        harness.answer(1)
        #expect(harness.dispatched.count == 5)
        harness.accept(4)
        #expect(harness.dispatched.count == 5)
        harness.answer(0)
        #expect(harness.dispatched.count == 6)
        harness.accept(5)
        for sequence in 2..<6 { harness.answer(sequence) }
        #expect(harness.responses.map { $0["id"] } == [0, 1, 2, 3, 4, 5])
    }

    @Test func anAppendRefusedBeforeItIsAcceptedLetsTheNextGo() {
        let harness = Harness()
        harness.send(append(1, offset: 0, length: 1) + [1] + append(2, offset: 1, length: 1) + [2])
        harness.reply(0, .error(RPCError(.notFound, "no such upload")))
        #expect(harness.dispatched.count == 2)
        harness.answer(1)
        #expect(harness.responses.map(errorCode) == ["NOT_FOUND", nil])
    }

    @Test func anInvalidLineAfterAppendsIsAnsweredInItsPlace() {
        let harness = Harness()
        harness.send(append(1, offset: 0, length: 1) + [1] + text("nonsense\n"))
        #expect(harness.output.isEmpty)
        harness.answer(0)
        #expect(harness.responses.map(errorCode) == [nil, "PARSE_ERROR"])
    }

    @Test func anAppendWithoutAttachmentIsNotPipelined() {
        let harness = Harness()
        let params = JSONObject([("uploadId", .string(uploadId)), ("offset", 0), ("data", "QQ==")])
        harness.send(line(request(1, "uploads.append", params)) + line(request(2, "uploads.append", params)))
        #expect(harness.dispatched.map(\.pipelined) == [false])
    }

    // MARK: - Notifications and batches

    @Test func notificationsAreCarriedOutWithoutAnAnswer() {
        let harness = Harness()
        harness.responder = Harness.echoing
        harness.send(
            line(request(nil, "tenants.usage"))
                + line(request(nil, "artifacts.upload", JSONObject([("dataLength", 2)]))) + text("xy")
                + line([request(nil, "tenants.usage"), request(nil, "tenants.usage")]))
        #expect(harness.dispatched.count == 4)
        #expect(harness.output.isEmpty)
        #expect(harness.writeCount == 0)
    }

    @Test func aBatchRunsItsEntriesInOrderAndAnswersOnce() {
        let harness = Harness()
        harness.send(line([request(1, "a.b"), request(nil, "c.d"), request(2, "e.f")]) + line(request(3, "g.h")))
        #expect(harness.dispatchedMethods == ["a.b"])
        harness.answer(0)
        harness.answer(1)
        #expect(harness.output.isEmpty)
        harness.reply(2, .error(RPCError(.methodNotFound, "no method e.f")))
        let responses = harness.responses
        #expect(responses.first?.arrayValue?.map { $0["id"] } == [1, 2])
        #expect(responses.first?.arrayValue?.last.flatMap(errorCode) == "METHOD_NOT_FOUND")
        #expect(harness.dispatchedMethods.last == "g.h")
    }

    @Test func aBatchTakenWhenAWriteCompletesIsWritten() {
        // A parse error passes the capacity; the batch waits for it to be written.
        let harness = Harness { $0.outputCapacity = 100 }
        harness.completesWrites = false
        harness.send(text("x\n[1,2]\n"))
        #expect(harness.writeCount == 1)
        #expect(harness.responses.map(errorCode) == ["PARSE_ERROR"])
        harness.completeWrites()
        #expect(harness.writeCount == 2)
        #expect(
            harness.output.split(separator: 0x0a).last.map { Array($0) }
                == text(
                    #"[{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"a request must be a JSON object","data":{"code":"INVALID_REQUEST"}}},{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"a request must be a JSON object","data":{"code":"INVALID_REQUEST"}}}]"#
                ))
    }

    @Test func anEmptyBatchIsOneInvalidRequest() {
        let harness = Harness()
        harness.send(text("[]\n"))
        let responses = harness.responses
        #expect(responses.count == 1)
        #expect(responses.first?.arrayValue == nil)
        #expect(responses.first.flatMap(errorCode) == "INVALID_REQUEST")
    }

    @Test func aBinaryReadInsideABatchAnswersBase64() {
        let harness = Harness()
        harness.responder = { _ in .binary(["offset": 0, "dataLength": 6], text("cairn\n")) }
        harness.send(line([request("read", "artifacts.read")]) + line(request("after", "artifacts.read")))
        let expected = text(
            #"[{"jsonrpc":"2.0","id":"read","result":{"offset":0,"data":"Y2Fpcm4K"}}]"#
                + "\n"
                + #"{"jsonrpc":"2.0","id":"after","result":{"offset":0,"dataLength":6}}"# + "\ncairn\n")
        #expect(harness.output == expected)
    }

    @Test func aBatchAnnouncingMoreThanEveryLimitIsAnsweredThenClosed() {
        let harness = Harness()
        harness.responder = Harness.echoing
        let upload = { (id: JSONValue) in
            request(id, "artifacts.upload", JSONObject([("dataLength", .number(JSONNumber(10 << 20)))]))
        }
        harness.send(line([upload(1), request(2, "tenants.usage"), upload(3)]) + line(request(4, "system.hello")))
        let array = harness.responses.first?.arrayValue ?? []
        #expect(array.map(errorCode) == ["INVALID_REQUEST", nil, "INVALID_REQUEST"])
        #expect(harness.responses.count == 1)
        #expect(harness.dispatchedMethods == ["tenants.usage"])
        #expect(harness.closed == .framingLost)
    }

    @Test func aBatchEntryWithAnUnusableLengthEndsTheBatchAndTheConnection() {
        let harness = Harness()
        harness.responder = Harness.echoing
        harness.send(
            line([
                request(1, "tenants.usage"), request(2, "artifacts.upload", JSONObject([("dataLength", -1)])),
                request(3, "tenants.usage"),
            ]))
        let array = harness.responses.first?.arrayValue ?? []
        #expect(array.map { $0["id"] } == [1, 2])
        #expect(array.last.flatMap(errorCode) == "INVALID_PARAMS")
        #expect(harness.dispatched.count == 1, "an entry after the unusable one was carried out")
        #expect(harness.closed == .framingLost)
    }

    // MARK: - Lengths that cannot be honoured

    @Test func anUnskippableLengthIsAnsweredThenClosed() {
        let cases: [(length: JSONValue, code: String, id: JSONValue)] = [
            (-1, "INVALID_PARAMS", 1), ("3", "INVALID_PARAMS", 1), (.number(JSONNumber(1.5)), "INVALID_PARAMS", 1),
            (true, "INVALID_PARAMS", 1), (.number(JSONNumber((16 << 20) + 1)), "REQUEST_TOO_LARGE", nil),
        ]
        for (length, code, id) in cases {
            let harness = Harness()
            harness.responder = Harness.echoing
            harness.completesWrites = false
            harness.send(
                line(request(1, "artifacts.upload", JSONObject([("dataLength", length)])))
                    + line(request(2, "system.hello")))
            #expect(harness.responses.map(errorCode) == [code])
            #expect(harness.responses.first?["id"] == id)
            #expect(harness.dispatched.isEmpty, "bytes after an unusable length were read as a request")
            // Closed once its answer is written, not before.
            #expect(harness.closed == nil)
            harness.completeWrites()
            #expect(harness.closed == .framingLost)
        }
    }

    @Test func anInvalidRequestAnnouncingMoreThanEveryLimitIsNotFollowed() {
        let harness = Harness()
        harness.responder = Harness.echoing
        harness.send(
            text(#"{"id":"bad","method":"x","params":{"dataLength":16777217}}"#) + [0x0a]
                + line(request("smuggled", "system.hello")))
        #expect(harness.responses.map(errorCode) == ["INVALID_REQUEST"])
        #expect(harness.dispatched.isEmpty)
        #expect(harness.closed == .framingLost)
    }

    @Test func responsesOwedBeforeLostFramingAreWrittenFirst() {
        let harness = Harness()
        harness.send(append(1, offset: 0, length: 1) + [1] + line(request(2, "x.y", JSONObject([("dataLength", -1)]))))
        #expect(harness.closed == nil)
        // Input after the lost framing is dropped.
        harness.send(line(request(3, "system.hello")))
        harness.answer(0)
        #expect(harness.responses.map { $0["id"] } == [1, 2])
        #expect(harness.closed == .framingLost)
        #expect(harness.dispatched.count == 1)
    }

    // MARK: - Writes and back-pressure

    @Test func responsesOfOneReadBurstGoOutInOneWrite() {
        let harness = Harness()
        harness.responder = Harness.echoing
        var requests: [UInt8] = []
        for id in 0..<20 { requests += line(request(.number(JSONNumber(id)), "system.hello")) }
        // Three reads in one burst, split inside lines.
        harness.send(reads: [Array(requests[..<100]), Array(requests[100..<700]), Array(requests[700...])])
        #expect(harness.writeCount == 1)
        #expect(harness.log.filter { $0 == .flush }.count == 1)
        #expect(harness.responses.count == 20)
    }

    @Test func nothingIsWrittenBeforeTheReadBurstEnds() {
        let harness = Harness()
        harness.responder = Harness.echoing
        harness.readWithoutCompleting(line(request(1, "system.hello")))
        harness.readWithoutCompleting(line(request(2, "system.hello")))
        #expect(harness.dispatched.count == 2)
        #expect(harness.writeCount == 0)
        harness.send([])
        #expect(harness.writeCount == 1)
        #expect(harness.responses.count == 2)
    }

    @Test func repliesOutsideAReadBurstAreWrittenAtOnce() {
        let harness = Harness()
        harness.send(line(request(1, "tenants.usage")))
        #expect(harness.writeCount == 0)
        harness.answer(0)
        #expect(harness.writeCount == 1)
    }

    @Test func aBinaryReplyIsFollowedByItsBytes() {
        let harness = Harness()
        harness.responder = { _ in .binary(["dataLength": 3], [0, 0x0a, 255]) }
        harness.send(line(request(1, "artifacts.read")))
        #expect(harness.output == text(#"{"jsonrpc":"2.0","id":1,"result":{"dataLength":3}}"# + "\n") + [0, 0x0a, 255])
    }

    @Test func readingPausesOverCapacityAndResumesWhenWritten() {
        let harness = Harness { $0.outputCapacity = 1000 }
        harness.completesWrites = false
        harness.responder = { _ in .binary(["dataLength": 600], [UInt8](repeating: 7, count: 600)) }
        var requests: [UInt8] = []
        for id in 0..<5 { requests += line(request(.number(JSONNumber(id)), "artifacts.read")) }
        harness.send(requests)
        // Two responses pass the capacity: they are written at once, and nothing more is taken.
        #expect(harness.dispatched.count == 2)
        #expect(harness.readingPaused)
        #expect(harness.writeCount == 1)
        // Room for two more, then over capacity again.
        harness.completeWrites()
        #expect(harness.dispatched.count == 4)
        #expect(harness.readingPaused)
        harness.completeWrites()
        #expect(harness.dispatched.count == 5)
        #expect(!harness.readingPaused)
        var expected: [UInt8] = []
        for id in 0..<5 {
            expected += text(#"{"jsonrpc":"2.0","id":\#(id),"result":{"dataLength":600}}"# + "\n")
            expected += [UInt8](repeating: 7, count: 600)
        }
        #expect(harness.output == expected)
    }

    @Test func responsesQueuedBehindAnAppendCountTowardsTheCapacity() {
        let harness = Harness { $0.outputCapacity = 500 }
        harness.send(append(1, offset: 0, length: 1) + [1])
        var junk: [UInt8] = []
        for _ in 0..<20 { junk += text("nonsense\n") }
        harness.send(junk)
        #expect(harness.readingPaused, "errors queued behind an append did not stop the reading")
        harness.answer(0)
        #expect(!harness.readingPaused)
        #expect(harness.responses.count == 21)
    }

    @Test func anUnwritableSocketHoldsResponsesAndSendsThemTogether() {
        let harness = Harness()
        harness.responder = Harness.echoing
        harness.writability(false)
        harness.send(line(request(1, "system.hello")))
        harness.send(line(request(2, "system.hello")))
        #expect(harness.writeCount == 0)
        harness.writability(true)
        #expect(harness.writeCount == 1)
        #expect(harness.responses.map { $0["id"] } == [1, 2])
    }

    @Test func readingPausesWhileAWaitingRequestHasEnoughInputBehindIt() {
        let harness = Harness { $0.readAheadBytes = 100 }
        harness.send(line(request(1, "tenants.usage")))
        harness.send(line(request(2, "tenants.usage")))
        #expect(!harness.readingPaused, "a little read-ahead is kept")
        harness.send([UInt8](repeating: 0x20, count: 100))
        #expect(harness.readingPaused)
        harness.answer(0)
        #expect(!harness.readingPaused)
    }

    // MARK: - Idle

    @Test func idleClosesAfterExactlyTheTimeout() {
        let harness = Harness()
        let start = harness.now
        #expect(harness.timers[.idle] == start.advanced(by: .seconds(300)))
        // A timer that fires early changes nothing but its deadline.
        harness.fireIdleTimer(at: start.advanced(by: .seconds(300) - .microseconds(1)))
        #expect(harness.closed == nil)
        #expect(harness.timers[.idle] == start.advanced(by: .seconds(300)))
        harness.advance(by: .seconds(300) - .microseconds(1))
        #expect(harness.closed == nil)
        harness.advance(by: .microseconds(1))
        #expect(harness.closed == .idle)
        #expect(harness.output.isEmpty)
    }

    @Test func aReadResetsTheIdleClock() {
        let harness = Harness()
        let start = harness.now
        harness.advance(by: .seconds(100))
        harness.send(text(" "))
        harness.advance(by: .seconds(300) - .microseconds(1))
        #expect(harness.closed == nil)
        #expect(harness.timers[.idle] == start.advanced(by: .seconds(400)))
        harness.advance(by: .microseconds(1))
        #expect(harness.closed == .idle)
    }

    @Test func aSlowReaderStillReceivingBytesIsNotIdle() {
        let harness = Harness { $0.outputCapacity = 1000 }
        harness.completesWrites = false
        harness.responder = { _ in .binary(["dataLength": 2000], [UInt8](repeating: 1, count: 2000)) }
        var requests: [UInt8] = []
        for id in 0..<8 { requests += line(request(.number(JSONNumber(id)), "artifacts.read")) }
        harness.send(requests)
        // The client sends nothing more and reads one write every 299 s.
        for _ in 0..<8 {
            harness.advance(by: .seconds(299))
            #expect(harness.closed == nil)
            harness.completeWrites()
        }
        #expect(harness.dispatched.count == 8)
        harness.advance(by: .seconds(300) - .microseconds(1))
        #expect(harness.closed == nil)
        harness.advance(by: .microseconds(1))
        #expect(harness.closed == .idle)
    }

    @Test func aStalledReaderIsIdle() {
        let harness = Harness { $0.outputCapacity = 1000 }
        harness.completesWrites = false
        harness.responder = { _ in .binary(["dataLength": 2000], [UInt8](repeating: 1, count: 2000)) }
        harness.send(line(request(1, "artifacts.read")) + line(request(2, "artifacts.read")))
        #expect(harness.readingPaused)
        harness.advance(by: .seconds(300) - .microseconds(1))
        #expect(harness.closed == nil)
        harness.advance(by: .microseconds(1))
        #expect(harness.closed == .idle)
    }

    // MARK: - Shutdown and the end of input

    @Test func shutdownClosesAnIdleConnectionAtOnce() {
        let harness = Harness()
        harness.responder = Harness.echoing
        harness.send(line(request(1, "system.hello")) + text(#"{"jsonrpc":"2.0","#))
        harness.shutDown()
        #expect(harness.closed == .shutDown)
        #expect(harness.timers.isEmpty)
    }

    @Test func shutdownClosesAConnectionHalfWayThroughAnAttachmentAtOnce() {
        let harness = Harness()
        harness.send(line(request(1, "artifacts.upload", JSONObject([("dataLength", 1000)]))) + text("partial"))
        harness.shutDown()
        #expect(harness.closed == .shutDown)
        #expect(harness.dispatched.isEmpty)
    }

    @Test func shutdownLetsABusyConnectionFinish() {
        let harness = Harness()
        harness.completesWrites = false
        harness.send(line(request(1, "tenants.usage")) + line(request(2, "tenants.usage")))
        harness.shutDown()
        #expect(harness.closed == nil)
        #expect(harness.readingPaused)
        #expect(harness.timers[.shutdownGrace] == harness.now.advanced(by: .seconds(3)))
        harness.advance(by: .seconds(1))
        harness.answer(0)
        // A request already read is still answered.
        harness.answer(1)
        #expect(harness.closed == nil, "closed before the responses were written")
        harness.completeWrites()
        #expect(harness.closed == .shutDown)
        #expect(harness.responses.map { $0["id"] } == [1, 2])
        #expect(harness.timers.isEmpty)
    }

    @Test func shutdownGraceClosesAConnectionThatDoesNotFinish() {
        let harness = Harness()
        harness.send(line(request(1, "blobs.verify")))
        harness.shutDown()
        harness.advance(by: .seconds(3) - .microseconds(1))
        #expect(harness.closed == nil)
        harness.advance(by: .microseconds(1))
        #expect(harness.closed == .shutdownGraceExpired)
        // A reply after the close goes nowhere.
        harness.answer(0)
        #expect(harness.output.isEmpty)
    }

    @Test func shutdownBeforeTheConnectionIsActiveClosesItWhenItIs() {
        var machine = Machine(
            configuration: .init(
                limits: .init(), idleTimeout: .seconds(1), pipelines: { Dispatcher.pipelines($0, attachment: $1) }))
        #expect(machine.shutDown(now: Instant(nanoseconds: 0)).isEmpty)
        let actions = machine.activated(now: Instant(nanoseconds: 0))
        #expect(actions.last == .close(.shutDown))
        #expect(machine.isClosed)
    }

    @Test func inputClosedWithRepliesOwed() {
        let harness = Harness()
        harness.completesWrites = false
        harness.send(
            line(request(1, "tenants.usage")) + line(request(nil, "tenants.usage")) + line(request(3, "tenants.usage"))
                + text(#"{"jsonrpc":"2.0","id":4"#))
        harness.inputClosed()
        #expect(harness.closed == nil)
        harness.answer(0)
        harness.answer(1)
        harness.answer(2)
        #expect(harness.dispatched.count == 3, "the partial line at the end of input was carried out")
        #expect(harness.closed == nil, "closed before the responses were written")
        harness.completeWrites()
        #expect(harness.closed == .inputEnded)
        #expect(harness.responses.map { $0["id"] } == [1, 3])
    }

    @Test func inputClosedWithNothingOwedClosesAtOnce() {
        let harness = Harness()
        harness.inputClosed()
        #expect(harness.closed == .inputEnded)
    }

    @Test func aClosedConnectionDoesNothingMore() {
        let harness = Harness()
        harness.send(line(request(1, "tenants.usage")))
        var machine = harness.machine
        #expect(machine.closed() == [.cancelTimer(.idle)])
        #expect(machine.replied(0, .result(nil)).isEmpty)
        #expect(machine.read(line(request(2, "tenants.usage")), now: harness.now).isEmpty)
        #expect(machine.timerFired(.idle, now: harness.now.advanced(by: .seconds(301))).isEmpty)
        #expect(machine.shutDown(now: harness.now).isEmpty)
    }
}

extension Harness {
    /// Fires the idle timer at `instant`, as a timer that runs early would.
    fileprivate func fireIdleTimer(at instant: Instant) {
        timers[.idle] = nil
        let actions = machine.timerFired(.idle, now: instant)
        for action in actions {
            if case .startTimer(let timer, let deadline) = action { timers[timer] = deadline }
            if case .close(let reason) = action { closed = reason }
        }
    }
}
