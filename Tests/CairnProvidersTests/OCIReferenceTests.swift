import CairnProviders
import Testing

@Suite struct OCIReferenceTests {
    static let hex = String(repeating: "0123456789abcdef", count: 4)
    static let sha = "sha256:" + hex

    /// A reference that must parse, with the parts it must parse into.
    struct Parsed: Sendable, CustomTestStringConvertible {
        let text: String
        let registry: String?
        let repository: String
        var tag: String? = nil
        var digest: String? = nil
        var testDescription: String { text.count > 60 ? "\(text.prefix(40))… (\(text.count))" : text }
    }

    // MARK: - Valid references and their parts

    /// Which first component is the host: whenever it has a host's form and more follow.
    @Test(arguments: [
        Parsed(text: "busybox", registry: nil, repository: "busybox"),
        Parsed(text: "library/busybox", registry: "library", repository: "busybox"),
        Parsed(text: "org/team/img", registry: "org", repository: "team/img"),
        Parsed(text: "ghcr.io/org/img", registry: "ghcr.io", repository: "org/img"),
        Parsed(text: "localhost/img", registry: "localhost", repository: "img"),
        Parsed(text: "localhost:5000/a/b", registry: "localhost:5000", repository: "a/b"),
        Parsed(text: "localhost:5000", registry: nil, repository: "localhost", tag: "5000"),
        Parsed(text: "registry.internal:5000", registry: nil, repository: "registry.internal", tag: "5000"),
        Parsed(text: "Foo/bar", registry: "Foo", repository: "bar"),
        Parsed(text: "LOCALDOMAIN/library/debian", registry: "LOCALDOMAIN", repository: "library/debian"),
        Parsed(text: "Registry.Example.COM:443/team/app", registry: "Registry.Example.COM:443", repository: "team/app"),
        Parsed(text: "foo_bar.com/app", registry: nil, repository: "foo_bar.com/app"),
        Parsed(text: "foo_bar.com:8080", registry: nil, repository: "foo_bar.com", tag: "8080"),
        Parsed(text: "team/foo_bar.com:8080", registry: "team", repository: "foo_bar.com", tag: "8080"),
        Parsed(text: "a__b/c", registry: nil, repository: "a__b/c"),
        Parsed(text: "a-b---c/d.e", registry: "a-b---c", repository: "d.e"),
        Parsed(text: "xn--bcher-kva.example/app", registry: "xn--bcher-kva.example", repository: "app"),
        Parsed(text: "1.2.3.4/x", registry: "1.2.3.4", repository: "x"),
        Parsed(text: "10.0.0.1:5000/x:y", registry: "10.0.0.1:5000", repository: "x", tag: "y"),
        Parsed(text: "10.0.0.1", registry: nil, repository: "10.0.0.1"),
        Parsed(text: "host:007/x", registry: "host:007", repository: "x"),
        Parsed(text: "host:123456789/x", registry: "host:123456789", repository: "x"),
        Parsed(text: "a/b/c/d/e", registry: "a", repository: "b/c/d/e"),
    ])
    func hostIsTheFirstComponentWhenItCanBe(_ expected: Parsed) throws {
        try check(expected)
    }

    @Test(arguments: [
        Parsed(text: "[::1]/repo", registry: "[::1]", repository: "repo"),
        Parsed(text: "[::1]:5000/repo", registry: "[::1]:5000", repository: "repo"),
        Parsed(text: "[2001:db8::1]:5000/repo:tag", registry: "[2001:db8::1]:5000", repository: "repo", tag: "tag"),
        Parsed(text: "[2001:DB8::AB]/team/repo", registry: "[2001:DB8::AB]", repository: "team/repo"),
        Parsed(text: "[fd00:1:2:3:4:5:6:7]/r@\(sha)", registry: "[fd00:1:2:3:4:5:6:7]", repository: "r", digest: sha),
        Parsed(text: "[fe80::]:1/r:t@\(sha)", registry: "[fe80::]:1", repository: "r", tag: "t", digest: sha),
        Parsed(text: "[1]/r", registry: "[1]", repository: "r"),
        Parsed(text: "[:]/r", registry: "[:]", repository: "r"),
    ])
    func ipv6Hosts(_ expected: Parsed) throws {
        try check(expected)
    }

