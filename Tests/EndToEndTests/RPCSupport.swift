import CairnClient
import CairnDigest
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Payloads for the end-to-end tests.
enum Payload {
    /// `count` random bytes (from the kernel's generator, in one call: a
    /// byte or word at a time costs seconds per test in a debug build).
    static func random(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { arc4random_buf(base, raw.count) }
        }
        return bytes
    }

    /// The lowercase hex SHA-256 of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256Hasher.digest(bytes).hex
    }

    /// A digest no test ever stores.
    static func unknownDigest() -> String {
        sha256(random(32))
    }
}

extension JSONValue {
    /// An integer number.
    static func int(_ value: Int) -> JSONValue { .number(JSONNumber(value)) }

    /// The integer when this is an integer number within `Int`.
    var intValue: Int? {
        guard case .number(let number) = self, let value = number.int64 else { return nil }
        return Int(value)
    }

    /// The element at `index` when this is an array that long.
    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }

    /// A copy of this object without `keys`.
    func removing(_ keys: Set<String>) -> JSONValue {
        guard var object = objectValue else { return self }
        for key in keys { object[key] = nil }
        return .object(object)
    }
}

/// A JSON-RPC request object.
func rpc(_ id: JSONValue?, _ method: String, _ params: JSONValue = [:]) -> JSONValue {
    var object = JSONObject([("jsonrpc", "2.0")])
    if let id { object["id"] = id }
    object["method"] = .string(method)
    object["params"] = params
    return .object(object)
}

/// A request line, newline included.
func line(_ request: JSONValue) -> [UInt8] {
    request.serialized() + [0x0a]
}

/// The JSON-RPC numeric code the contract pairs with each `data.code`.
func numericCode(of name: String) -> Int {
    switch name {
    case "PARSE_ERROR": -32700
    case "INVALID_REQUEST": -32600
    case "METHOD_NOT_FOUND": -32601
    case "INVALID_PARAMS": -32602
    case "INTERNAL": -32603
    default: -32000
    }
}

/// Checks that `response` is a JSON-RPC error named `name` (numeric code
/// included) for `id`, naming `field` when given; returns its `data`.
@discardableResult
func expectError(
    _ response: JSONValue, _ name: String, id: JSONValue, field: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) -> JSONValue {
    #expect(response["jsonrpc"] == "2.0", "\(response)", sourceLocation: sourceLocation)
    #expect(response["id"] == id, "id of \(response)", sourceLocation: sourceLocation)
    #expect(response["result"] == nil, "expected \(name), got \(response)", sourceLocation: sourceLocation)
    let error = response["error"]
    #expect(
        error?["data"]?["code"] == .string(name), "expected \(name), got \(response)", sourceLocation: sourceLocation)
    #expect(
        error?["code"]?.intValue == numericCode(of: name), "numeric code of \(response)", sourceLocation: sourceLocation
    )
    #expect(error?["message"]?.stringValue?.isEmpty == false, "message of \(response)", sourceLocation: sourceLocation)
    if let field {
        #expect(error?["data"]?["field"] == .string(field), "field of \(response)", sourceLocation: sourceLocation)
    }
    return error?["data"] ?? .null
}

/// Checks that `response` is a success for `id` and returns its result.
@discardableResult
func expectResult(
    _ response: JSONValue, id: JSONValue, sourceLocation: SourceLocation = #_sourceLocation
) -> JSONValue {
    #expect(response["jsonrpc"] == "2.0", "\(response)", sourceLocation: sourceLocation)
    #expect(response["id"] == id, "id of \(response)", sourceLocation: sourceLocation)
    #expect(response["error"] == nil, "unexpected error: \(response)", sourceLocation: sourceLocation)
    return response["result"] ?? .null
}

/// Whether `value` is an RFC 3339 UTC time with milliseconds, e.g. `2026-04-23T05:10:14.123Z`.
func isContractTime(_ value: JSONValue?) -> Bool {
    guard let text = value?.stringValue else { return false }
    return text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil
}

