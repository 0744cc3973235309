import CairnProviders
import Testing

@Suite struct OCIReferenceTests {
    static let hex = String(repeating: "0123456789abcdef", count: 4)

    @Test(arguments: [
        "busybox", "library/busybox", "docker.io/library/busybox:latest", "ghcr.io/org/img:1.0",
        "ghcr.io/org/img:1.0@sha256:\(hex)", "ghcr.io/org/img@sha256:\(hex)", "localhost:5000/a/b", "localhost/a",
        "localhost:5000/a/b:v1", "registry.example.com:443/team/app", "Registry.Example.COM/team/app",
        "a/b/c/d/e", "a.b/c", "foo_bar/baz__qux", "a-b---c/d.e", "img:" + String(repeating: "t", count: 128),
        "img:_tag", "img:V1.2-rc.3_x", "my-registry.io/x", "10.0.0.1:5000/x", "localhost:5000",
        String(repeating: "a", count: 255),
    ])
    func valid(_ text: String) {
        #expect(OCIReference.parse(text) != nil, "\(text)")
    }

    @Test(arguments: [
        "", "Busybox", "ghcr.io/Org/img", "ghcr.io/org/IMG:1", "img:" + String(repeating: "t", count: 129),
        "img:-tag", "img:.tag", "img:", "img@sha256:\(String(hex.dropLast()))", "img@sha256:\(hex)0",
        "img@sha256:\(hex.uppercased())", "img@sha512:\(hex)", "img@\(hex)", "img@", "a//b", "/a", "a/", "-a",
        "a-", "a..b", "a___b", "a_-b", "a.-b", "ghcr.io:/a", "ghcr.io:port/a", "-ghcr.io/a", "ghcr..io/a",
        "ghcr.io/", "a b", "img:tag with space", "img:tag:again", "img@sha256:\(hex)@sha256:\(hex)",
        String(repeating: "a", count: 256), "ghcr.io/" + String(repeating: "a", count: 248), "héllo",
    ])
    func invalid(_ text: String) {
        #expect(OCIReference.parse(text) == nil, "\(text)")
    }

    @Test func splitsComponents() throws {
        let reference = try #require(OCIReference.parse("ghcr.io/org/img:1.0@sha256:\(Self.hex)"))
        #expect(reference.registry == "ghcr.io")
        #expect(reference.repository == "org/img")
        #expect(reference.tag == "1.0")
        #expect(reference.digest == "sha256:\(Self.hex)")
        #expect(reference.name == "ghcr.io/org/img")
        #expect(reference.description == "ghcr.io/org/img:1.0@sha256:\(Self.hex)")
    }

    @Test func localhostWithPortIsARegistry() throws {
        let reference = try #require(OCIReference.parse("localhost:5000/a/b"))
        #expect(reference.registry == "localhost:5000")
        #expect(reference.repository == "a/b")
        #expect(reference.tag == nil)
        #expect(reference.digest == nil)
    }

    @Test func plainFirstComponentIsPath() throws {
        let reference = try #require(OCIReference.parse("org/img"))
        #expect(reference.registry == nil)
        #expect(reference.repository == "org/img")
    }
}
