/// The outcome of a readiness evaluation, shaped like the `providers.readiness` result.
public struct ReadinessReport: Sendable, Hashable {
    /// The envelope code of a blocked provider.
    public enum Code: String, Sendable, Hashable {
        /// Only required values are missing.
        case configRequired = "PROVIDER_CONFIG_REQUIRED"
        /// At least one value is wrong.
        case configInvalid = "PROVIDER_CONFIG_INVALID"
    }

    /// One problem with one field.
    public struct Issue: Sendable, Hashable {
        /// The field key the problem is about.
        public let field: String
        /// The precise reason.
        public let subCode: ReadinessSubCode
        /// A sentence for people, naming the field and, where useful, the value.
        public let message: String

        /// Creates an issue.
        public init(field: String, subCode: ReadinessSubCode, message: String) {
            self.field = field
            self.subCode = subCode
            self.message = message
        }
    }

    /// The problems found, in field order; empty when ready.
    public let issues: [Issue]

    /// Creates a report from the issues found.
    public init(issues: [Issue]) {
        self.issues = issues
    }

    /// Whether the provider can run.
    public var ready: Bool { issues.isEmpty }

    /// `"ready"` or `"blocked"`.
    public var state: String { ready ? "ready" : "blocked" }

    /// The sub-codes of all issues, in first-seen order, without repeats.
    public var subCodes: [ReadinessSubCode] {
        var seen: Set<ReadinessSubCode> = []
        return issues.map(\.subCode).filter { seen.insert($0).inserted }
    }

    /// `nil` when ready; REQUIRED when every sub-code is a missing one; INVALID otherwise.
    public var code: Code? {
        if issues.isEmpty { return nil }
        return issues.allSatisfy(\.subCode.isMissing) ? .configRequired : .configInvalid
    }
}
