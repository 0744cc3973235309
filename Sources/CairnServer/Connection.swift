import CairnProtocol
import Logging
import NIOCore
import Synchronization

/// One client connection: reads frames, hands requests to the dispatcher in
/// order, writes responses in order.
///
/// Requests of one connection are carried out one after another, so
/// responses keep the order of requests; many connections run at once.
/// The one exception is a run of `uploads.append` requests: each is handed
/// to a task that has the store accept it (hashed and queued, after the
/// append before it) while the connection reads the next, up to
/// ``maxAppendsInFlight`` at a time, and the store's writer stores queued
/// appends together. Their responses are written when they
/// are stored, still in order, and any other request waits until they are.
/// A malformed request gets its error and the connection goes on; only a
/// broken framing (an attachment too large to skip, or one whose length
/// cannot be read) closes it.
struct Connection {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    let peer: Peer
    let dispatcher: Dispatcher
    let limits: ServerConfiguration.Limits
    let lifecycle: ConnectionRegistry.Entry
    let logger: Logger

    /// Appends accepted and not yet stored, at most, per connection.
    static let maxAppendsInFlight = 4

    /// The largest attachment that can ever be accepted; beyond it the
    /// stream cannot be kept framed at a bounded cost.
    var attachmentLimit: Int { max(limits.maxRequestBytes, limits.maxChunkBytes) }

