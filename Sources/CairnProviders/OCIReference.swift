/// A parsed OCI image reference: `[host[:port]/]path[:tag][@sha256:hex]`.
///
/// Parsing follows `Parse` of distribution's `reference` package rule for rule, without its
/// normalization: no `docker.io` or `library/` is added, no default tag is assumed, and the host is
/// kept exactly as written. The grammar, in the package's own terms:
///
/// ```
/// reference        := name [ ":" tag ] [ "@" digest ]
/// name             := [ host [ ":" port ] "/" ] path
/// host             := domain-name | "[" [a-fA-F0-9:]+ "]"
/// domain-name      := domain-component ( "." domain-component )*
/// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9] [a-zA-Z0-9-]* [a-zA-Z0-9]
/// port             := [0-9]+
/// path             := path-component ( "/" path-component )*      ; at most 255 characters
/// path-component   := [a-z0-9]+ ( separator [a-z0-9]+ )*
/// separator        := "." | "_" | "__" | "-"+
/// tag              := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
/// digest           := "sha256:" [a-f0-9]{64}
/// ```
///
/// The one deliberate difference from distribution is the digest: only `sha256` with exactly 64
/// lowercase hex digits is accepted, where distribution also takes any other algorithm its caller
/// has registered (`sha384`, `sha512`, …).
public struct OCIReference: Sendable, Hashable, CustomStringConvertible {
    /// The host with optional `:port`, exactly as written, when the name has one.
    ///
    /// The first component of a name with more than one component is the host whenever it has
    /// the form of one: a domain name in any case (`ghcr.io`, `Foo`, `library`, `localhost`), an
    /// IPv4 address, or an IPv6 address in brackets (`[::1]`), each with an optional `:port`.
    /// No dot, port or `localhost` is needed, so `library/busybox` has the host `library`. A first
    /// component that is not a host (`foo_bar.com` has an `_`) belongs to the path, and a name
    /// with one component has no host: in `localhost:5000`, `5000` is the tag.
    public let registry: String?
    /// The slash-separated repository path, always lowercase.
    public let repository: String
    /// The tag, when present.
    public let tag: String?
    /// The digest as `sha256:` followed by 64 lowercase hex digits, when present.
    public let digest: String?

    /// The longest permitted repository path, in characters; the host does not count.
    public static let maximumNameLength = 255
    /// The longest permitted tag, in characters.
    public static let maximumTagLength = 128

    /// The name: registry and repository joined with `/`.
    public var name: String { registry.map { "\($0)/\(repository)" } ?? repository }

    /// The reference written back in canonical form: `name[:tag][@digest]`, the text it was parsed from.
    public var description: String {
        name + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
    }

    /// Parses a reference, returning `nil` when it breaks the grammar.
    ///
    /// Everything outside the grammar is refused: an empty text, uppercase in the path (a host may
    /// have any case), an empty component, a path over ``maximumNameLength`` characters, a tag over
    /// ``maximumTagLength``, a second `@` or `:`, a digest other than `sha256:` and 64 lowercase hex
    /// digits, whitespace and non-ASCII characters.
    ///
    /// - Parameter text: The reference, e.g. `ghcr.io/org/img:1.0@sha256:…` or `[::1]:5000/img`.
    public static func parse(_ text: String) -> OCIReference? {
        let bytes = Array(text.utf8)
        // Neither a name nor a tag holds `@`, so the first `@` starts the digest.
        var nameAndTag = bytes[...]
        var digest: Bytes?
        if let at = bytes.firstIndex(of: ASCII.at) {
            nameAndTag = bytes[..<at]
            digest = bytes[(at + 1)...]
        }
        // The last path component holds no `:`, so a `:` after the last `/` starts the tag.
        var name = nameAndTag
        var tag: Bytes?
        let lastComponent = nameAndTag.lastIndex(of: ASCII.slash).map { $0 + 1 } ?? nameAndTag.startIndex
        if let colon = nameAndTag[lastComponent...].firstIndex(of: ASCII.colon) {
            name = nameAndTag[..<colon]
            tag = nameAndTag[(colon + 1)...]
        }
        guard digest.map(isDigest) ?? true, tag.map(isTag) ?? true, let (registry, path) = splitName(name) else {
            return nil
        }
        return OCIReference(
            registry: registry.map(string), repository: string(path), tag: tag.map(string),
            digest: digest.map(string))
    }

    private init(registry: String?, repository: String, tag: String?, digest: String?) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    private typealias Bytes = ArraySlice<UInt8>

    private enum ASCII {
        static let at = UInt8(ascii: "@")
        static let colon = UInt8(ascii: ":")
        static let slash = UInt8(ascii: "/")
        static let dot = UInt8(ascii: ".")
        static let underscore = UInt8(ascii: "_")
        static let hyphen = UInt8(ascii: "-")
        static let openBracket = UInt8(ascii: "[")
        static let closeBracket = UInt8(ascii: "]")
    }

