import CairnProtocol

/// One client connection's protocol as a value: bytes read, replies and
/// timer ticks go in; what to do next comes out as ``Action``s.
///
/// The machine frames the byte stream into lines and attachments, judges
/// each line (``RPCLine``), decides which request may be carried out next,
/// keeps responses in request order, coalesces them into writes, applies
/// back-pressure, and decides when the connection closes: when idle, at a
/// graceful shutdown, after the framing is lost, or once a client that
/// stopped sending has all its responses.
///
/// It does no I/O and reads no clock. Events that need the time carry it
/// as an ``Instant``, and every timer it wants is an action with a
/// deadline. It does not carry requests out either: it hands each on as a
/// ``Action/dispatch(_:)`` with a sequence number and takes the reply back
/// through ``replied(_:_:)``. The driver (``Connection``) performs the
/// actions of each event in the order given, before those of any later
/// event.
///
/// Requests run one at a time, in order. The one overlap is a run of
/// requests that ``Configuration/pipelines`` accepts (an `uploads.append`
/// with its attachment): each is handed on once the one before it was
/// accepted (``accepted(_:)``), up to ``Configuration/maxAppendsInFlight``
/// without a reply; any other request waits until every one of them has
/// replied. Responses always go out in request order.
struct ConnectionStateMachine {
    /// The machine's settings.
    struct Configuration: Sendable {
        /// The longest request line; also bounds an `artifacts.upload` attachment.
        var maxRequestBytes: Int
        /// The most decoded bytes of one `uploads.append`.
        var maxChunkBytes: Int
        /// A connection on which nothing is read and no write completes for
        /// this long is closed.
        var idleTimeout: Duration
        /// How long a graceful shutdown waits for a busy connection.
        var shutdownGrace: Duration = .seconds(3)
        /// Response bytes queued (made and not yet written) above which the
        /// machine takes no further request and stops reading.
        var outputCapacity = 1 << 20
        /// Input buffered while the next request waits for its turn, above
        /// which the machine stops reading.
        var readAheadBytes = 1 << 20
        /// Pipelined requests handed on and not yet replied to, at most.
        var maxAppendsInFlight = 4
        /// Whether a request, with its attachment, may overlap the ones
        /// before it (``Dispatcher/pipelines(_:attachment:)``).
        var pipelines: @Sendable (RPCRequest, [UInt8]?) -> Bool

        /// Settings from the server's limits.
        ///
        /// - Parameters:
        ///   - limits: `maxRequestBytes` and `maxChunkBytes` are used.
        ///   - idleTimeout: see ``idleTimeout``.
        ///   - pipelines: see ``pipelines``.
        init(
            limits: ServerConfiguration.Limits, idleTimeout: Duration,
            pipelines: @escaping @Sendable (RPCRequest, [UInt8]?) -> Bool
        ) {
            maxRequestBytes = limits.maxRequestBytes
            maxChunkBytes = limits.maxChunkBytes
            self.idleTimeout = idleTimeout
            self.pipelines = pipelines
        }

        /// The largest attachment that can ever be accepted; beyond it the
        /// stream cannot be kept framed at a bounded cost.
        var attachmentLimit: Int { max(maxRequestBytes, maxChunkBytes) }
    }

    /// A point in time of the driver's monotonic clock, in nanoseconds.
    struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
        var nanoseconds: Int64

        init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

