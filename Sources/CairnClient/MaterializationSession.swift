import CairnDigest
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A provider's artifacts as real files, for a program that needs paths
/// (cosign's `--key`, a trust root, a CA bundle), and the promise to take
/// them back.
///
/// A session is opened by ``CairnClient/materialize(tenant:fields:configuration:)``
/// (or from a provider's configuration, ``CairnClient/materialize(tenant:providerId:configuration:)``).
/// It lays the artifacts out as
/// `<TMPDIR>/cairn-artifacts/<session-uuid>/<artifactId>.bin`: the session
/// directory is created exclusively with mode 0700, each file exclusively
/// with mode 0600, everything relative to directory descriptors and without
/// following links (see ``Configuration`` for the rules on the way). Every
/// file's sha256 is computed while it is written and compared with the
/// expected one; a mismatch, or any other failure, removes what was written
/// and fails the whole session. An artifact referenced twice is written
/// once.
///
/// ``close()`` removes the session directory and everything in it; it is
/// idempotent, and a session dropped without closing is closed by its
/// deinitializer. Prefer ``CairnClient/withMaterializedArtifacts(tenant:fields:configuration:_:)``,
/// which closes on return, on a throw and on cancellation. A process killed
/// with SIGKILL cannot clean up; an open session therefore holds an advisory
/// lock (`flock`) on its directory, and the next session of the same user
/// below the same TMPDIR removes the session directories nobody holds.
///
/// The session does not hold the connection: once opened it can outlive
/// the client that fetched its files.
public final class MaterializationSession: Sendable {
    /// One artifact to write, and the sha256 its bytes must have.
    public struct ExpectedArtifact: Sendable, Hashable {
        /// The artifact's id (a UUID).
        public var artifactId: String
        /// The sha256 the written bytes must have: 64 hex digits, `sha256:` prefix and either case accepted.
        public var sha256: String

        /// Names an artifact and its expected digest.
        public init(artifactId: String, sha256: String) {
            self.artifactId = artifactId
            self.sha256 = sha256
        }
    }

    /// A configuration field whose value references artifacts: the wire
    /// shapes `artifactRef` (one file) and `list<artifactRef>` (any number,
    /// in order).
    public struct Field: Sendable, Hashable {
        /// The configuration key, e.g. `cosignKey`.
        public let key: String
        /// Whether the field is a `list<artifactRef>`.
        public let isList: Bool
        /// The artifacts, in the field's order.
        public let artifacts: [ExpectedArtifact]

        /// An `artifactRef` field.
        public static func reference(_ key: String, _ artifact: ExpectedArtifact) -> Field {
            Field(key: key, isList: false, artifacts: [artifact])
        }

        /// A `list<artifactRef>` field.
        public static func list(_ key: String, _ artifacts: [ExpectedArtifact]) -> Field {
            Field(key: key, isList: true, artifacts: artifacts)
        }
    }

    /// Where a session writes.
    public struct Configuration: Sendable {
        /// The directory below which `cairn-artifacts/<session-uuid>/` is
        /// made; by default `$TMPDIR`, else `/tmp`.
        ///
        /// `cairn-artifacts` is created with mode 0700 when absent. When it
        /// exists it must be a directory (not a link) owned by this user and
        /// writable by nobody else, or the session is refused.
        public var temporaryDirectory: String
        /// The session's id, which names its directory; `nil` (the default)
        /// gives every session opened with this configuration a new random one.
        ///
        /// When something already exists at that name (a directory, a link
        /// planted by someone else), the session is refused and nothing is
        /// written through it.
        public var sessionID: UUID?
        /// A directory to write into instead of a new session directory
        /// (for inspection); created with mode 0700 when absent, else it
        /// must be empty, owned by this user and not a link, and its mode
        /// becomes 0700.
        ///
        /// Its files are **kept** when the session closes (only a failed
        /// session removes what it wrote); removing them is the caller's
        /// job.
        public var keptDirectory: String?

        /// Creates a configuration; the defaults give a fresh session below `$TMPDIR`.
        public init(
            temporaryDirectory: String = Configuration.defaultTemporaryDirectory(), sessionID: UUID? = nil,
            keptDirectory: String? = nil
        ) {
            self.temporaryDirectory = temporaryDirectory
            self.sessionID = sessionID
            self.keptDirectory = keptDirectory
        }

        /// `$TMPDIR` when set and not empty, else `/tmp`.
        public static func defaultTemporaryDirectory(
            environment: [String: String] = ProcessInfo.processInfo.environment
        ) -> String {
            environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        }
    }

