import CairnDigest
import CairnProviders

/// Why a store operation failed, in the terms of the wire contract.
///
/// Each error has a ``Code`` matching the contract's `data.code` and the
/// facts the contract puts next to it. Nothing was written when an operation
/// fails with any of these.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure; its `rawValue` is the contract's `data.code`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidArgument = Code("INVALID_PARAMS")
        public static let notFound = Code("NOT_FOUND")
        public static let quotaExceeded = Code("QUOTA_EXCEEDED")
        public static let tooLarge = Code("TOO_LARGE")
        public static let digestMismatch = Code("DIGEST_MISMATCH")
        public static let sizeMismatch = Code("SIZE_MISMATCH")
        public static let offsetMismatch = Code("OFFSET_MISMATCH")
        public static let storeFull = Code("STORE_FULL")
        public static let integrityError = Code("INTEGRITY_ERROR")
        public static let layoutTooNew = Code("LAYOUT_TOO_NEW")
        /// A delete of an artifact that a provider configuration references.
        public static let artifactInUse = Code("ARTIFACT_IN_USE")
        /// A configuration change that can never be stored.
        public static let providerConfigInvalid = Code("PROVIDER_CONFIG_INVALID")
        /// `expectedRevision` is not the configuration's current revision.
        public static let conflict = Code("CONFLICT")
        public static let internalError = Code("INTERNAL")
    }

    /// What kind of quota a ``Code/quotaExceeded`` concerns.
    public enum QuotaKind: String, Sendable {
        case bytes
        case artifacts
    }

    /// The facts that go with a code.
    public enum Detail: Sendable, Equatable {
        case none
        /// The parameter that is wrong.
        case field(String)
        /// What was not found: `artifact`, `upload`, `blob`.
        case what(String)
        case quota(kind: QuotaKind, limit: UInt64, used: UInt64, requested: UInt64)
        case limit(UInt64)
        case digests(expected: SHA256Digest, actual: SHA256Digest)
        /// An upload's XXH3-128 transfer check failed.
        case checksums(expected: XXH3Hash128, actual: XXH3Hash128)
        case sizes(expected: UInt64, actual: UInt64)
        /// The upload's current offset.
        case offset(UInt64)
        /// The blob that failed verification.
        case blob(SHA256Digest)
        case versions(store: UInt32, supported: UInt32)
        /// The configuration fields referencing an artifact (``Code/artifactInUse``).
        case references([ArtifactReference])
        /// What makes a configuration change impossible to store (``Code/providerConfigInvalid``).
        case issues([ReadinessReport.Issue])
        /// The configuration's current revision (``Code/conflict``).
        case revision(UInt64)
    }

    public let code: Code
    public let detail: Detail
    /// One human-readable line.
    public let message: String

    public init(_ code: Code, _ detail: Detail = .none, _ message: String) {
        self.code = code
        self.detail = detail
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func invalid(_ field: String, _ message: String) -> StoreError {
        StoreError(.invalidArgument, .field(field), message)
    }

    static func notFound(_ what: String) -> StoreError {
        StoreError(.notFound, .what(what), "no such \(what)")
    }

    static func integrity(_ digest: SHA256Digest) -> StoreError {
        StoreError(.integrityError, .blob(digest), "stored bytes of blob \(digest) failed verification")
    }

    static let storeFull = StoreError(
        .storeFull, .none, "the store's size limit or the disk is full; nothing was written")
}