    func run() async {
        do {
            try await channel.executeThenClose { inbound, outbound in
                let replies = ReplyQueue()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await replies.write(to: outbound, connection: self) }
                    do {
                        try await serve(inbound, replies: replies)
                        replies.finish()
                    } catch {
                        replies.finish()
                        throw error
                    }
                    try await group.waitForAll()
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)", "pid": "\(peer.pid)"])
        }
    }

    /// Reads requests and queues their responses until the input ends, the
    /// framing breaks or the server shuts down.
    private func serve(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, replies: ReplyQueue) async throws {
        var decoder = FrameDecoder(maxLineBytes: limits.maxRequestBytes)
        var awaiting: RPCRequest? = nil
        var output = ByteBuffer()
        let appends = AppendsInFlight()
        for try await buffer in inbound {
            buffer.withUnsafeReadableBytes { decoder.feed($0) }
            lifecycle.setBusy(true)
            while let frame = decoder.next() {
                switch frame {
                case .lineTooLarge:
                    let error = RPCError(
                        .requestTooLarge, "the request line is over maxRequestBytes",
                        data: JSONObject([("limit", .number(JSONNumber(limits.maxRequestBytes)))]))
                    append(RPCResponse.failure(id: .null, error: error), to: &output)
                case .attachment(let bytes):
                    guard let request = awaiting else { continue }
                    awaiting = nil
                    guard request.method == "uploads.append" else {
                        await appends.settle()
                        let reply = await dispatcher.handle(request, peer: peer, attachment: bytes)
                        if let id = request.id { append(reply, id: id, to: &output) }
                        break
                    }
                    // Accepted (hashed) on a task of its own, after the
                    // appends before it, while this one reads the next.
                    await appends.waitForRoom(limit: Self.maxAppendsInFlight)
                    let dispatcher = self.dispatcher
                    let peer = self.peer
                    let previous = appends.last
                    let append = Task {
                        _ = await previous?.value
                        return await dispatcher.dispatch(request, peer: peer, attachment: bytes)
                    }
                    appends.add(append)
                    // Its response goes after everything before it.
                    try await replies.push(.bytes(output))
                    output.clear()
                    if let id = request.id { try await replies.push(.append(id, append)) }
                case .line(let line):
                    switch await process(line, decoder: &decoder, output: &output, appends: appends) {
                    case .proceed: break
                    case .await(let request): awaiting = request
                    case .close:
                        try await replies.push(.bytes(output))
                        return
                    }
                }
                if output.readableBytes >= 64 << 10 {
                    try await replies.push(.bytes(output))
                    output.clear()
                }
            }
            if output.readableBytes > 0 {
                try await replies.push(.bytes(output))
                output.clear()
            }
            // Busy while responses are owed, so a shutdown waits for them.
            lifecycle.setBusy(!appends.isEmpty)
            if lifecycle.isShuttingDown { return }
        }
    }

    private enum Step {
        case proceed
        /// The request's attachment follows; dispatch when it is complete.
        case await(RPCRequest)
        case close
    }

    private func process(
        _ line: [UInt8], decoder: inout FrameDecoder, output: inout ByteBuffer, appends: AppendsInFlight
    ) async -> Step {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { return .proceed }
        switch RPCLine.parse(line) {
        case .single(.invalid(let id, let error)):
            append(RPCResponse.failure(id: id, error: error), to: &output)
            // A refused request still has its announced bytes dropped, so the
            // stream stays framed.
            switch announcedLength(inInvalid: (try? JSONParser.parse(line)) ?? .null) {
            case .none: return .proceed
            case .some(.some(let length)):
                decoder.expectAttachment(length, keep: false)
                return .proceed
            case .some(.none): return .close  // announced bytes that cannot be skipped
            }
        case .single(.request(let request)):
            switch attachmentLength(of: request) {
            case .none:
                await appends.settle()
                let reply = await dispatcher.handle(request, peer: peer, attachment: nil)
                if let id = request.id { append(reply, id: id, to: &output) }
                return .proceed
            case .some(.success(let length)):
                decoder.expectAttachment(length, keep: true)
                return .await(request)
            case .some(.failure(let error)):
                // REQUEST_TOO_LARGE answers with id null (protocol-v1, precise rules).
                let id = error.code == .requestTooLarge ? .null : request.id ?? .null
                append(RPCResponse.failure(id: id, error: error), to: &output)
                return .close
            }
        case .batch(let entries):
            var responses: [JSONValue] = []
            var dropped = 0
            let elements = ((try? JSONParser.parse(line))?.arrayValue) ?? []
            for (index, entry) in entries.enumerated() {
                switch entry {
                case .invalid(let id, let error):
                    responses.append(RPCResponse.failure(id: id, error: error))
                    switch announcedLength(inInvalid: index < elements.count ? elements[index] : .null) {
                    case .none: break
                    case .some(.some(let length)): dropped += length
                    case .some(.none):
                        append(.array(responses), to: &output)
                        return .close
                    }
                case .request(let request):
                    switch attachmentLength(of: request) {
                    case .none:
                        await appends.settle()
                        let reply = await dispatcher.handle(request, peer: peer, attachment: nil)
                        // No raw bytes inside a batch: a binary read answers base64 `data`.
                        if let id = request.id { responses.append(response(inline(reply), id: id).json) }
                    case .some(.success(let length)):
                        dropped += length
                        responses.append(
                            RPCResponse.failure(
                                id: request.id ?? .null,
                                error: RPCError(.invalidRequest, "attachments are not allowed inside a batch")))
                    case .some(.failure(let error)):
                        append(
                            .array(responses + [RPCResponse.failure(id: request.id ?? .null, error: error)]),
                            to: &output)
                        return .close
                    }
                }
            }
            if !responses.isEmpty { append(.array(responses), to: &output) }
            if dropped > 0 {
                guard dropped <= attachmentLimit else { return .close }
                decoder.expectAttachment(dropped, keep: false)
            }
            return .proceed
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
        guard length <= attachmentLimit else {
            return .failure(
                RPCError(
                    .requestTooLarge, "the attachment is over every limit; the connection is closed",
                    data: JSONObject([("limit", .number(JSONNumber(attachmentLimit)))])))
        }
        return .success(Int(length))
    }

    /// The `dataLength` announced by a request refused as invalid: `nil` when
    /// it announces none, `.some(nil)` when it announces one that cannot be
    /// skipped (not a length, or over every limit).
    private func announcedLength(inInvalid value: JSONValue) -> Int?? {
        guard let announced = value["params"]?["dataLength"] else { return nil }
        guard case .number(let number) = announced, let length = number.int64, length >= 0, length <= attachmentLimit
        else { return .some(nil) }
        return .some(Int(length))
    }

    /// A binary reply turned into one carrying its bytes as base64 `data`.
    private func inline(_ reply: Reply) -> Reply {
        guard case .binary(.object(var result), let bytes) = reply else { return reply }
        result["dataLength"] = nil
        result["data"] = .string(Base64.encode(bytes))
        return .result(.object(result))
    }

    private struct Response {
        var json: JSONValue
        var attachment: [UInt8]?
    }

    private func response(_ reply: Reply, id: JSONValue) -> Response {
        switch reply {
        case .result(let result): Response(json: RPCResponse.success(id: id, result: result))
        case .binary(let result, let bytes):
            Response(json: RPCResponse.success(id: id, result: result), attachment: bytes)
        case .error(let error): Response(json: RPCResponse.failure(id: id, error: error))
        }
    }

    fileprivate func append(_ reply: Reply, id: JSONValue, to output: inout ByteBuffer) {
        let response = response(reply, id: id)
        append(response.json, to: &output)
        if let bytes = response.attachment { output.writeBytes(bytes) }
    }

    private func append(_ json: JSONValue, to output: inout ByteBuffer) {
        var bytes: [UInt8] = []
        json.serialized(into: &bytes)
        bytes.append(0x0a)
        output.writeBytes(bytes)
    }
}

/// The appends a connection has handed on and not yet seen stored: each is
/// a task that has the store accept it (after the one before it) and gives
/// what the dispatcher made of it.
///
/// Used by the connection's reading task only.
private final class AppendsInFlight {
    typealias Append = Task<Dispatcher.Dispatched, Never>
    private var appends: [Append] = []

