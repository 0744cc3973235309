import CairnProtocol
import CairnStore

/// A request being carried out: who asks, with what, and (for a tenant
/// method) the tenant whose grant was checked.
struct Call: Sendable {
    let peer: Peer
    let actor: Actor
    /// The request's params as sent, for what a method reads beside its
    /// typed params (the payload of an upload).
    let params: Params
    let attachment: [UInt8]?
    /// The tenant named by `tenant`, valid and granted; `nil` for methods without one.
    let tenant: TenantID?

    /// The tenant of a tenant method (checked before the handler runs).
    var grantedTenant: TenantID {
        guard let tenant else { preconditionFailure("a tenant method's call without its tenant") }
        return tenant
    }
}

/// The server's handler for every method of ``Methods``: each definition
/// gets one, registered with the typed params it decodes and the typed
/// result it encodes.
///
/// A handler runs either *now*, synchronously on the caller's thread (quick
/// reads: the connection answers them without a hop), or *later*, as async
/// work (anything that waits for the store's writer, and reads that may
/// take long, such as a scrub). A later handler registered as one that
/// *writes* does little itself besides waiting for the writer: the
/// connection may run it on its own event loop (see
/// ``Dispatcher/runsOnConnection(_:attachment:)``).
struct MethodHandlers: Sendable {
    /// How a method is carried out, type-erased.
    enum Run: Sendable {
        case now(@Sendable (Dispatcher, Call) throws -> Reply)
        case later(@Sendable (Dispatcher, Call) async throws -> Reply)
    }

    /// One registered method.
    struct Entry: Sendable {
        let access: MethodAccess
        let takesAttachment: Bool
        let run: Run
        /// Whether the handler's own work is small (decoding, checking,
        /// hashing its content) and the rest is waiting for the writer.
        let waitsForWriter: Bool
    }

    private(set) var entries: [String: Entry] = [:]

    /// Registers a handler that answers at once: a method of the dispatcher.
    /// Only a method that only reads may: one that writes waits for the
    /// store's writer and must never run on a connection's thread.
    mutating func on<P, R>(
        _ method: RPCMethod<P, R>, now handler: @escaping @Sendable (Dispatcher) -> (P, Call) throws -> R
    ) {
        precondition(method.readsOnly, "\(method.name) writes: it cannot answer now")
        add(
            method,
            .now({ dispatcher, call in
                Self.reply(try handler(dispatcher)(try P(decoding: call.params, context: dispatcher.context), call))
            }))
    }

    /// Registers a handler that may wait: a method of the dispatcher.
    mutating func on<P, R>(
        _ method: RPCMethod<P, R>, later handler: @escaping @Sendable (Dispatcher) -> (P, Call) async throws -> R
    ) {
        add(method, Self.later(handler), waitsForWriter: false)
    }

    /// Registers a handler that writes: one that does little itself and
    /// waits for the store's writer.
    mutating func on<P, R>(
        _ method: RPCMethod<P, R>, writes handler: @escaping @Sendable (Dispatcher) -> (P, Call) async throws -> R
    ) {
        precondition(!method.readsOnly, "\(method.name) only reads")
        add(method, Self.later(handler), waitsForWriter: true)
    }

    subscript(name: String) -> Entry? { entries[name] }

    private static func later<P: MethodParams, R: MethodResult>(
        _ handler: @escaping @Sendable (Dispatcher) -> (P, Call) async throws -> R
    ) -> Run {
        .later({ dispatcher, call in
            Self.reply(try await handler(dispatcher)(try P(decoding: call.params, context: dispatcher.context), call))
        })
    }

    private mutating func add<P, R>(_ method: RPCMethod<P, R>, _ run: Run, waitsForWriter: Bool = false) {
        precondition(entries[method.name] == nil, "\(method.name) has two handlers")
        entries[method.name] = Entry(
            access: method.access, takesAttachment: method.takesAttachment, run: run, waitsForWriter: waitsForWriter)
    }

    private static func reply(_ result: some MethodResult) -> Reply {
        if let bytes = result.attachment { return .binary(result.encoded, bytes) }
        return .result(result.encoded)
    }
}