    /// The directory holding the files (absolute).
    public let directory: String
    /// The fields, as given, each with its paths in ``paths(for:)``.
    public let fields: [Field]
    /// Whether ``close()`` leaves the files in place (``Configuration/keptDirectory``).
    public let keepsFiles: Bool

    private let pathsByKey: [String: [String]]
    /// The session directory's name in the sessions directory (nil for a kept directory).
    private let name: String?
    private let state: Mutex<State>

    private struct State {
        var directoryFD: Int32
        /// `<TMPDIR>/cairn-artifacts`, to remove the session directory from; -1 for a kept directory.
        var sessionsFD: Int32
        /// The files this session created, by name.
        var created: [String] = []
        var closed = false
    }

    private init(
        directory: String, fields: [Field], name: String?, directoryFD: Int32, sessionsFD: Int32
    ) {
        self.directory = directory
        self.fields = fields
        keepsFiles = name == nil
        self.name = name
        var paths: [String: [String]] = [:]
        for field in fields {
            paths[field.key] = field.artifacts.map {
                PrivateDirectory.join(directory, Self.fileName($0.artifactId))
            }
        }
        pathsByKey = paths
        state = Mutex(State(directoryFD: directoryFD, sessionsFD: sessionsFD))
    }

    deinit {
        try? close()
    }

    /// The paths of a field's files, in the field's order; `nil` when the
    /// session has no such field.
    public func paths(for key: String) -> [String]? {
        pathsByKey[key]
    }

    /// The path of an `artifactRef` field's file (the first one of a list);
    /// `nil` when the session has no such field or the list is empty.
    public func path(for key: String) -> String? {
        pathsByKey[key]?.first
    }

    /// Whether ``close()`` has run to the end.
    public var isClosed: Bool {
        state.withLock { $0.closed }
    }

    /// Writes one more file into the session directory, exclusively and
    /// with mode 0600 (e.g. a configuration file for the program), and
    /// returns its path. It goes away with the session.
    ///
    /// - Parameter name: a plain file name, not `.`, `..` or a `<uuid>.bin` name, without `/`.
    /// - Throws: ``MaterializationError`` `.pathTaken` when the name exists, `.closed` after ``close()``.
    @discardableResult
    public func addFile(named name: String, contents: [UInt8]) throws(MaterializationError) -> String {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.hasSuffix(".bin") else {
            throw MaterializationError(.invalidReference, "'\(name)' is not a name for a session file")
        }
        return try state.withLock { state throws(MaterializationError) -> String in
            guard !state.closed else { throw MaterializationError(.closed, "the session at \(directory) is closed") }
            return try Self.write(name, contents: contents, into: &state, directory: directory)
        }
    }

    /// Removes the session directory and everything in it (or, for a kept
    /// directory, only lets go of it).
    ///
    /// Idempotent: after the first call that succeeds, later calls do
    /// nothing. A call that fails (a file that cannot be removed) may be
    /// retried.
    public func close() throws(MaterializationError) {
        try state.withLock { state throws(MaterializationError) in
            guard !state.closed else { return }
            if let name {
                try PrivateDirectory.removeContents(of: state.directoryFD, path: directory)
                guard unlinkat(state.sessionsFD, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
                    throw PrivateDirectory.failure("cannot remove", directory)
                }
            }
            Self.release(&state)
        }
    }

    // MARK: - Opening

    /// Creates the directory and writes every field's artifacts; on any
    /// failure removes what it wrote and throws.
    static func open(
        _ fields: [Field], tenant: String, configuration: Configuration, client: CairnClient
    ) async throws -> MaterializationSession {
        // Check every reference before anything is created.
        var expected: [String: SHA256Digest] = [:]
        var order: [String] = []
        var canonicalFields: [Field] = []
        for field in fields {
            var artifacts: [ExpectedArtifact] = []
            for artifact in field.artifacts {
                let id = try canonicalID(artifact.artifactId, field: field.key)
                guard let digest = SHA256Digest(parsing: artifact.sha256) else {
                    throw MaterializationError(
                        .invalidReference, "field \(field.key): '\(artifact.sha256)' is not a sha256 digest")
                }
                if let earlier = expected[id] {
                    guard earlier == digest else {
                        throw MaterializationError(
                            .invalidReference,
                            "field \(field.key): artifact \(id) is expected with two different digests")
                    }
                } else {
                    expected[id] = digest
                    order.append(id)
                }
                artifacts.append(ExpectedArtifact(artifactId: id, sha256: digest.hex))
            }
            canonicalFields.append(Field(key: field.key, isList: field.isList, artifacts: artifacts))
        }
        try Task.checkCancellation()
        let session = try create(canonicalFields, configuration: configuration)
        do {
            for id in order {
                try Task.checkCancellation()
                try await session.fetch(id, expecting: expected[id]!, tenant: tenant, client: client)
            }
        } catch {
            session.discard()
            throw error
        }
        return session
    }

