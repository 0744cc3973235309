import Crypto

/// AWS Signature Version 4 over a request's method, path, query, headers and payload hash.
///
/// Pure: no clock, no I/O. ``sign(_:payloadHash:at:)`` adds `x-amz-date`, `x-amz-content-sha256`
/// (for the `s3` service), `x-amz-security-token` (with a session token) and `Authorization` to a
/// request; the steps in between (``canonicalRequest(for:payloadHash:)``,
/// ``stringToSign(canonicalRequest:at:)``, ``signature(stringToSign:at:)``) are public so tests can
/// check each against published values. Every header of the request is signed except the
/// hop-by-hop ones and `user-agent` (the list botocore uses), so add `host` and the headers to
/// send before signing and none after.
///
/// The path is signed as it is sent — already percent-encoded, never normalized or encoded twice —
/// which is what S3 wants and not what other services do.
public struct SignatureV4: Sendable {
    /// The keys to sign with.
    public var credentials: S3Credentials
    /// The region of the scope, e.g. `us-east-1`.
    public var region: String
    /// The service of the scope: `s3` here.
    public var service: String

    /// Creates a signer for one scope.
    ///
    /// - Parameters:
    ///   - credentials: the keys.
    ///   - region: the region the request goes to.
    ///   - service: the service, `s3` by default.
    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Headers never signed: hop-by-hop headers a proxy may change, and `user-agent`.
    static let unsignedHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// The canonical request: method, path, sorted encoded query, canonical headers, signed header names, payload hash.
    ///
    /// - Parameters:
    ///   - request: the request, with every header that is to be signed.
    ///   - payloadHash: the hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    public func canonicalRequest(for request: SignableRequest, payloadHash: String) -> String {
        let query = request.query
            .map { (URIEncoding.component($0.name), URIEncoding.component($0.value)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
        let headers = canonicalHeaders(request.headers)
        let headerLines = headers.map { "\($0.name):\($0.value)\n" }.joined()
        return [
            request.method.uppercased(), request.path.isEmpty ? "/" : request.path, query, headerLines,
            headers.map(\.name).joined(separator: ";"), payloadHash,
        ].joined(separator: "\n")
    }

    /// The string to sign: the algorithm, the time, the scope and the canonical request's SHA-256.
    ///
    /// - Parameters:
    ///   - canonicalRequest: from ``canonicalRequest(for:payloadHash:)``.
    ///   - time: the signing time, the same as the request's `x-amz-date`.
    public func stringToSign(canonicalRequest: String, at time: SigningTime) -> String {
        let digest = SHA256.hash(data: Array(canonicalRequest.utf8))
        return ["AWS4-HMAC-SHA256", time.timestamp, scope(at: time), Hex.encode(digest)].joined(separator: "\n")
    }

    /// The hex signature of a string to sign, with the key derived for the time's day, the region and the service.
    ///
    /// - Parameters:
    ///   - stringToSign: from ``stringToSign(canonicalRequest:at:)``.
    ///   - time: the signing time.
    public func signature(stringToSign: String, at time: SigningTime) -> String {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [time.date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// The `Authorization` header's value for a request whose headers are all in place.
    ///
    /// - Parameters:
    ///   - request: the request, with `host`, `x-amz-date` and every other header to send.
    ///   - payloadHash: the hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    ///   - time: the signing time, the same as the request's `x-amz-date`.
    public func authorization(for request: SignableRequest, payloadHash: String, at time: SigningTime) -> String {
        let canonical = canonicalRequest(for: request, payloadHash: payloadHash)
        let signature = signature(stringToSign: stringToSign(canonicalRequest: canonical, at: time), at: time)
        let signedHeaders = canonicalHeaders(request.headers).map(\.name).joined(separator: ";")
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(at: time)), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// Signs a request in place: sets `x-amz-date`, `x-amz-content-sha256` (service `s3`),
    /// `x-amz-security-token` (with a session token) and `Authorization`, replacing earlier values.
    ///
    /// - Parameters:
    ///   - request: the request, with `host` and every other header to send.
    ///   - payloadHash: the hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    ///   - time: the signing time.
    public func sign(_ request: inout SignableRequest, payloadHash: String, at time: SigningTime) {
        request.setHeader("x-amz-date", time.timestamp)
        if service == "s3" { request.setHeader("x-amz-content-sha256", payloadHash) }
        if let token = credentials.sessionToken { request.setHeader("x-amz-security-token", token) }
        request.removeHeader("authorization")
        request.headers.append(
            (name: "Authorization", value: authorization(for: request, payloadHash: payloadHash, at: time)))
    }

    private func scope(at time: SigningTime) -> String {
        "\(time.date)/\(region)/\(service)/aws4_request"
    }

    /// Lower-cased names, sorted; values trimmed with inner runs of white space made one space; repeats joined by commas.
    private func canonicalHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var merged: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            guard !Self.unsignedHeaders.contains(name) else { continue }
            let value = header.value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
                .joined(separator: " ")
            merged[name, default: []].append(value)
        }
        return merged.keys.sorted().map { (name: $0, value: merged[$0]!.joined(separator: ",")) }
    }
}

/// A request as Signature Version 4 sees it: method, encoded path, query parameters and headers.
public struct SignableRequest: Sendable {
    /// The HTTP method, e.g. `GET`.
    public var method: String
    /// The path as sent, percent-encoded (``URIEncoding/path(_:)``), starting with `/`.
    public var path: String
    /// The query parameters, not encoded; a parameter without a value has an empty one (`?uploads` is `("uploads", "")`).
    public var query: [(name: String, value: String)]
    /// The headers to send, `host` among them; names in any case.
    public var headers: [(name: String, value: String)]

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - path: the percent-encoded path.
    ///   - query: the query parameters, not encoded.
    ///   - headers: the headers, `host` among them.
    public init(
        method: String, path: String, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The first value of a header, by name in any case.
    public func header(_ name: String) -> String? {
        let name = name.lowercased()
        return headers.first { $0.name.lowercased() == name }?.value
    }

    /// Replaces every value of a header with one.
    public mutating func setHeader(_ name: String, _ value: String) {
        removeHeader(name)
        headers.append((name: name, value: value))
    }

    /// Removes every value of a header.
    public mutating func removeHeader(_ name: String) {
        let name = name.lowercased()
        headers.removeAll { $0.name.lowercased() == name }
    }

    /// The query as it goes on the URL (without `?`): encoded pairs in the given order, a bare name for an empty value.
    public var encodedQuery: String {
        query.map {
            $0.value.isEmpty
                ? URIEncoding.component($0.name)
                : "\(URIEncoding.component($0.name))=\(URIEncoding.component($0.value))"
        }.joined(separator: "&")
    }
}

/// The instant a request is signed at, to the second, in UTC.
public struct SigningTime: Sendable, Hashable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Int64

