/// Why a materialization session could not lay out, or remove, its files.
///
/// An extensible struct rather than an enum: match on ``code`` for the kind
/// of problem and show ``message``, which names the path or field. Failures
/// of the server or of the bytes received (`NOT_FOUND`, a digest mismatch)
/// are ``CairnClientError``s, not these.
public struct MaterializationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem, comparable across releases.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case unsafeDirectory, pathTaken, fileSystem, invalidReference, invalidSnapshot, environmentName, closed
        }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// A directory on the way is a symlink, not a directory, not owned by
        /// this user, or writable by others; nothing was written through it.
        public static let unsafeDirectory = Code(.unsafeDirectory)
        /// Something already exists where the session would create its
        /// directory or a file (a planted link, a leftover); it was not touched.
        public static let pathTaken = Code(.pathTaken)
        /// A system call failed (disk full, permission denied, …).
        public static let fileSystem = Code(.fileSystem)
        /// An artifact id that is not a UUID, an expected digest that is not a
        /// sha256 (or two digests expected of one artifact), or a session file
        /// name that is not a plain name.
        public static let invalidReference = Code(.invalidReference)
        /// A configuration snapshot is not shaped as the contract says.
        public static let invalidSnapshot = Code(.invalidSnapshot)
        /// Two fields would share an environment variable, or a key has no
        /// letter or digit to name one with.
        public static let environmentName = Code(.environmentName)
        /// The session is closed; its files are gone.
        public static let closed = Code(.closed)

        /// The code's name, e.g. `pathTaken`.
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
