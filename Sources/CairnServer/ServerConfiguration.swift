import CairnStore
import Foundation

/// Settings of `cairn serve`.
public struct ServerConfiguration: Sendable {
    /// Limits announced by `system.hello` and enforced on every request.
    public struct Limits: Sendable, Equatable {
        /// The longest request line, in bytes.
        public var maxRequestBytes: Int = 16 << 20
        /// The most decoded bytes in one `uploads.append` or `artifacts.read`.
        public var maxChunkBytes: Int = 4 << 20
        /// The largest artifact.
        public var maxArtifactBytes: UInt64 = 4 << 30
        /// The most a `blobs.verify` call checks, whatever `maxBytes` it
        /// asks for (it still checks at least one blob), so that one call
        /// takes seconds, not the minutes a whole large store would.
        public var maxVerifyBytesPerCall: UInt64 = 4 << 30

        public init() {}
    }

    /// The data directory: the store, `access.json`, `providers.d/`.
    public var dataDirectory: String
    /// Where the socket is created.
    public var socketPath: String
    /// A listening socket handed over by the service manager: when set, the
    /// server accepts on it, and neither creates nor removes ``socketPath``.
    public var inheritedSocket: InheritedSocket?
    /// The access policy file; `<data-dir>/access.json` when `nil`.
    public var accessPolicyPath: String?
    public var limits = Limits()
    /// A connection on which nothing moves for this long (no request
    /// arrives and no response write completes) is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// How often idle uploads and unread backup snapshots are expired.
    public var uploadExpiryInterval: Duration = .seconds(600)
    /// A backup snapshot (`backup.begin`) nobody reads for this long is removed.
    public var snapshotIdleTimeout: Duration = .seconds(900)
    /// The store's own settings (its `maxArtifactBytes` follows ``Limits``).
    public var store = ArtifactStore.Configuration()

    public init(dataDirectory: String, socketPath: String? = nil) {
        self.dataDirectory = dataDirectory
        self.socketPath = socketPath ?? (dataDirectory as NSString).appendingPathComponent("cairn.sock")
    }

    /// The data directory chosen as the contract says: `--data-dir`, else
    /// `$CAIRN_DATA_DIR`, else `$HOME/.local/share/cairn`.
    public static func defaultDataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let dir = environment["CAIRN_DATA_DIR"], !dir.isEmpty { return dir }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".local/share/cairn")
    }

    /// The store: `<data-dir>/store`.
    public var storeDirectory: String { (dataDirectory as NSString).appendingPathComponent("store") }
    /// Data-defined provider definitions: `<data-dir>/providers.d/*.json`.
    public var providersDirectory: String { (dataDirectory as NSString).appendingPathComponent("providers.d") }
    /// Backup snapshots taken over the socket: `<data-dir>/snapshots`.
    public var snapshotsDirectory: String { (dataDirectory as NSString).appendingPathComponent("snapshots") }

    /// The configuration files a backup carries beside the store, as the
    /// offline `cairn backup --data-dir` copies them: the access policy the
    /// server uses and `providers.d/*.json`, those that exist.
    func backupConfigurationFiles() -> [BackupSnapshots.ConfigurationFile] {
        var files: [BackupSnapshots.ConfigurationFile] = []
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: resolvedAccessPolicyPath, isDirectory: &isDirectory),
            !isDirectory.boolValue
        {
            files.append(.init(source: resolvedAccessPolicyPath, path: "config/access.json"))
        }
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: providersDirectory))?
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted() ?? []
        for name in names {
            files.append(
                .init(
                    source: (providersDirectory as NSString).appendingPathComponent(name),
                    path: "config/providers.d/\(name)"))
        }
        return files
    }

    var resolvedAccessPolicyPath: String {
        accessPolicyPath ?? (dataDirectory as NSString).appendingPathComponent("access.json")
    }
}