    private static func string(_ bytes: Bytes) -> String { String(decoding: bytes, as: UTF8.self) }

    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    private static func isLower(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
    private static func isUpper(_ b: UInt8) -> Bool { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") }
    private static func isLowerAlnum(_ b: UInt8) -> Bool { isLower(b) || isDigit(b) }
    private static func isAlnum(_ b: UInt8) -> Bool { isLowerAlnum(b) || isUpper(b) }
    private static func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == ASCII.underscore }
    private static func isLowerHex(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
    }
    private static func isHex(_ b: UInt8) -> Bool {
        isLowerHex(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
    }

    /// The pieces of `text` between `separator`s, empty pieces included.
    private static func pieces(_ text: Bytes, by separator: UInt8) -> [Bytes] {
        text.split(separator: separator, omittingEmptySubsequences: false)
    }

    /// `name := [host [":" port] "/"] path`: the first of several components is the host when it
    /// can be one (distribution's expression tries the host first); otherwise it is path.
    private static func splitName(_ name: Bytes) -> (registry: Bytes?, path: Bytes)? {
        var registry: Bytes?
        var path = name
        if let slash = name.firstIndex(of: ASCII.slash), isHostAndPort(name[..<slash]) {
            registry = name[..<slash]
            path = name[(slash + 1)...]
        }
        guard isPath(path), path.count <= maximumNameLength else { return nil }
        return (registry, path)
    }

    /// `host [":" port]`.
    private static func isHostAndPort(_ text: Bytes) -> Bool {
        var host = text
        if text.first == ASCII.openBracket {
            // An IPv6 address holds `:` itself; its port follows the closing bracket.
            if let close = text.firstIndex(of: ASCII.closeBracket), close + 1 < text.endIndex {
                guard text[close + 1] == ASCII.colon, isPort(text[(close + 2)...]) else { return false }
                host = text[...close]
            }
            return isIPv6Address(host)
        }
        if let colon = text.firstIndex(of: ASCII.colon) {
            guard isPort(text[(colon + 1)...]) else { return false }
            host = text[..<colon]
        }
        return isDomainName(host)
    }

    /// `port := [0-9]+`, any number of digits.
    private static func isPort(_ text: Bytes) -> Bool { !text.isEmpty && text.allSatisfy(isDigit) }

    /// `"[" [a-fA-F0-9:]+ "]"`: no zone (`%eth0`), no embedded IPv4 address.
    private static func isIPv6Address(_ text: Bytes) -> Bool {
        guard text.count > 2, text.first == ASCII.openBracket, text.last == ASCII.closeBracket else { return false }
        return text.dropFirst().dropLast().allSatisfy { isHex($0) || $0 == ASCII.colon }
    }

    /// `domain-component ("." domain-component)*`; an IPv4 address is one too.
    private static func isDomainName(_ text: Bytes) -> Bool {
        pieces(text, by: ASCII.dot).allSatisfy(isDomainComponent)
    }

    /// Letters of either case, digits and inner `-`: `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`.
    private static func isDomainComponent(_ text: Bytes) -> Bool {
        guard let first = text.first, let last = text.last, isAlnum(first), isAlnum(last) else { return false }
        return text.allSatisfy { isAlnum($0) || $0 == ASCII.hyphen }
    }

    /// `path-component ("/" path-component)*`.
    private static func isPath(_ text: Bytes) -> Bool {
        pieces(text, by: ASCII.slash).allSatisfy(isPathComponent)
    }

    /// `[a-z0-9]+ (separator [a-z0-9]+)*`: runs of lowercase alphanumerics, each run between two
    /// of them one whole separator.
    private static func isPathComponent(_ text: Bytes) -> Bool {
        guard let first = text.first, let last = text.last, isLowerAlnum(first), isLowerAlnum(last) else {
            return false
        }
        var rest = text
        while let start = rest.firstIndex(where: { !isLowerAlnum($0) }) {
            let end = rest[start...].firstIndex(where: isLowerAlnum) ?? rest.endIndex
            guard isSeparator(rest[start..<end]) else { return false }
            rest = rest[end...]
        }
        return true
    }

    /// `separator := "." | "_" | "__" | "-"+`.
    private static func isSeparator(_ text: Bytes) -> Bool {
        text.elementsEqual([ASCII.dot]) || text.elementsEqual([ASCII.underscore])
            || text.elementsEqual([ASCII.underscore, ASCII.underscore])
            || (!text.isEmpty && text.allSatisfy { $0 == ASCII.hyphen })
    }

    /// `tag := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}`.
    private static func isTag(_ text: Bytes) -> Bool {
        guard let first = text.first, isWord(first), text.count <= maximumTagLength else { return false }
        return text.allSatisfy { isWord($0) || $0 == ASCII.dot || $0 == ASCII.hyphen }
    }

    /// `digest := "sha256:" [a-f0-9]{64}`; other algorithms are refused on purpose.
    private static func isDigest(_ text: Bytes) -> Bool {
        let algorithm = Array("sha256:".utf8)
        guard text.starts(with: algorithm) else { return false }
        let hex = text.dropFirst(algorithm.count)
        return hex.count == 64 && hex.allSatisfy(isLowerHex)
    }
}
