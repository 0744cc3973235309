/// The keys that sign requests: an access key ID, its secret, and an optional session token.
///
/// Every textual form of a value of this type — `description`, `debugDescription`, a `Mirror`
/// (so `dump` and string interpolation of a containing value) — shows at most the first four
/// characters of the access key ID and never the secret or the token. Nothing in this module
/// writes the keys to a log, an error or a process argument.
public struct S3Credentials: Sendable, Hashable {
    /// The access key ID (`AWS_ACCESS_KEY_ID`), sent in every request's `Authorization` header.
    public var accessKeyID: String
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`); only ever an input to HMAC.
    public var secretAccessKey: String
    /// A temporary session token (`AWS_SESSION_TOKEN`), sent as `x-amz-security-token` when present.
    public var sessionToken: String?

    /// Creates credentials from their parts.
    ///
    /// - Parameters:
    ///   - accessKeyID: the access key ID.
    ///   - secretAccessKey: the secret access key.
    ///   - sessionToken: a session token for temporary credentials, or `nil`.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The access key ID cut to its first four characters, for messages.
    var redactedAccessKeyID: String {
        accessKeyID.count > 4 ? "\(accessKeyID.prefix(4))…" : "…"
    }
}

extension S3Credentials: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The access key ID's first characters; the secret and the token as `<redacted>`.
    public var description: String {
        let token = sessionToken == nil ? "none" : "<redacted>"
        return "S3Credentials(accessKeyID: \(redactedAccessKeyID), secretAccessKey: <redacted>, sessionToken: \(token))"
    }

    /// The same as ``description``.
    public var debugDescription: String { description }

    /// A mirror with the redacted forms only, so `dump` and reflection show no secret either.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyID": redactedAccessKeyID,
                "secretAccessKey": "<redacted>",
                "sessionToken": sessionToken == nil ? "none" : "<redacted>",
            ],
            displayStyle: .struct)
    }
}
