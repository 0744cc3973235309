/// Why an export or an import (``TenantExport``, ``TenantImport``) stopped.
///
/// One shape for every failure of the bulk paths that is not the server's
/// own error (those stay ``CairnClientError/server(_:)``): a damaged or
/// unreadable export, a file that cannot be written, an import the server
/// would refuse as a whole. Match on ``code``; ``problems`` lists one line
/// per faulty item when there are several (damaged files, ids in use).
public struct BulkTransferError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ description: String) { self.description = description }

        /// The export is not a readable Cairn export: a bad index, a content file missing or not
        /// of its digest. Nothing was imported.
        public static let damagedExport = Code("damagedExport")
        /// Artifact ids of the export are in use by other artifacts of the tenant. Nothing was imported.
        public static let conflict = Code("conflict")
        /// The import would pass a quota of the tenant. Nothing was imported.
        public static let quotaExceeded = Code("quotaExceeded")
        /// The tenant changed under the export (every artifact of a content was deleted), or the
        /// server's answers do not add up; running it again gives a consistent result.
        public static let inconsistent = Code("inconsistent")
        /// A local file or directory could not be created, written or read.
        public static let file = Code("file")
    }

    /// The kind of failure.
    public let code: Code
    /// One line for people.
    public let message: String
    /// One line per faulty item, when the failure has several.
    public let problems: [String]

    /// A failure of `code`, described by `message`.
    public init(_ code: Code, _ message: String, problems: [String] = []) {
        self.code = code
        self.message = message
        self.problems = problems
    }

    public var description: String { message }
}