    /// A time from seconds since the epoch.
    public init(secondsSince1970: Int64) {
        self.secondsSince1970 = secondsSince1970
    }

    /// The time from year, month, day, hour, minute and second in UTC (proleptic Gregorian).
    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        // Days from civil (Howard Hinnant's algorithm).
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        self.secondsSince1970 = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// `YYYYMMDD'T'HHMMSS'Z'`, the form of `x-amz-date`.
    public var timestamp: String {
        let (year, month, day) = civil
        let secondOfDay = Int(secondsSince1970 - floorDays * 86_400)
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + "T" + pad(secondOfDay / 3600, 2)
            + pad(secondOfDay / 60 % 60, 2) + pad(secondOfDay % 60, 2) + "Z"
    }

    /// `YYYYMMDD`, the date of the credential scope.
    public var date: String {
        let (year, month, day) = civil
        return pad(year, 4) + pad(month, 2) + pad(day, 2)
    }

    private var floorDays: Int64 {
        secondsSince1970 >= 0 ? secondsSince1970 / 86_400 : (secondsSince1970 - 86_399) / 86_400
    }

    /// Civil from days (Howard Hinnant's algorithm).
    private var civil: (year: Int, month: Int, day: Int) {
        let z = floorDays + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// Lower-case hex of bytes.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
