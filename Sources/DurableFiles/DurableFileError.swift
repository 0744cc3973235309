#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a durable file-system step failed: which step, on which path, and
/// the `errno` the system gave.
///
/// An extensible struct rather than an enum: match on ``code`` for the step
/// that failed, read ``errorNumber`` for why, and show ``message``, which
/// names the path. Callers map it to their own error types (a CLI failure,
/// a store error, a materialization error) so that what users read does not
/// depend on this module.
public struct DurableFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The step that failed, comparable across releases.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case exists, notDirectory, create, open, write, setMode, flush, rename
        }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// Something already has the name a new file or directory was to get
        /// (`EEXIST`); it was not touched.
        public static let exists = Code(.exists)
        /// A path that must be a directory (one to create, or one of its
        /// parents) exists as something else.
        public static let notDirectory = Code(.notDirectory)
        /// Creating a file or directory failed.
        public static let create = Code(.create)
        /// Opening a file or directory (to flush or inspect it) failed.
        public static let open = Code(.open)
        /// Writing a new file's bytes failed.
        public static let write = Code(.write)
        /// Setting a new file's or directory's mode failed.
        public static let setMode = Code(.setMode)
        /// `fsync(2)` of a file or directory failed: what was written may
        /// not survive a power loss.
        public static let flush = Code(.flush)
        /// `rename(2)` failed; the source is still where it was.
        public static let rename = Code(.rename)

        /// The code's name, e.g. `flush`.
        public var description: String { backing.rawValue }
    }

    /// The step that failed.
    public let code: Code
    /// The path the step was working on (for a rename, its source).
    public let path: String
    /// The `errno` of the failed system call (`EEXIST` for ``Code/exists``,
    /// `ENOTDIR` for ``Code/notDirectory``).
    public let errorNumber: Int32
    /// A sentence naming the step, the path and the reason, e.g.
    /// `cannot flush /srv/backup: Input/output error`.
    public let message: String

    /// Creates an error; `message` defaults to `cannot <what> <path>: <reason>`.
    ///
    /// - Parameters:
    ///   - code: the step that failed.
    ///   - path: the path it worked on.
    ///   - errorNumber: the `errno` of the failure.
    ///   - message: the sentence to show; `nil` for the default one.
    public init(_ code: Code, path: String, errorNumber: Int32, message: String? = nil) {
        self.code = code
        self.path = path
        self.errorNumber = errorNumber
        self.message = message ?? "cannot \(Self.verb(code)) \(path): \(Self.reason(errorNumber))"
    }

    /// What the system says about ``errorNumber``, e.g. `Permission denied`.
    public var reason: String { Self.reason(errorNumber) }

    /// The message.
    public var description: String { message }

    /// The failure of the system call just made on `path`, with the current `errno`.
    static func failure(_ code: Code, _ path: String, errorNumber: Int32 = errno) -> DurableFileError {
        DurableFileError(code, path: path, errorNumber: errorNumber)
    }

    private static func reason(_ number: Int32) -> String {
        String(cString: strerror(number))
    }

    private static func verb(_ code: Code) -> String {
        switch code {
        case .exists, .create: "create"
        case .notDirectory: "use as a directory"
        case .open: "open"
        case .write: "write"
        case .setMode: "set the mode of"
        case .flush: "flush"
        case .rename: "rename"
        default: "\(code)"
        }
    }
}