    @Test(arguments: [
        Parsed(text: "img:1.0", registry: nil, repository: "img", tag: "1.0"),
        Parsed(text: "img:V1.2-rc.3_X", registry: nil, repository: "img", tag: "V1.2-rc.3_X"),
        Parsed(text: "img:_tag", registry: nil, repository: "img", tag: "_tag"),
        Parsed(text: "img:9", registry: nil, repository: "img", tag: "9"),
        Parsed(text: "img:a..--__", registry: nil, repository: "img", tag: "a..--__"),
        Parsed(text: "img@\(sha)", registry: nil, repository: "img", digest: sha),
        Parsed(text: "ghcr.io/org/img:1.0@\(sha)", registry: "ghcr.io", repository: "org/img", tag: "1.0", digest: sha),
        Parsed(text: "example.com:8000/named@\(sha)", registry: "example.com:8000", repository: "named", digest: sha),
        Parsed(
            text: "img:" + String(repeating: "t", count: 128), registry: nil, repository: "img",
            tag: String(repeating: "t", count: 128)),
    ])
    func tagsAndDigests(_ expected: Parsed) throws {
        try check(expected)
    }

    @Test(arguments: [
        Parsed(text: String(repeating: "a", count: 255), registry: nil, repository: String(repeating: "a", count: 255)),
        Parsed(
            text: "example.com/" + String(repeating: "a", count: 255), registry: "example.com",
            repository: String(repeating: "a", count: 255)),
        Parsed(
            text: "[::1]:5000/" + String(repeating: "a", count: 255) + ":tag", registry: "[::1]:5000",
            repository: String(repeating: "a", count: 255), tag: "tag"),
        // 127 × "a/" then "a": 255 characters, of which the first "a" is the host.
        Parsed(
            text: String(repeating: "a/", count: 127) + "a", registry: "a",
            repository: String(repeating: "a/", count: 126) + "a"),
        Parsed(
            text: "team/" + String(repeating: "b/", count: 127) + "b", registry: "team",
            repository: String(repeating: "b/", count: 127) + "b"),
    ])
    func pathLimitLeavesTheHostOut(_ expected: Parsed) throws {
        try check(expected)
    }

    /// Single components, so no host can be taken: only the path-component rule applies.
    @Test(arguments: [
        "a", "0", "a1b2", "a.b", "a_b", "a__b", "a-b", "a---b", "a.b_c__d-e--f", "1.2.3", "a-1.b_2",
    ])
    func pathComponentSeparators(_ text: String) throws {
        let reference = try #require(OCIReference.parse(text))
        #expect(reference.registry == nil)
        #expect(reference.repository == text)
    }

    // MARK: - Invalid references

    @Test(arguments: [
        "", ":tag", "@\(sha)", ":tag@\(sha)", "/", "//", "a//b", "/a", "a/", "ghcr.io/", "ghcr.io//a",
        " img", "img ", "img\n", "a b", "héllo", "img\u{0}",
    ])
    func emptyPartsAndStrayCharacters(_ text: String) {
        #expect(OCIReference.parse(text) == nil)
    }

    @Test(arguments: [
        "a___b", "a_-b", "a-_b", "a.-b", "a-.b", "a..b", "a._b", "a_.b", "_a", "a_", ".a", "a.", "-a", "a-",
        "__a", "a__", "a+b", "a$b", "a%b",
    ])
    func invalidSeparators(_ text: String) {
        #expect(OCIReference.parse(text) == nil)
        #expect(OCIReference.parse("ghcr.io/\(text)") == nil)
        #expect(OCIReference.parse("ghcr.io/team/\(text):tag") == nil)
    }

    /// A host can be in any case; the path never.
    @Test(arguments: [
        "Busybox", "BUSYBOX", "Upper:tag", "FOO.com:5000", "ghcr.io/Org/img", "ghcr.io/org/IMG:1", "foo/Bar",
        "Upper/Case:1", "test:5000/Upper/lower:tag", "[::1]/Repo", "Foo_Bar/app",
    ])
    func uppercaseInThePath(_ text: String) {
        #expect(OCIReference.parse(text) == nil)
    }

