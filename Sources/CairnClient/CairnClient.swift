import CairnProtocol
import Foundation
import NIOCore
import NIOPosix

/// An async client of a Cairn server over its Unix socket.
///
/// One client is one connection, lent to the body of
/// ``withConnection(socketPath:_:)`` and closed when it ends. Use it from
/// one task: calls are carried out in the order they are made (the server
/// answers a connection's requests in order). Use several connections for
/// parallelism, or ``pipeline(_:)`` to send many requests before reading
/// their responses. Bulk bytes travel as raw attachments, never base64.
///
/// ```swift
/// let meta = try await CairnClient.withConnection(socketPath: "/run/cairn/cairn.sock") { client in
///     try await client.upload(tenant: "acme", providerId: "p", mimeType: "text/plain", bytes: Array("hi".utf8))
/// }
/// ```
public final class CairnClient {
    private let transport: any ClientTransport
    private var decoder = FrameDecoder(maxLineBytes: 256 << 20)
    private var nextID: Int64 = 1
    private var closed = false
    /// Requests sent and not yet answered: their ids, and whether raw bytes follow the response.
    private var pending: [(id: Int64, expectAttachment: Bool)] = []
    /// Request lines not yet handed to ``outgoing``.
    private var lines = ByteBuffer()
    /// What the next flush writes, in order: request lines and the attachments after them.
    private var outgoing: [OutgoingBytes] = []
    /// Bytes waiting in ``lines`` and ``outgoing``.
    private var outgoingByteCount = 0
    /// The server's `system.hello`, asked once per connection for its limits and capabilities.
    var cachedHello: JSONValue?

    private init(transport: any ClientTransport) {
        self.transport = transport
    }