/// Whether `value` is a lowercase canonical UUID string.
func isCanonicalUUID(_ value: JSONValue?) -> Bool {
    guard let text = value?.stringValue else { return false }
    return text.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/) != nil
}

/// Whether `value` is 64 lowercase hex digits.
func isContractDigest(_ value: JSONValue?) -> Bool {
    guard let text = value?.stringValue else { return false }
    return text.wholeMatch(of: /[0-9a-f]{64}/) != nil
}

extension RawSocket {
    /// Sends one request (with `attachment` after it, `dataLength` added)
    /// and reads its response line; checks the id is echoed.
    func request(
        _ id: JSONValue, _ method: String, _ params: JSONValue = [:], attachment: [UInt8]? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        var params = params
        if let attachment, var object = params.objectValue {
            object["dataLength"] = .int(attachment.count)
            params = .object(object)
        }
        try await send(line(rpc(id, method, params)) + (attachment ?? []))
        return try await readJSON()
    }

    /// ``request(_:_:_:attachment:sourceLocation:)`` that must succeed; its result.
    func result(
        _ method: String, _ params: JSONValue = [:], attachment: [UInt8]? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let id = JSONValue.string("r-\(UUID().uuidString.prefix(8))")
        let response = try await request(id, method, params, attachment: attachment, sourceLocation: sourceLocation)
        try #require(response["error"] == nil, "\(method) failed: \(response)", sourceLocation: sourceLocation)
        return expectResult(response, id: id, sourceLocation: sourceLocation)
    }

    /// `system.hello` answered in order: proof the connection is still framed and alive.
    func expectAlive(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let id = JSONValue.string("alive-\(UUID().uuidString.prefix(8))")
        let response = try await request(id, "system.hello", sourceLocation: sourceLocation)
        #expect(response["id"] == id, "expected the hello's answer, got \(response)", sourceLocation: sourceLocation)
        #expect(response["result"]?["server"] == "cairn", "\(response)", sourceLocation: sourceLocation)
    }
}

extension CairnClient {
    /// Every artifact of `tenant`, following cursors.
    func listAll(tenant: String, pageSize: Int = 1000) async throws -> [JSONValue] {
        var artifacts: [JSONValue] = []
        var cursor: JSONValue = .null
        for _ in 0..<10_000 {
            var params = JSONObject([("tenant", .string(tenant)), ("limit", .int(pageSize))])
            if cursor != .null { params["cursor"] = cursor }
            let page = try await call("artifacts.list", params).result
            artifacts += page["artifacts"]?.arrayValue ?? []
            cursor = page["nextCursor"] ?? .null
            if cursor == .null { return artifacts }
        }
        Issue.record("artifacts.list did not end")
        return artifacts
    }

    /// `tenants.usage`.
    func usage(tenant: String) async throws -> JSONValue {
        try await call("tenants.usage", JSONObject([("tenant", .string(tenant))])).result
    }

    /// Reads a whole artifact chunk by chunk (binary) and returns its bytes.
    func readAll(tenant: String, artifactId: String, chunk: Int? = nil) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<100_000 {
            let piece = try await read(
                tenant: tenant, artifactId: artifactId, offset: UInt64(bytes.count), length: chunk)
            bytes += piece.bytes
            if piece.eof { return bytes }
            if piece.bytes.isEmpty {
                Issue.record("artifacts.read gave no bytes and no eof at \(bytes.count)")
                return bytes
            }
        }
        return bytes
    }
}

/// Whether this process runs as root (the uid-switching tests need it).
let runningAsRoot = getuid() == 0

/// File mode bits (permissions only) of `path`, without following a symlink.
func permissions(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}

/// Runs `body`, failing with a ``ServerProcess/FixtureError`` naming `what`
/// when it has not finished after `limit` (the body is then cancelled).
func withDeadline<T: Sendable>(
    _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw ServerProcess.FixtureError(description: "\(what) did not finish within \(limit)")
        }
        return value
    }
}
