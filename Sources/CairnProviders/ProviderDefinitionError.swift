/// Why a provider definition file was rejected.
///
/// An extensible struct rather than an enum: match on ``code`` for the kind of
/// problem and show ``message``, which names the offending member.
public struct ProviderDefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem, comparable across releases.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case invalidJSON, notAnObject, missingMember, wrongType, unknownMember
            case invalidProviderId, invalidDisplayName, unknownShape, invalidKey, duplicateKey, invalidAllowedValues
        }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// The bytes are not JSON.
        public static let invalidJSON = Code(.invalidJSON)
        /// The definition or a field entry is not a JSON object.
        public static let notAnObject = Code(.notAnObject)
        /// A member that must be present is absent.
        public static let missingMember = Code(.missingMember)
        /// A member has the wrong JSON type.
        public static let wrongType = Code(.wrongType)
        /// A member the format does not know (often a misspelling).
        public static let unknownMember = Code(.unknownMember)
        /// The providerId does not match `^[a-z0-9][a-z0-9._:-]{0,127}$`.
        public static let invalidProviderId = Code(.invalidProviderId)
        /// The displayName is empty.
        public static let invalidDisplayName = Code(.invalidDisplayName)
        /// A field shape is not one of the four known shapes.
        public static let unknownShape = Code(.unknownShape)
        /// A field key is empty.
        public static let invalidKey = Code(.invalidKey)
        /// Two fields share a key.
        public static let duplicateKey = Code(.duplicateKey)
        /// allowedValues is empty, repeats a value, or sits on an artifact-shaped field.
        public static let invalidAllowedValues = Code(.invalidAllowedValues)

        /// The code's name, e.g. `duplicateKey`.
        public var description: String { backing.rawValue }
    }

    /// The kind of problem.
    public let code: Code
    /// A sentence naming the problem and where it is.
    public let message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message, prefixed with the code.
    public var description: String { "\(code): \(message)" }
}
