import CairnClient
import CairnProtocol
import HTTPTypes
import Hummingbird
import NIOCore

/// The console's routes: the page and its assets, and the JSON API
/// (docs/web.md lists them). Each API route reads its query and body,
/// calls ``ConsoleAPI`` and answers JSON; ``ConsoleMiddleware`` has already
/// checked the request.
enum ConsoleRoutes {
    /// A JSON answer that no cache keeps.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var bytes = value.serialized()
        bytes.append(0x0a)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// An embedded asset.
    static func asset(_ name: String, status: HTTPResponse.Status = .ok) -> Response {
        guard let asset = EmbeddedAssets.named(name) else {
            return json(ConsoleError(status: 404, code: "WEB_NOT_FOUND", "no asset \(name)").json, status: .notFound)
        }
        return Response(
            status: status, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(string: asset.text)))
    }

    /// A required query parameter.
    static func query(_ request: Request, _ name: String) throws(ConsoleError) -> String {
        guard let value = request.uri.queryParameters.get(name), !value.isEmpty else {
            throw ConsoleError(
                status: 400, code: "INVALID_PARAMS", "\(name) is missing", data: JSONObject([("field", .string(name))]))
        }
        return value
    }

    /// The request's JSON body (an empty body is `{}`).
    static func body(_ request: Request) async throws -> JSONValue {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        guard buffer.readableBytes > 0 else { return .object(JSONObject()) }
        do {
            return try JSONParser.parse(Array(buffer.readableBytesView))
        } catch {
            throw ConsoleError(status: 400, code: "PARSE_ERROR", "the body is not JSON: \(error.reason)")
        }
    }

    /// A path parameter.
    static func parameter(_ context: ConsoleRequestContext, _ name: String) throws -> String {
        try context.parameters.require(name)
    }
}

/// Thrown by a response body to close the connection mid-answer.
struct DroppedConnection: Error {}

extension WebConsole {
    /// Adds the page and the API to `router`.
    func addRoutes(to router: Router<ConsoleRequestContext>) {
        let api = self.api
        router.get("/") { _, _ in ConsoleRoutes.asset("index.html") }
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        router.get("/assets/:name") { _, context in ConsoleRoutes.asset(try ConsoleRoutes.parameter(context, "name")) }

        let routes = router.group("api")
        routes.get("session") { _, context in
            ConsoleRoutes.json(try await api.session(csrfToken: context.session?.csrfToken ?? ""))
        }
        routes.get("tenants") { _, _ in ConsoleRoutes.json(try await api.tenants()) }
        routes.get("providers") { request, _ in
            ConsoleRoutes.json(try await api.providers(tenant: request.uri.queryParameters.get("tenant")))
        }
        routes.get("provider") { request, _ in
            ConsoleRoutes.json(
                try await api.provider(
                    try ConsoleRoutes.query(request, "id"), tenant: try ConsoleRoutes.query(request, "tenant")))
        }
        routes.post("provider/config") { request, _ in
            ConsoleRoutes.json(
                try await api.configure(
                    try ConsoleRoutes.query(request, "id"), tenant: try ConsoleRoutes.query(request, "tenant"),
                    body: try await ConsoleRoutes.body(request)))
        }
        routes.get("artifacts") { request, _ in
            ConsoleRoutes.json(
                try await api.artifacts(
                    tenant: try ConsoleRoutes.query(request, "tenant"),
                    providerId: request.uri.queryParameters.get("provider")))
        }
        routes.delete("artifacts/:id") { request, context in
            ConsoleRoutes.json(
                try await api.delete(
                    tenant: try ConsoleRoutes.query(request, "tenant"),
                    artifactId: try ConsoleRoutes.parameter(context, "id")))
        }
        routes.get("artifacts/:id/download") { request, context in
            try await self.download(request, context: context)
        }
        routes.post("uploads") { request, _ in
            ConsoleRoutes.json(
                try await api.beginUpload(
                    tenant: try ConsoleRoutes.query(request, "tenant"), body: try await ConsoleRoutes.body(request)))
        }
        routes.get("uploads/:id") { _, context in
            ConsoleRoutes.json(try await api.uploadStatus(try ConsoleRoutes.parameter(context, "id")))
        }
        routes.put("uploads/:id") { request, context in
            try await self.appendPiece(request, context: context)
        }
        routes.post("uploads/:id/commit") { request, context in
            ConsoleRoutes.json(
                try await api.commit(
                    try ConsoleRoutes.parameter(context, "id"), body: try await ConsoleRoutes.body(request)))
        }
        routes.delete("uploads/:id") { _, context in
            ConsoleRoutes.json(try await api.abort(try ConsoleRoutes.parameter(context, "id")))
        }
        routes.get("usage") { request, _ in
            ConsoleRoutes.json(try await api.usage(tenant: try ConsoleRoutes.query(request, "tenant")))
        }
        routes.get("events") { request, _ in
            ConsoleRoutes.json(
                try await api.events(
                    tenant: try ConsoleRoutes.query(request, "tenant"),
                    cursor: request.uri.queryParameters.get("cursor")))
        }
        routes.post("verify") { request, _ in
            let body = try await ConsoleRoutes.body(request)
            return ConsoleRoutes.json(
                try await api.verify(
                    tenant: try ConsoleRoutes.query(request, "tenant"), cursor: body["cursor"]?.stringValue))
        }
    }

    /// `PUT /api/uploads/:id?offset=N` with the piece as the body.
    private func appendPiece(_ request: Request, context: ConsoleRequestContext) async throws -> Response {
        let id = try ConsoleRoutes.parameter(context, "id")
        guard let offset = UInt64(try ConsoleRoutes.query(request, "offset")) else {
            throw ConsoleError(
                status: 400, code: "INVALID_PARAMS", "offset must be an integer",
                data: JSONObject([("field", .string("offset"))]))
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: ConsoleAPI.maxPostedChunk)
        } catch {
            throw ConsoleError(
                status: 413, code: "TOO_LARGE", "a piece is at most \(ConsoleAPI.maxPostedChunk) bytes",
                data: JSONObject([("limit", .number(JSONNumber(ConsoleAPI.maxPostedChunk)))]))
        }
        let answer = try await api.append(id, offset: offset, bytes: Array(buffer.readableBytesView))
        if shouldDropAfterPiece() {
            // The piece is stored; the page never hears so, as after a network failure.
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(contentLength: 64) { _ in throw DroppedConnection() })
        }
        return ConsoleRoutes.json(answer)
    }

    /// `GET /api/artifacts/:id/download?tenant=T`: the content, verified
    /// (``ConsoleAPI/download(_:write:)``): a download whose bytes fail the
    /// check is cut short, and the browser keeps nothing.
    private func download(_ request: Request, context: ConsoleRequestContext) async throws -> Response {
        let meta = try await api.meta(
            tenant: try ConsoleRoutes.query(request, "tenant"), artifactId: try ConsoleRoutes.parameter(context, "id"))
        let api = self.api
        let name = "\(meta.artifactId).bin"
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/octet-stream",
                .contentDisposition: "attachment; filename=\"\(name)\"",
                HTTPField.Name("X-Cairn-Sha256")!: meta.sha256, .cacheControl: "no-store",
            ],
            body: ResponseBody(contentLength: Int(meta.sizeBytes)) { writer in
                try await api.download(meta) { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
                try await writer.finish(nil)
            })
    }
}