    /// A first component that is neither a host nor a path component.
    @Test(arguments: [
        "-ghcr.io/a", "ghcr-.io/a", "ghcr..io/a", ".ghcr.io/a", "ghcr.io./a", "ghcr.io:/a", "ghcr.io:port/a",
        "ghcr.io:50:00/a", "ghcr.io:-1/a", "ghcr.io:+1/a", "ho_st:5000/a", "host.:5000/a", ":5000/a",
        "ho$t/a", "a.b:c/d",
    ])
    func invalidHosts(_ text: String) {
        #expect(OCIReference.parse(text) == nil)
    }

    @Test(arguments: [
        "[::1", "[::1]", "[::1]:5000", "[::1]:tag", "[::1/repo", "::1]/repo", "[]/repo", "[]:5000/repo",
        "[g::1]/repo", "[::1]x/repo", "[::1]:/repo", "[::1]:port/repo", "[::1]:5000:1/repo", "[[::1]]/repo",
        "[::1]]/repo", "[fe80::1%eth0]:5000/repo", "[::ffff:1.2.3.4]/repo", "[ ::1]/repo", "team/[::1]/repo",
        "[::1]/[::1]",
    ])
    func invalidIPv6Hosts(_ text: String) {
        #expect(OCIReference.parse(text) == nil)
    }

    @Test(arguments: [
        "img:", "img:-tag", "img:.tag", "img:tag with space", "img:tág", "img:tag+1", "img:tag/x",
        "img:" + String(repeating: "t", count: 129), "img:tag:again", "img::tag", "a/b:c/d", "ghcr.io:5000/img:",
    ])
    func invalidTags(_ text: String) {
        #expect(OCIReference.parse(text) == nil)
    }

    /// Only `sha256:` with 64 lowercase hex digits; distribution also takes other registered algorithms.
    @Test(arguments: [
        "img@", "img@\(hex)", "img@sha256", "img@sha256:", "img@sha256:\(hex.dropLast())", "img@sha256:\(hex)0",
        "img@sha256:\(hex.uppercased())", "img@SHA256:\(hex)", "img@sha256:" + String(repeating: "g", count: 64),
        "img@sha512:\(hex)\(hex)", "img@sha384:\(hex)\(hex.prefix(32))", "img@sha256+b64:\(hex)",
        "img@\(sha)@\(sha)", "img@@\(sha)", "img@\(sha):tag", "img@\(sha) ", "img@sha256:\(hex)\n",
    ])
    func invalidDigests(_ text: String) {
        #expect(OCIReference.parse(text) == nil)
    }

    @Test(arguments: [
        String(repeating: "a", count: 256), "example.com/" + String(repeating: "a", count: 256),
        "[::1]:5000/" + String(repeating: "a", count: 256) + ":tag",
        "team/" + String(repeating: "b/", count: 128) + "b",
        "team/" + String(repeating: "b/", count: 127) + "bc", "domain/" + String(repeating: "a", count: 256) + ":tag",
    ])
    func pathOverTheLimit(_ text: String) {
        #expect(OCIReference.parse(text) == nil)
    }

    // MARK: - The model

    @Test func nameAndDescriptionWriteTheReferenceBack() throws {
        let reference = try #require(OCIReference.parse("[2001:db8::1]:5000/team/app:v2@\(Self.sha)"))
        #expect(reference.name == "[2001:db8::1]:5000/team/app")
        #expect(reference.description == "[2001:db8::1]:5000/team/app:v2@\(Self.sha)")
        let bare = try #require(OCIReference.parse("foo_bar.com/app"))
        #expect(bare.name == "foo_bar.com/app")
        #expect(bare.description == "foo_bar.com/app")
    }

    @Test func limitsAreTheDocumentedOnes() {
        #expect(OCIReference.maximumNameLength == 255)
        #expect(OCIReference.maximumTagLength == 128)
    }

    private func check(_ expected: Parsed) throws {
        let reference = try #require(OCIReference.parse(expected.text))
        #expect(reference.registry == expected.registry)
        #expect(reference.repository == expected.repository)
        #expect(reference.tag == expected.tag)
        #expect(reference.digest == expected.digest)
        #expect(reference.description == expected.text)
    }
}
