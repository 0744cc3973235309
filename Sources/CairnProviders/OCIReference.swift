/// A parsed OCI image reference: `[registry[:port]/]path[:tag][@sha256:hex]`.
///
/// Parsing follows the grammar of distribution's `reference` package, without
/// normalization: no `docker.io` or `library/` is added and no default tag is
/// assumed. Only `sha256` digests are accepted. IPv6 registry hosts are not.
public struct OCIReference: Sendable, Hashable, CustomStringConvertible {
    /// The registry host with optional `:port`, when the first component names one.
    public let registry: String?
    /// The slash-separated repository path, always lowercase.
    public let repository: String
    /// The tag, when present.
    public let tag: String?
    /// The digest as `sha256:` followed by 64 lowercase hex digits, when present.
    public let digest: String?

    /// The longest permitted name (registry and repository together).
    public static let maximumNameLength = 255
    /// The longest permitted tag.
    public static let maximumTagLength = 128

    /// The name: registry and repository joined with `/`.
    public var name: String { registry.map { "\($0)/\(repository)" } ?? repository }

    /// The reference written back in canonical form.
    public var description: String {
        name + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
    }

    /// Parses a reference, returning `nil` when it breaks the grammar.
    ///
    /// The first path component is a registry when it contains `.` or `:` or is
    /// `localhost`; every other component must be lowercase alphanumerics joined
    /// by `.`, `_`, `__` or runs of `-`.
    ///
    /// - Parameter text: The reference, e.g. `ghcr.io/org/img:1.0@sha256:…`.
    public static func parse(_ text: String) -> OCIReference? {
        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let candidate = rest[rest.index(after: at)...]
            guard isValidDigest(candidate) else { return nil }
            digest = String(candidate)
            rest = rest[..<at]
        }
        var tag: String?
        let lastSlash = rest.lastIndex(of: "/")
        let tagSearchStart = lastSlash.map { rest.index(after: $0) } ?? rest.startIndex
        if let colon = rest[tagSearchStart...].lastIndex(of: ":") {
            let candidate = rest[rest.index(after: colon)...]
            guard isValidTag(candidate) else { return nil }
            tag = String(candidate)
            rest = rest[..<colon]
        }
        guard !rest.isEmpty, rest.utf8.count <= maximumNameLength else { return nil }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        var registry: String?
        if components.count > 1, let first = components.first,
            first.contains(".") || first.contains(":") || first == "localhost"
        {
            guard isValidRegistry(first) else { return nil }
            registry = String(first)
            components.removeFirst()
        }
        guard components.allSatisfy(isValidPathComponent) else { return nil }
        return OCIReference(
            registry: registry, repository: components.joined(separator: "/"), tag: tag, digest: digest)
    }

    private init(registry: String?, repository: String, tag: String?, digest: String?) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    private static func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
    private static func isAlnum(_ b: UInt8) -> Bool { isLowerAlnum(b) || (b >= 0x41 && b <= 0x5A) }
    private static func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x5F }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// `sha256:` followed by exactly 64 lowercase hex digits.
    private static func isValidDigest(_ text: Substring) -> Bool {
        guard text.hasPrefix("sha256:") else { return false }
        let hex = text.utf8.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// `[\w][\w.-]{0,127}`.
    private static func isValidTag(_ text: Substring) -> Bool {
        let bytes = text.utf8
        guard let first = bytes.first, isWord(first), bytes.count <= maximumTagLength else { return false }
        return bytes.dropFirst().allSatisfy { isWord($0) || $0 == 0x2E || $0 == 0x2D }
    }

    /// `[a-z0-9]+` runs joined by `.`, `_`, `__` or `-`+.
    private static func isValidPathComponent(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else {
            return false
        }
        var index = 0
        while index < bytes.count {
            if isLowerAlnum(bytes[index]) {
                index += 1
                continue
            }
            // A separator: scan it whole, then it must be followed by an alphanumeric (the last byte is one).
            let start = index
            while index < bytes.count, !isLowerAlnum(bytes[index]) { index += 1 }
            let separator = bytes[start..<index]
            let valid =
                separator.elementsEqual([0x2E]) || separator.elementsEqual([0x5F])
                || separator.elementsEqual([0x5F, 0x5F]) || separator.allSatisfy { $0 == 0x2D }
            guard valid else { return false }
        }
        return true
    }

    /// `domain-component ('.' domain-component)* (':' [0-9]+)?`, components `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`.
    private static func isValidRegistry(_ text: Substring) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].utf8.allSatisfy(isDigit) else { return false }
        }
        let labels = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            let bytes = label.utf8
            guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
            return bytes.allSatisfy { isAlnum($0) || $0 == 0x2D }
        }
    }
}