        /// This instant moved by `duration`, saturating at the ends of the range.
        func advanced(by duration: Duration) -> Instant {
            let (seconds, attoseconds) = duration.components
            let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
            if overflow { return Instant(nanoseconds: seconds < 0 ? .min : .max) }
            let (span, overflowSpan) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
            if overflowSpan { return Instant(nanoseconds: seconds < 0 ? .min : .max) }
            let (sum, overflowSum) = nanoseconds.addingReportingOverflow(span)
            if overflowSum { return Instant(nanoseconds: span < 0 ? .min : .max) }
            return Instant(nanoseconds: sum)
        }

        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
        var description: String { "\(nanoseconds) ns" }
    }

    /// The timers the machine asks for; at most one of each runs.
    enum Timer: Hashable, Sendable {
        /// Fires when nothing may have moved for the idle timeout.
        case idle
        /// Ends a graceful shutdown's wait for a busy connection.
        case shutdownGrace
    }

    /// Why the machine closes the connection.
    enum CloseReason: Hashable, Sendable {
        /// Nothing was read and no write completed for the idle timeout.
        case idle
        /// The client ended its input and has every response.
        case inputEnded
        /// An attachment's length could not be honoured, so the next line
        /// cannot be found; every response owed is written first.
        case framingLost
        /// A graceful shutdown, with nothing (more) owed to the client.
        case shutDown
        /// A graceful shutdown whose grace ran out while responses were owed.
        case shutdownGraceExpired
    }

    /// A request to carry out.
    struct Dispatch: Equatable, Sendable {
        /// The machine's number for it; its reply comes back with it.
        var sequence: Int
        var request: RPCRequest
        /// The raw bytes that followed its line, when it announced some.
        var attachment: [UInt8]?
        /// Whether it overlaps the requests around it: the driver reports
        /// when it was accepted (``ConnectionStateMachine/accepted(_:)``)
        /// before its reply.
        var pipelined: Bool
    }

    /// What the driver does next, in order.
    enum Action: Equatable, Sendable {
        /// Write these bytes (one or more whole responses, in order) and
        /// report with ``ConnectionStateMachine/written(_:now:)`` when the
        /// write completes.
        case write(ResponseBytes)
        /// Flush the writes so far.
        case flush
        /// Carry out a request; report its reply with
        /// ``ConnectionStateMachine/replied(_:_:)``.
        case dispatch(Dispatch)
        /// Stop reading from the socket.
        case pauseReading
        /// Read from the socket again.
        case resumeReading
        /// Start `timer` (replacing a running one) to fire at the deadline.
        case startTimer(Timer, deadline: Instant)
        /// Stop `timer`.
        case cancelTimer(Timer)
        /// Close the connection.
        case close(CloseReason)
    }

    /// The bytes of one or more responses, in order, as the pieces they
    /// were made of (a response line, the raw bytes after a binary result),
    /// so that the driver copies each byte once, into its write.
    struct ResponseBytes: Equatable, Sendable {
        private(set) var pieces: [[UInt8]] = []
        /// The number of bytes in all pieces.
        private(set) var count = 0

        var isEmpty: Bool { count == 0 }

        /// Every byte in one array.
        var joined: [UInt8] { Array(pieces.joined()) }

        mutating func append(_ piece: [UInt8]) {
            guard !piece.isEmpty else { return }
            pieces.append(piece)
            count += piece.count
        }

        mutating func append(contentsOf other: ResponseBytes) {
            pieces.append(contentsOf: other.pieces)
            count += other.count
        }
    }

    let configuration: Configuration

    private enum Phase {
        /// Made; the connection is not active yet.
        case starting
        case open
        case closed
    }

    private enum Input {
        case open
        /// The client shut down its writing half.
        case ended
        /// The framing is lost: input is dropped, and the connection closes
        /// once every response owed is written.
        case abandoned
    }

    /// The next requests, read and waiting for their turn.
    private enum Held {
        case request(RPCRequest, attachment: [UInt8]?, pipelined: Bool)
        /// The entries still to carry out of the batch at the end of ``owed``.
        case batch
    }

    /// A response owed to the client, in request order.
    private enum Owed {
        /// The reply to a dispatched request; a notification's is empty.
        case awaiting(sequence: Int, id: JSONValue?)
        case ready(ResponseBytes)
        case batch(BatchResponses)
    }

    /// A batch's responses, collected into the one array it is answered with.
    private struct BatchResponses {
        /// An entry to carry out: where its response goes in ``responses``
        /// (`nil` for a notification).
        struct Entry {
            var request: RPCRequest
            var index: Int?
        }

        /// The responses in order; `nil` where an entry to carry out has
        /// not replied yet.
        var responses: [JSONValue?] = []
        /// Entries not yet handed on, in order.
        var remaining: ArraySlice<Entry> = []
        /// Entries handed on without a reply, by sequence number.
        var waiting: [(sequence: Int, entry: Entry)] = []

        var isComplete: Bool { waiting.isEmpty && remaining.isEmpty }
    }

    private var phase = Phase.starting
    private var input = Input.open
    private var decoder: FrameDecoder
    /// The request whose attachment the decoder is collecting.
    private var expecting: RPCRequest?
    private var held: Held?
    private var owed: [Owed] = []
    private var nextSequence = 0
    /// Dispatched requests without a reply, and whether each is pipelined.
    private var inFlight: [Int: Bool] = [:]
    private var appendsInFlight = 0
    private var exclusiveInFlight = false
    /// The pipelined request handed on last, until it is accepted.
    private var unaccepted: Int?
    /// Responses ready to write, not yet handed to the driver.
    private var outbox = ResponseBytes()
    /// Bytes handed to the driver whose write has not completed.
    private var unwrittenBytes = 0
    private var isWritable = true
    /// Between a read and the end of its read burst: responses wait for
    /// the burst to end, so that they go out in one write.
    private var inReadBurst = false
    private var readingPaused = false
    private var lastActivity = Instant(nanoseconds: 0)
    private var runningTimers: Set<Timer> = []
    private var shuttingDown = false

    /// A machine for a connection that is not active yet.
    init(configuration: Configuration) {
        self.configuration = configuration
        decoder = FrameDecoder(maxLineBytes: configuration.maxRequestBytes)
    }

    /// Whether the machine closed the connection, or saw it closed.
    var isClosed: Bool { phase == .closed }

    // MARK: - Events

    /// The connection became active: the idle clock starts.
    mutating func activated(now: Instant) -> [Action] {
        guard phase == .starting else { return [] }
        phase = .open
        lastActivity = now
        var actions: [Action] = []
        startTimer(.idle, deadline: now.advanced(by: configuration.idleTimeout), &actions)
        // Told to shut down before it began: nothing is owed yet.
        if shuttingDown { close(.shutDown, &actions) }
        return actions
    }

    /// Bytes read from the client.
    mutating func read(_ bytes: UnsafeRawBufferPointer, now: Instant) -> [Action] {
        guard phase == .open else { return [] }
        lastActivity = now
        inReadBurst = true
        // Once the framing is lost, what follows cannot be read as requests.
        guard input == .open else { return [] }
        decoder.feed(bytes)
        return advance()
    }

    /// Bytes read from the client.
    mutating func read(_ bytes: [UInt8], now: Instant) -> [Action] {
        bytes.withUnsafeBytes { read($0, now: now) }
    }

    /// The read burst ended: what it produced goes out in one write.
    mutating func readComplete() -> [Action] {
        inReadBurst = false
        return advance()
    }

    /// The pipelined request `sequence` was accepted: the next may follow.
    mutating func accepted(_ sequence: Int) -> [Action] {
        guard unaccepted == sequence else { return [] }
        unaccepted = nil
        return advance()
    }

    /// The reply to the request handed on as `sequence`.
    mutating func replied(_ sequence: Int, _ reply: Reply) -> [Action] {
        guard let pipelined = inFlight.removeValue(forKey: sequence) else { return [] }
        if pipelined {
            appendsInFlight -= 1
            if unaccepted == sequence { unaccepted = nil }
        } else {
            exclusiveInFlight = false
        }
        place(reply, for: sequence)
        return advance()
    }

    /// The socket's writability changed: while it is not writable,
    /// responses collect and go out together once it is.
    mutating func writabilityChanged(isWritable: Bool) -> [Action] {
        self.isWritable = isWritable
        return advance()
    }

    /// A write of `byteCount` bytes completed: the client is reading.
    mutating func written(_ byteCount: Int, now: Instant) -> [Action] {
        unwrittenBytes -= byteCount
        if phase == .open { lastActivity = now }
        return advance()
    }

    /// A timer the machine started fired.
    mutating func timerFired(_ timer: Timer, now: Instant) -> [Action] {
        guard phase == .open, runningTimers.remove(timer) != nil else { return [] }
        var actions: [Action] = []
        switch timer {
        case .idle:
            let deadline = lastActivity.advanced(by: configuration.idleTimeout)
            if now >= deadline {
                close(.idle, &actions)
            } else {
                startTimer(.idle, deadline: deadline, &actions)
            }
        case .shutdownGrace:
            close(.shutdownGraceExpired, &actions)
        }
        return actions
    }

    /// The server shuts down: no more input is read; the connection closes
    /// at once when nothing is owed, else once everything owed is written,
    /// or when the grace runs out.
    mutating func shutDown(now: Instant) -> [Action] {
        guard phase != .closed, !shuttingDown else { return [] }
        shuttingDown = true
        guard phase == .open else { return [] }
        var actions = advance()
        if phase == .open {
            startTimer(.shutdownGrace, deadline: now.advanced(by: configuration.shutdownGrace), &actions)
        }
        return actions
    }

    /// The client shut down its writing half: the requests it sent are
    /// answered, and then the connection closes.
    mutating func inputClosed() -> [Action] {
        guard phase == .open, input == .open else { return [] }
        input = .ended
        return advance()
    }

    /// The connection is closed (by either side): timers stop, and nothing
    /// more happens.
    mutating func closed() -> [Action] {
        guard phase != .closed else { return [] }
        phase = .closed
        var actions: [Action] = []
        stopTimers(&actions)
        return actions
    }

    // MARK: - Progress

    /// What every event ends with: responses ready go to the outbox, the
    /// next requests are taken, output is handed on, reading follows the
    /// back-pressure, and the connection closes when it is done.
    private mutating func advance() -> [Action] {
        guard phase == .open else { return [] }
        var actions: [Action] = []
        drainReadyResponses()
        takeRequests(&actions)
        flushIfDue(&actions)
        updateReading(&actions)
        closeIfDone(&actions)
        return actions
    }

    /// Response bytes made and not yet written.
    private var queuedBytes: Int {
        var total = outbox.count + unwrittenBytes
        for case .ready(let bytes) in owed { total += bytes.count }
        return total
    }

    /// Takes frames and hands requests on while their turn has come and
    /// the output is under capacity.
    private mutating func takeRequests(_ actions: inout [Action]) {
        while queuedBytes <= configuration.outputCapacity {
            if held != nil {
                guard let dispatch = takeTurn() else { return }
                actions.append(.dispatch(dispatch))
                continue
            }
            guard input != .abandoned, let frame = decoder.next() else { return }
            judge(frame)
        }
    }

    /// Hands on the held request when its turn has come.
    private mutating func takeTurn() -> Dispatch? {
        switch held {
        case nil:
            return nil
        case .request(let request, let attachment, let pipelined):
            if pipelined {
                guard !exclusiveInFlight, appendsInFlight < configuration.maxAppendsInFlight, unaccepted == nil
                else { return nil }
            } else {
                guard inFlight.isEmpty else { return nil }
            }
            held = nil
            let sequence = takeSequence(pipelined: pipelined)
            owed.append(.awaiting(sequence: sequence, id: request.id))
            return Dispatch(sequence: sequence, request: request, attachment: attachment, pipelined: pipelined)
        case .batch:
            guard inFlight.isEmpty, case .batch(var batch)? = owed.last, let entry = batch.remaining.popFirst()
            else { return nil }
            let sequence = takeSequence(pipelined: false)
            batch.waiting.append((sequence, entry))
            if batch.remaining.isEmpty { held = nil }
            owed[owed.count - 1] = .batch(batch)
            return Dispatch(sequence: sequence, request: entry.request, attachment: nil, pipelined: false)
        }
    }

    private mutating func takeSequence(pipelined: Bool) -> Int {
        let sequence = nextSequence
        nextSequence += 1
        inFlight[sequence] = pipelined
        if pipelined {
            appendsInFlight += 1
            unaccepted = sequence
        } else {
            exclusiveInFlight = true
        }
        return sequence
    }

    /// Puts a reply where its response goes.
    private mutating func place(_ reply: Reply, for sequence: Int) {
        for position in owed.indices {
            switch owed[position] {
            case .awaiting(sequence, let id):
                owed[position] = .ready(id.map { Self.response(reply, id: $0) } ?? ResponseBytes())
                return
            case .batch(var batch):
                guard let waiting = batch.waiting.firstIndex(where: { $0.sequence == sequence }) else { continue }
                let entry = batch.waiting.remove(at: waiting).entry
                if let index = entry.index, let id = entry.request.id {
                    batch.responses[index] = Self.responseJSON(Self.inline(reply), id: id)
                }
                owed[position] = .batch(batch)
                return
            default:
                continue
            }
        }
    }

    /// Moves the responses at the head of the queue that are complete to the outbox.
    private mutating func drainReadyResponses() {
        var drained = 0
        loop: for item in owed {
            switch item {
            case .awaiting: break loop
            case .ready(let bytes): outbox.append(contentsOf: bytes)
            case .batch(let batch):
                guard batch.isComplete else { break loop }
                let responses = batch.responses.compactMap { $0 }
                if !responses.isEmpty { outbox.append(Self.line(.array(responses))) }
            }
            drained += 1
        }
        if drained > 0 { owed.removeFirst(drained) }
    }

    /// Queues a response that is complete now, after the ones owed before it.
    private mutating func respond(_ json: JSONValue) {
        respond(Self.bytes(json))
    }

    private mutating func respond(_ bytes: ResponseBytes) {
        if owed.isEmpty {
            outbox.append(contentsOf: bytes)
        } else if case .ready(var last)? = owed.last {
            last.append(contentsOf: bytes)
            owed[owed.count - 1] = .ready(last)
        } else {
            owed.append(.ready(bytes))
        }
    }

    /// Hands the outbox to the driver: at the end of a read burst, or at
    /// once when the output is over capacity (so that it drains).
    private mutating func flushIfDue(_ actions: inout [Action]) {
        guard !outbox.isEmpty, isWritable, !inReadBurst || queuedBytes > configuration.outputCapacity else { return }
        unwrittenBytes += outbox.count
        actions.append(.write(outbox))
        actions.append(.flush)
        outbox = ResponseBytes()
    }

    /// Reads while requests can be taken: not while the output is over
    /// capacity, nor once a waiting request has enough input buffered
    /// behind it. After lost framing the input is read and dropped.
    private mutating func updateReading(_ actions: inout [Action]) {
        let wanted: Bool
        switch input {
        case .ended: return
        case .abandoned: wanted = !shuttingDown
        case .open:
            wanted =
                !shuttingDown && queuedBytes <= configuration.outputCapacity
                && (held == nil || decoder.bufferedByteCount < configuration.readAheadBytes)
        }
        guard wanted == readingPaused else { return }
        readingPaused = !wanted
        actions.append(wanted ? .resumeReading : .pauseReading)
    }

    /// Closes once nothing is owed, when the client ended its input, the
    /// framing is lost, or the server shuts down.
    private mutating func closeIfDone(_ actions: inout [Action]) {
        guard owed.isEmpty, inFlight.isEmpty, held == nil, outbox.isEmpty, unwrittenBytes == 0 else { return }
        switch input {
        case .abandoned: close(.framingLost, &actions)
        case .ended: close(.inputEnded, &actions)
        case .open: if shuttingDown { close(.shutDown, &actions) }
        }
    }

    private mutating func close(_ reason: CloseReason, _ actions: inout [Action]) {
        stopTimers(&actions)
        actions.append(.close(reason))
        phase = .closed
    }

    private mutating func startTimer(_ timer: Timer, deadline: Instant, _ actions: inout [Action]) {
        runningTimers.insert(timer)
        actions.append(.startTimer(timer, deadline: deadline))
    }

    private mutating func stopTimers(_ actions: inout [Action]) {
        for timer in [Timer.idle, .shutdownGrace] where runningTimers.contains(timer) {
            actions.append(.cancelTimer(timer))
        }
        runningTimers.removeAll()
    }

    // MARK: - Judging frames

    private mutating func judge(_ frame: FrameDecoder.Frame) {
        switch frame {
        case .lineTooLarge:
            let error = RPCError(
                .requestTooLarge, "the request line is over maxRequestBytes",
                data: JSONObject([("limit", .number(JSONNumber(configuration.maxRequestBytes)))]))
            respond(RPCResponse.failure(id: .null, error: error))
        case .attachment(let bytes):
            guard let request = expecting else { return }
            expecting = nil
            held = .request(request, attachment: bytes, pipelined: configuration.pipelines(request, bytes))
        case .line(let line):
            judge(line: line)
        }
    }

    private mutating func judge(line: [UInt8]) {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { return }
        switch RPCLine.parse(line) {
        case .single(.invalid(let id, let error)):
            respond(RPCResponse.failure(id: id, error: error))
            // A refused request still has its announced bytes dropped, so the
            // stream stays framed.
            switch announcedLength(inInvalid: (try? JSONParser.parse(line)) ?? .null) {
            case .none: break
            case .some(.some(let length)): decoder.expectAttachment(length, keep: false)
            case .some(.none): input = .abandoned
            }
        case .single(.request(let request)):
            switch attachmentLength(of: request) {
            case .none:
                held = .request(request, attachment: nil, pipelined: configuration.pipelines(request, nil))
            case .some(.success(let length)):
                decoder.expectAttachment(length, keep: true)
                expecting = request
            case .some(.failure(let error)):
                // REQUEST_TOO_LARGE answers with id null (protocol-v1, precise rules).
                let id = error.code == .requestTooLarge ? .null : request.id ?? .null
                respond(RPCResponse.failure(id: id, error: error))
                input = .abandoned
            }
        case .batch(let entries):
            judge(batch: entries, elements: ((try? JSONParser.parse(line))?.arrayValue) ?? [])
        }
    }

    /// A batch: invalid entries and entries with an attachment are answered
    /// at once, the others are carried out one after another; the responses
    /// go out as one array. The bytes the entries announced are dropped.
    private mutating func judge(batch entries: [RPCEntry], elements: [JSONValue]) {
        var batch = BatchResponses()
        var remaining: [BatchResponses.Entry] = []
        var dropped = 0
        var framingLost = false
        entries: for (index, entry) in entries.enumerated() {
            switch entry {
            case .invalid(let id, let error):
                batch.responses.append(RPCResponse.failure(id: id, error: error))
                switch announcedLength(inInvalid: index < elements.count ? elements[index] : .null) {
                case .none: break
                case .some(.some(let length)): dropped += length
                case .some(.none):
                    framingLost = true
                    break entries
                }
            case .request(let request):
                switch attachmentLength(of: request) {
                case .none:
                    // Carried out in turn; a notification gets no place in the array.
                    var index: Int? = nil
                    if request.id != nil {
                        index = batch.responses.count
                        batch.responses.append(nil)
                    }
                    remaining.append(.init(request: request, index: index))
                case .some(.success(let length)):
                    dropped += length
                    batch.responses.append(
                        RPCResponse.failure(
                            id: request.id ?? .null,
                            error: RPCError(.invalidRequest, "attachments are not allowed inside a batch")))
                case .some(.failure(let error)):
                    batch.responses.append(RPCResponse.failure(id: request.id ?? .null, error: error))
                    framingLost = true
                    break entries
                }
            }
        }
        if remaining.isEmpty {
            // Every entry is answered now.
            let responses = batch.responses.compactMap { $0 }
            if !responses.isEmpty { respond(.array(responses)) }
        } else {
            batch.remaining = remaining[...]
            owed.append(.batch(batch))
            held = .batch
        }
        if framingLost || dropped > configuration.attachmentLimit {
            input = .abandoned
        } else if dropped > 0 {
            decoder.expectAttachment(dropped, keep: false)
        }
    }

    /// `nil` when the request announces no attachment; else its length,
    /// or the error that makes the stream unframeable.
    private func attachmentLength(of request: RPCRequest) -> Result<Int, RPCError>? {
        guard let value = request.params["dataLength"] else { return nil }
        guard case .number(let number) = value, let length = number.int64, length >= 0 else {
            return .failure(
                RPCError.invalidParams(
                    "dataLength", "dataLength must be a non-negative integer; the connection is closed"))
        }
        let limit = configuration.attachmentLimit
        guard length <= limit else {
            return .failure(
                RPCError(
                    .requestTooLarge, "the attachment is over every limit; the connection is closed",
                    data: JSONObject([("limit", .number(JSONNumber(limit)))])))
        }
        return .success(Int(length))
    }

    /// The `dataLength` announced by a request refused as invalid: `nil` when
    /// it announces none, `.some(nil)` when it announces one that cannot be
    /// skipped (not a length, or over every limit).
    private func announcedLength(inInvalid value: JSONValue) -> Int?? {
        guard let announced = value["params"]?["dataLength"] else { return nil }
        guard case .number(let number) = announced, let length = number.int64, length >= 0,
            length <= configuration.attachmentLimit
        else { return .some(nil) }
        return .some(Int(length))
    }

    // MARK: - Responses

    /// A reply to the request with `id`, as the bytes that go on the wire.
    private static func response(_ reply: Reply, id: JSONValue) -> ResponseBytes {
        var bytes = ResponseBytes()
        bytes.append(line(responseJSON(reply, id: id)))
        if case .binary(_, let attachment) = reply { bytes.append(attachment) }
        return bytes
    }

    /// The response object for a reply; a binary reply's raw bytes are not in it.
    private static func responseJSON(_ reply: Reply, id: JSONValue) -> JSONValue {
        switch reply {
        case .result(let result), .binary(let result, _): RPCResponse.success(id: id, result: result)
        case .error(let error): RPCResponse.failure(id: id, error: error)
        }
    }

    /// A binary reply turned into one carrying its bytes as base64 `data`:
    /// no raw bytes follow a batch's response array.
    private static func inline(_ reply: Reply) -> Reply {
        guard case .binary(.object(var result), let bytes) = reply else { return reply }
        result["dataLength"] = nil
        result["data"] = .string(Base64.encode(bytes))
        return .result(.object(result))
    }

    private static func bytes(_ json: JSONValue) -> ResponseBytes {
        var bytes = ResponseBytes()
        bytes.append(line(json))
        return bytes
    }

    /// `json` serialized, with its newline.
    private static func line(_ json: JSONValue) -> [UInt8] {
        var bytes: [UInt8] = []
        json.serialized(into: &bytes)
        bytes.append(0x0a)
        return bytes
    }
}
