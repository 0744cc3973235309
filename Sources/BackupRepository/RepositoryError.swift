/// Every failure of a backup repository, in one shape: what kind, and a message for the operator.
public struct RepositoryError: Error, Sendable, CustomStringConvertible {
    /// The kinds of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// The location is not a repository, or holds a format this build does not know.
        public static let notARepository = Code(name: "notARepository")
        /// The key does not open the repository, or a key is missing or given where none is used.
        public static let invalidKey = Code(name: "invalidKey")
        /// No such backup.
        public static let notFound = Code(name: "notFound")
        /// An object is missing, does not decrypt, or does not hash to what the backup records.
        public static let damaged = Code(name: "damaged")
        /// Another process holds the repository (a prune running, or a backup while pruning).
        public static let locked = Code(name: "locked")
        /// A malformed location or argument.
        public static let invalidArgument = Code(name: "invalidArgument")

        public var description: String { name }
    }

    /// What kind of failure.
    public var code: Code
    /// What happened, for the operator.
    public var message: String

    /// A failure of kind `code`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