    /// Makes the session's directory.
    private static func create(_ fields: [Field], configuration: Configuration) throws(MaterializationError)
        -> MaterializationSession
    {
        if let kept = configuration.keptDirectory {
            let path = absolute(kept)
            let fd = try PrivateDirectory.openEmptyDirectory(path)
            return MaterializationSession(directory: path, fields: fields, name: nil, directoryFD: fd, sessionsFD: -1)
        }
        let base = absolute(configuration.temporaryDirectory)
        let sessionsFD = try PrivateDirectory.openSessions(in: base)
        let name = (configuration.sessionID ?? UUID()).uuidString.lowercased()
        let sessionsPath = PrivateDirectory.join(base, PrivateDirectory.sessionsName)
        let path = PrivateDirectory.join(sessionsPath, name)
        PrivateDirectory.removeAbandonedSessions(in: sessionsFD, path: sessionsPath, except: name)
        do {
            let fd = try PrivateDirectory.createSessionDirectory(name, in: sessionsFD, path: path)
            return MaterializationSession(
                directory: path, fields: fields, name: name, directoryFD: fd, sessionsFD: sessionsFD)
        } catch {
            PrivateDirectory.closeDescriptor(sessionsFD)
            throw error
        }
    }

    /// Downloads one artifact into `<id>.bin`, verifying its digest as it is written.
    private func fetch(_ id: String, expecting digest: SHA256Digest, tenant: String, client: CairnClient) async throws {
        var meta = try await client.meta(tenant: tenant, artifactId: id)
        // The client checks the bytes it hands over against this digest, and their count against the size.
        meta.sha256 = digest.hex
        let fileName = Self.fileName(id)
        let path = PrivateDirectory.join(directory, fileName)
        let (directoryFD, fd) = try state.withLock { state throws(MaterializationError) -> (Int32, Int32) in
            let fd = try PrivateDirectory.createFile(fileName, in: state.directoryFD, path: path)
            state.created.append(fileName)
            return (state.directoryFD, fd)
        }
        do {
            _ = try await client.download(meta) { bytes in
                try Task.checkCancellation()
                try PrivateDirectory.write(bytes, to: fd, path: path)
            }
            PrivateDirectory.closeDescriptor(fd)
        } catch {
            PrivateDirectory.closeDescriptor(fd)
            unlinkat(directoryFD, fileName, 0)
            throw error
        }
    }

    /// After a failed opening: removes what was written (the whole session
    /// directory, or the files created in a kept one) and closes.
    private func discard() {
        state.withLock { state in
            guard !state.closed else { return }
            if let name {
                _ = try? PrivateDirectory.removeContents(of: state.directoryFD, path: directory)
                unlinkat(state.sessionsFD, name, AT_REMOVEDIR)
            } else {
                for file in state.created { unlinkat(state.directoryFD, file, 0) }
            }
            Self.release(&state)
        }
    }

    // MARK: - Helpers

    private static func write(_ name: String, contents: [UInt8], into state: inout State, directory: String)
        throws(MaterializationError) -> String
    {
        let path = PrivateDirectory.join(directory, name)
        let fd = try PrivateDirectory.createFile(name, in: state.directoryFD, path: path)
        defer { PrivateDirectory.closeDescriptor(fd) }
        do {
            try PrivateDirectory.write(contents, to: fd, path: path)
        } catch {
            unlinkat(state.directoryFD, name, 0)
            throw error
        }
        state.created.append(name)
        return path
    }

    private static func release(_ state: inout State) {
        PrivateDirectory.closeDescriptor(state.directoryFD)
        if state.sessionsFD >= 0 { PrivateDirectory.closeDescriptor(state.sessionsFD) }
        state.closed = true
    }

    /// The file an artifact is written to.
    private static func fileName(_ artifactId: String) -> String {
        "\(artifactId).bin"
    }

    /// The lowercase canonical form of an artifact id, which is safe as a file name.
    private static func canonicalID(_ text: String, field: String) throws(MaterializationError) -> String {
        guard text.utf8.count == 36, let uuid = UUID(uuidString: text) else {
            throw MaterializationError(.invalidReference, "field \(field): '\(text)' is not an artifact id")
        }
        return uuid.uuidString.lowercased()
    }

    /// `path` made absolute against the working directory, with `.` and `..` resolved textually.
    private static func absolute(_ path: String) -> String {
        let directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        return URL(fileURLWithPath: path, relativeTo: directory).standardizedFileURL.path
    }
}
