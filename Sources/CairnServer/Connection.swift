import CairnProtocol
import Logging
import NIOCore

/// One client connection: reads frames, hands requests to the dispatcher in
/// order, writes responses in order.
///
/// Requests of one connection are carried out one after another, so
/// responses keep the order of requests; many connections run at once.
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

    /// The largest attachment that can ever be accepted; beyond it the
    /// stream cannot be kept framed at a bounded cost.
    var attachmentLimit: Int { max(limits.maxRequestBytes, limits.maxChunkBytes) }

    func run() async {
        do {
            try await channel.executeThenClose { inbound, outbound in
                var decoder = FrameDecoder(maxLineBytes: limits.maxRequestBytes)
                var awaiting: RPCRequest? = nil
                var output = ByteBuffer()
                for try await buffer in inbound {
                    buffer.withUnsafeReadableBytes { decoder.feed($0) }
                    lifecycle.setBusy(true)
                    defer { lifecycle.setBusy(false) }
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
                            let reply = await dispatcher.handle(request, peer: peer, attachment: bytes)
                            if let id = request.id { append(reply, id: id, to: &output) }
                        case .line(let line):
                            switch await process(line, decoder: &decoder, output: &output) {
                            case .proceed: break
                            case .await(let request): awaiting = request
                            case .close:
                                try await outbound.write(output)
                                return
                            }
                        }
                        if output.readableBytes >= 64 << 10 {
                            try await outbound.write(output)
                            output.clear()
                        }
                    }
                    if output.readableBytes > 0 {
                        try await outbound.write(output)
                        output.clear()
                    }
                    if lifecycle.isShuttingDown { return }
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)", "pid": "\(peer.pid)"])
        }
    }

    private enum Step {
        case proceed
        /// The request's attachment follows; dispatch when it is complete.
        case await(RPCRequest)
        case close
    }

    private func process(_ line: [UInt8], decoder: inout FrameDecoder, output: inout ByteBuffer) async -> Step {
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

    private func append(_ reply: Reply, id: JSONValue, to output: inout ByteBuffer) {
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
