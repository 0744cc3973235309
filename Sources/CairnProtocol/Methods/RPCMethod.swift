/// One method of Cairn's protocol, defined once: its wire name, what the
/// caller needs, whether it carries raw bytes, and its typed params and
/// result.
///
/// The server dispatches through these definitions and ``CairnClient``
/// calls through them, so a method's name, its params and its result are
/// written down in one place (``Methods``). The definition holds no
/// behaviour: the server registers a handler for it, the client sends it.
///
/// ```swift
/// let meta = try await client.call(Methods.artifactsMeta, ArtifactParams(tenant: "acme", artifactId: id))
/// ```
public struct RPCMethod<Params: MethodParams, Result: MethodResult>: Sendable, CustomStringConvertible {
    /// The wire name, e.g. `artifacts.meta`.
    public let name: String
    /// What the caller needs before its params are looked at further.
    public let access: MethodAccess
    /// Whether the request may carry an attachment (`dataLength` and raw bytes).
    public let takesAttachment: Bool
    /// Whether the method only reads: it never waits for the store's
    /// writer, so the server may answer it at once on the connection's thread.
    public let readsOnly: Bool

    init(_ name: String, _ access: MethodAccess, takesAttachment: Bool = false, readsOnly: Bool) {
        self.name = name
        self.access = access
        self.takesAttachment = takesAttachment
        self.readsOnly = readsOnly
    }

    public var description: String { name }
}

/// What a method needs of its caller.
public enum MethodAccess: Sendable, Equatable {
    /// Nothing: any peer may call it (`system.hello`, `providers.list`, …).
    case open
    /// A grant of this scope on the tenant its `tenant` param names; the
    /// tenant name and the grant are checked before any other param.
    case tenant(Scope)
    /// A grant of either scope on the tenant its `tenant` param names
    /// (`tenants.manifest`: `read`, or `backup`); a refusal names the first.
    case tenantEither(Scope, Scope)
    /// A grant of this scope on every tenant (`*`), checked before the
    /// params: methods that see the whole store (`backup.*`).
    case everywhere(Scope)
    /// The caller's own upload, named by `uploadId`, and the admin grant on
    /// its tenant; checked after the params.
    case upload
}

/// What a peer may do on a tenant.
public enum Scope: String, Sendable, CaseIterable {
    /// Lists, meta, reads, stat, usage, events.
    case read
    /// Everything that writes, and `blobs.verify`.
    case admin
    /// Whole-store snapshots (`backup.*`, with the grant on `*`) and
    /// `tenants.manifest`: what a backup job needs, and no artifact read
    /// or write. Cairn's addition to the contract.
    case backup
}

/// A method's params: decoded strictly from a request on the server,
/// encoded by the client.
public protocol MethodParams: Sendable {
    /// Decodes and checks the params, failing with `INVALID_PARAMS` (or the
    /// code the check has) that names the param, in the documented order.
    init(decoding params: Params, context: ParamsContext) throws(RPCError)
    /// The params object a client sends (without any payload: an
    /// attachment travels beside it).
    var encoded: JSONObject { get }
    /// Whether the server answers these params with raw bytes after the
    /// response line (`artifacts.read` with `binary`).
    var answersWithAttachment: Bool { get }
}

extension MethodParams {
    public var answersWithAttachment: Bool { false }
}

/// A method's result: encoded by the server, decoded by the client.
public protocol MethodResult: Sendable {
    /// Reads a result the server sent, with the raw bytes that followed it.
    init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError)
    /// The result object the server sends.
    var encoded: JSONValue { get }
    /// Raw bytes sent after the response line, if any.
    var attachment: [UInt8]? { get }
}

extension MethodResult {
    public var attachment: [UInt8]? { nil }
}

/// A result that does not have the shape its method promises.
public struct MethodResultError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The method's wire name, when known, and what is wrong.
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// What decoding params needs from the server beyond the request: its
/// limits, and the rules for names kept elsewhere (the store's provider-id
/// grammar, the provider catalog).
public struct ParamsContext: Sendable {
    /// The most bytes one `artifacts.read` answers (`maxChunkBytes`).
    public var maxChunkBytes: Int
    /// The largest page of a listing.
    public var maxPageSize: Int
    /// Whether a string is a well-formed provider id.
    public var isProviderID: @Sendable (String) -> Bool
    /// Whether the catalog has the provider.
    public var knowsProvider: @Sendable (String) -> Bool

    public init(
        maxChunkBytes: Int, maxPageSize: Int, isProviderID: @escaping @Sendable (String) -> Bool,
        knowsProvider: @escaping @Sendable (String) -> Bool
    ) {
        self.maxChunkBytes = maxChunkBytes
        self.maxPageSize = maxPageSize
        self.isProviderID = isProviderID
        self.knowsProvider = knowsProvider
    }
}