    /// Connects to the server's socket, runs `body` with the client, and
    /// closes the connection when `body` returns or throws.
    ///
    /// - Parameter io: how the connection does its I/O: through SwiftNIO's
    ///   event loops (the default), or with blocking system calls on the
    ///   calling thread, for a process with one task (``ConnectionIO``).
    /// - Throws: ``CairnClientError/cannotConnect(_:_:)`` when nothing listens there.
    public static func withConnection<Result>(
        socketPath: String,
        io: ConnectionIO = .eventLoop,
        _ body: (CairnClient) async throws -> Result
    ) async throws -> Result {
        if io == .blockingSocket {
            let socket = try SocketTransport(connectingTo: socketPath)
            defer { socket.close() }
            return try await body(CairnClient(transport: socket))
        }
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(
                    ChannelOptions.recvAllocator,
                    value: AdaptiveRecvByteBufferAllocator(
                        minimum: 64, initial: 2048, maximum: SocketTuning.clientMaxReadBytes)
                )
                .channelOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketTuning.sendBufferBytes)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw CairnClientError.cannotConnect(socketPath, "\(error)")
        }
        return try await channel.executeThenClose { inbound, outbound in
            return try await body(CairnClient(transport: ChannelTransport(inbound: inbound, outbound: outbound)))
        }
    }

    /// The socket the CLI and other clients use: `--socket`, else
    /// `$CAIRN_SOCKET`, else `<data-dir>/cairn.sock` of the default data dir.
    public static func defaultSocketPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String
    {
        if let socket = environment["CAIRN_SOCKET"], !socket.isEmpty { return socket }
        let dataDir: String
        if let dir = environment["CAIRN_DATA_DIR"], !dir.isEmpty {
            dataDir = dir
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            dataDir = (home as NSString).appendingPathComponent(".local/share/cairn")
        }
        return (dataDir as NSString).appendingPathComponent("cairn.sock")
    }

    /// A reply: the result, and the raw bytes that followed it, if any.
    public struct Reply: Sendable {
        public var result: JSONValue
        public var attachment: [UInt8]?
    }

    /// Calls `method` and waits for its result.
    ///
    /// - Parameters:
    ///   - attachment: raw bytes sent after the request line (`dataLength` is added).
    ///   - expectAttachment: read `dataLength` raw bytes after the response line.
    /// - Throws: ``CairnClientError/server(_:)`` with the contract's error.
    public func call(
        _ method: String, _ params: JSONObject = JSONObject(), attachment: [UInt8]? = nil,
        expectAttachment: Bool = false
    ) async throws -> Reply {
        let replies = try await pipeline([
            Request(method, params, attachment: attachment, expectAttachment: expectAttachment)
        ])
        return try replies[0].get()
    }

    /// One request of a ``pipeline(_:)``.
    public struct Request: Sendable {
        public var method: String
        public var params: JSONObject
        public var attachment: [UInt8]?
        public var expectAttachment: Bool

        public init(
            _ method: String, _ params: JSONObject = JSONObject(), attachment: [UInt8]? = nil,
            expectAttachment: Bool = false
        ) {
            self.method = method
            self.params = params
            self.attachment = attachment
            self.expectAttachment = expectAttachment
        }
    }

    /// Sends every request, then reads every response, in order.
    public func pipeline(_ requests: [Request]) async throws -> [Result<Reply, CairnClientError>] {
        var replies: [Result<Reply, CairnClientError>] = []
        replies.reserveCapacity(requests.count)
        for request in requests {
            try await send(request, flush: false)
            // Read while writing: with unbounded requests in flight the server
            // stops reading once its answers back up, and both sides wait forever.
            if pending.count > 128 {
                try await flush()
                replies.append(try await receive())
            }
        }
        try await flush()
        while replies.count < requests.count { replies.append(try await receive()) }
        return replies
    }

    /// Sends one request without waiting for its response; take the
    /// responses with ``receive()``, in the order the requests were sent.
    ///
    /// Keeping a few requests in flight lets the client prepare the next
    /// one while the server works on the previous one.
    public func send(_ request: Request) async throws {
        try await send(request, flush: true)
    }

    /// Sends several requests without waiting for their responses, in as
    /// few writes as their size allows; take the responses with
    /// ``receive()``, in order.
    ///
    /// Keep the requests in flight bounded (a window): a server whose
    /// answers are not read stops reading requests.
    public func send(_ requests: [Request]) async throws {
        for request in requests { try await send(request, flush: false) }
        try await flush()
    }

    /// The response to the oldest request sent and not yet received.
    public func receive() async throws -> Result<Reply, CairnClientError> {
        guard !pending.isEmpty else { throw CairnClientError.protocolViolation("no request is waiting for a response") }
        let (id, expectAttachment) = pending.removeFirst()
        let line = try await nextFrame()
        guard case .line(let bytes) = line else { throw CairnClientError.protocolViolation("expected a response line") }
        let response: JSONValue
        do { response = try JSONParser.parse(bytes) } catch {
            throw CairnClientError.protocolViolation("unparsable response: \(error.reason)")
        }
        guard response["id"] == .number(JSONNumber(id)) else {
            throw CairnClientError.protocolViolation("a response out of order")
        }
        if let error = response["error"] {
            return .failure(.server(RPCError(json: error) ?? RPCError(.internalError, "malformed error")))
        }
        guard let result = response["result"] else {
            throw CairnClientError.protocolViolation("a response without result")
        }
        var attachment: [UInt8]? = nil
        if expectAttachment, case .number(let n)? = result["dataLength"], let length = n.int64, length >= 0 {
            decoder.expectAttachment(Int(length), keep: true)
            guard case .attachment(let bytes) = try await nextFrame() else {
                throw CairnClientError.protocolViolation("expected an attachment")
            }
            attachment = bytes
        }
        return .success(Reply(result: result, attachment: attachment))
    }

    /// How many sent requests still wait for their response.
    public var requestsInFlight: Int { pending.count }

    private func send(_ request: Request, flush: Bool) async throws {
        guard !closed else { throw CairnClientError.connectionClosed }
        let id = nextID
        nextID += 1
        var params = request.params
        if let attachment = request.attachment { params["dataLength"] = .number(JSONNumber(attachment.count)) }
        var line: [UInt8] = []
        RPCRequest(id: .number(JSONNumber(id)), method: request.method, params: params).json.serialized(into: &line)
        line.append(0x0a)
        lines.writeBytes(line)
        outgoingByteCount += line.count
        if let attachment = request.attachment, !attachment.isEmpty {
            // The attachment is written from the caller's array, not copied in here first.
            outgoing.append(.lines(lines))
            lines = ByteBuffer()
            outgoing.append(.attachment(attachment))
            outgoingByteCount += attachment.count
        }
        pending.append((id, request.expectAttachment))
        if flush || outgoingByteCount >= 1 << 20 { try await self.flush() }
    }

    private func flush() async throws {
        if lines.readableBytes > 0 {
            outgoing.append(.lines(lines))
            lines = ByteBuffer()
        }
        guard !outgoing.isEmpty else { return }
        let pieces = outgoing
        outgoing = []
        outgoingByteCount = 0
        try await transport.write(pieces)
    }

    private func nextFrame() async throws -> FrameDecoder.Frame {
        while true {
            if let frame = decoder.next() {
                if case .lineTooLarge = frame { throw CairnClientError.protocolViolation("a response line too large") }
                return frame
            }
            guard try await transport.read({ decoder.feed($0) }) else {
                closed = true
                throw CairnClientError.connectionClosed
            }
        }
    }
}

/// Why a client call failed.
public enum CairnClientError: Error, Sendable, CustomStringConvertible {
    /// Nothing accepts connections at the socket path.
    case cannotConnect(String, String)
    /// The server closed the connection.
    case connectionClosed
    /// The server answered with a contract error.
    case server(RPCError)
    /// The server's bytes did not follow the protocol.
    case protocolViolation(String)
    /// Bytes received do not have the digest the server announced.
    case digestMismatch(expected: String, actual: String)

    public var description: String {
        switch self {
        case .cannotConnect(let path, let reason): "cannot connect to \(path): \(reason)"
        case .connectionClosed: "the server closed the connection"
        case .server(let error): "\(error.code.name): \(error.message)"
        case .protocolViolation(let what): "protocol violation: \(what)"
        case .digestMismatch(let expected, let actual): "DIGEST_MISMATCH: expected sha256 \(expected), got \(actual)"
        }
    }
}

@available(*, unavailable)
extension CairnClient: Sendable {}