    var isEmpty: Bool { appends.isEmpty }
    /// The latest, which the next one must follow.
    var last: Append? { appends.last }

    func add(_ append: Append) { appends.append(append) }

    /// Waits until fewer than `limit` are in flight.
    func waitForRoom(limit: Int) async {
        while appends.count >= limit { await Self.settle(appends.removeFirst()) }
    }

    /// Waits until every one is stored or has failed.
    func settle() async {
        while !appends.isEmpty { await Self.settle(appends.removeFirst()) }
    }

    private static func settle(_ append: Append) async {
        if case .appending(let accepted) = await append.value { await accepted.settled() }
    }
}

/// The connection's responses in request order, written by a task of their
/// own: serialized bytes, and accepted appends whose response is written
/// once they are stored.
///
/// Pushing waits while more than ``capacity`` bytes are queued, so a client
/// that does not read its responses stops the connection reading requests.
private final class ReplyQueue: Sendable {
    enum Entry: Sendable {
        case bytes(ByteBuffer)
        /// The response to an append: written once it is stored or refused.
        case append(JSONValue, Task<Dispatcher.Dispatched, Never>)
    }

    /// Bytes queued before a push waits.
    static let capacity = 1 << 20

    private struct State {
        var entries: [Entry] = []
        var queuedBytes = 0
        var finished = false
        var failed = false
        var writer: CheckedContinuation<Void, Never>?
        var pushers: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    struct WriterGone: Error {}

    /// Queues `entry`; waits first while the queue is over capacity.
    func push(_ entry: Entry) async throws {
        if case .bytes(let bytes) = entry, bytes.readableBytes == 0 { return }
        while true {
            let over = state.withLock { $0.queuedBytes > Self.capacity && !$0.failed }
            guard over else { break }
            await withCheckedContinuation { continuation in
                let resume = state.withLock { state -> Bool in
                    guard state.queuedBytes > Self.capacity && !state.failed else { return true }
                    state.pushers.append(continuation)
                    return false
                }
                if resume { continuation.resume() }
            }
        }
        let writer = try state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.failed else { throw WriterGone() }
            state.entries.append(entry)
            if case .bytes(let bytes) = entry { state.queuedBytes += bytes.readableBytes }
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume()
    }

    /// No more entries: the writer ends once it has written the queued ones.
    func finish() {
        let writer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume()
    }

    /// Writes the entries as they come, until ``finish()``.
    func write(to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, connection: Connection) async throws {
        do {
            while let entries = await next() {
                var output = ByteBuffer()
                for entry in entries {
                    switch entry {
                    case .bytes(let bytes):
                        output.writeImmutableBuffer(bytes)
                    case .append(let id, let append):
                        if output.readableBytes > 0 {
                            try await outbound.write(output)
                            output.clear()
                        }
                        let reply: Reply
                        switch await append.value {
                        case .now(let refused): reply = refused
                        case .appending(let accepted): reply = await connection.dispatcher.reply(to: accepted)
                        }
                        connection.append(reply, id: id, to: &output)
                    }
                }
                if output.readableBytes > 0 { try await outbound.write(output) }
                release(entries)
            }
        } catch {
            fail()
            throw error
        }
    }

    /// The queued entries, waiting for some; nil when finished and empty.
    private func next() async -> [Entry]? {
        while true {
            enum Taken {
                case entries([Entry])
                case done
                case wait
            }
            let taken = state.withLock { state -> Taken in
                if !state.entries.isEmpty {
                    defer { state.entries.removeAll() }
                    return .entries(state.entries)
                }
                return state.finished ? .done : .wait
            }
            switch taken {
            case .entries(let entries): return entries
            case .done: return nil
            case .wait:
                await withCheckedContinuation { continuation in
                    let resume = state.withLock { state -> Bool in
                        guard state.entries.isEmpty && !state.finished else { return true }
                        state.writer = continuation
                        return false
                    }
                    if resume { continuation.resume() }
                }
            }
        }
    }

    /// Counts written bytes off the queue and lets waiting pushes go on.
    private func release(_ entries: [Entry]) {
        let written = entries.reduce(0) { total, entry in
            if case .bytes(let bytes) = entry { return total + bytes.readableBytes }
            return total
        }
        let pushers = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.queuedBytes -= written
            guard state.queuedBytes <= Self.capacity else { return [] }
            defer { state.pushers.removeAll() }
            return state.pushers
        }
        for pusher in pushers { pusher.resume() }
    }

    /// The writer failed: pushes from now on throw, waiting ones go on.
    private func fail() {
        let pushers = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.failed = true
            defer { state.pushers.removeAll() }
            return state.pushers
        }
        for pusher in pushers { pusher.resume() }
    }
}
