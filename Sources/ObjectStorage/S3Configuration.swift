/// Where the object store is and how to talk to it: endpoint, region, credentials, timeouts, retries.
///
/// ``init(environment:endpoint:)`` follows the AWS conventions: `AWS_ENDPOINT_URL_S3`, else
/// `AWS_ENDPOINT_URL`, else AWS's regional endpoint; `AWS_REGION`, else `AWS_DEFAULT_REGION`, else
/// `us-east-1`; `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`. An explicit
/// endpoint wins over the variables. Requests use path-style addressing
/// (`ENDPOINT/BUCKET/KEY`), which every S3-compatible store understands; there is no
/// virtual-host style, no profile files and no instance metadata.
///
/// Its textual forms show the credentials redacted (see ``S3Credentials``).
public struct S3Configuration: Sendable {
    /// The service's base URL, e.g. `http://127.0.0.1:7480`.
    public var endpoint: S3Endpoint
    /// The region in the signature's scope.
    public var region: String
    /// The keys requests are signed with.
    public var credentials: S3Credentials
    /// How failed requests are retried.
    public var retry: RetrySchedule<ContinuousClock.Instant>.Configuration
    /// How long making a connection may take before the endpoint counts as unreachable.
    public var connectTimeout: Duration
    /// How long a connection may stay silent while a request or its answer is under way.
    public var idleTimeout: Duration
    /// How long one attempt may take until the answer's head arrives (the body it sends included).
    public var requestTimeout: Duration

    /// Creates a configuration from its parts.
    ///
    /// - Parameters:
    ///   - endpoint: the service's base URL.
    ///   - region: the region, `us-east-1` by default.
    ///   - credentials: the keys.
    ///   - retry: the retry limits.
    ///   - connectTimeout: the connect timeout, 5 s by default.
    ///   - idleTimeout: the idle timeout of a connection in use, 60 s by default.
    ///   - requestTimeout: the limit for one attempt up to the answer's head, 5 min by default.
    public init(
        endpoint: S3Endpoint, region: String = "us-east-1", credentials: S3Credentials,
        retry: RetrySchedule<ContinuousClock.Instant>.Configuration = .init(),
        connectTimeout: Duration = .seconds(5), idleTimeout: Duration = .seconds(60),
        requestTimeout: Duration = .seconds(300)
    ) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.retry = retry
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
    }

    /// Reads a configuration from environment variables, the AWS way.
    ///
    /// - Parameters:
    ///   - environment: the variables, e.g. `ProcessInfo.processInfo.environment`; empty values count as unset.
    ///   - endpoint: an explicit endpoint URL that wins over `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL`.
    /// - Throws: ``S3Error`` of kind ``S3Error/Kind/invalidConfiguration`` naming a missing variable
    ///   or a bad endpoint (never a variable's value, save the endpoint's).
    public init(environment: [String: String], endpoint: String? = nil) throws(S3Error) {
        func value(_ name: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }
        let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1"
        guard let accessKeyID = value("AWS_ACCESS_KEY_ID") else {
            throw S3Error(.invalidConfiguration, message: "AWS_ACCESS_KEY_ID is not set")
        }
        guard let secretAccessKey = value("AWS_SECRET_ACCESS_KEY") else {
            throw S3Error(.invalidConfiguration, message: "AWS_SECRET_ACCESS_KEY is not set")
        }
        let endpointText =
            endpoint.flatMap { $0.isEmpty ? nil : $0 } ?? value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")
            ?? "https://s3.\(region).amazonaws.com"
        self.init(
            endpoint: try S3Endpoint(endpointText), region: region,
            credentials: S3Credentials(
                accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: value("AWS_SESSION_TOKEN")))
    }
}

extension S3Configuration: CustomStringConvertible {
    /// The endpoint, the region and the redacted credentials.
    public var description: String {
        "S3Configuration(endpoint: \(endpoint), region: \(region), credentials: \(credentials))"
    }
}

/// An S3 service's base URL: `http` or `https`, a host, an optional port and an optional base path.
///
/// Buckets go after the base path (path-style addressing): `http://127.0.0.1:7480/BUCKET/KEY`.
public struct S3Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// The host name or address; an IPv6 address without brackets.
    public let host: String
    /// The port, `nil` for the scheme's default.
    public let port: Int?
    /// A path before the bucket, without a trailing slash; usually empty.
    public let basePath: String

    /// Parses an endpoint URL such as `http://127.0.0.1:7480` or `https://s3.example.net/storage`.
    ///
    /// - Throws: ``S3Error`` of kind ``S3Error/Kind/invalidConfiguration`` for anything else
    ///   (another scheme, no host, a query, user information).
    public init(_ url: String) throws(S3Error) {
        func bad(_ reason: String) -> S3Error {
            S3Error(.invalidConfiguration, message: "the endpoint \(url) is not usable: \(reason)")
        }
        guard let schemeEnd = url.firstRange(of: "://") else { throw bad("no scheme") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw bad("the scheme must be http or https") }
        let rest = url[schemeEnd.upperBound...]
        guard !rest.contains("?"), !rest.contains("#") else { throw bad("a query or fragment") }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.contains("@") else { throw bad("user information belongs in the credentials") }
        var path = String(rest[authorityEnd...])
        while path.hasSuffix("/") { path.removeLast() }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw bad("an unclosed IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw bad("no host") }
        var port: Int?
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else { throw bad("a bad port") }
            port = number
        }
        self.scheme = scheme
        self.host = String(host).lowercased()
        self.port = port
        self.basePath = path
    }

    /// The `Host` header's value: the host, with the port unless it is the scheme's default.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        guard let port, port != (scheme == "https" ? 443 : 80) else { return name }
        return "\(name):\(port)"
    }

    /// `scheme://host[:port]`, without the base path.
    var origin: String { "\(scheme)://\(hostHeader)" }

    /// The endpoint as a URL.
    public var description: String { origin + basePath }
}
