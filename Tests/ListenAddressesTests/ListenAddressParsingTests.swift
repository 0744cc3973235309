import ListenAddresses
import Testing

/// `--metrics-listen`'s and `--listen`'s address: what is read, what is refused, and which
/// addresses count as loopback.
struct ListenAddressParsingTests {
    @Test(arguments: [
        ("127.0.0.1:0", "127.0.0.1", 0, true),
        ("127.0.0.1:9464", "127.0.0.1", 9464, true),
        ("127.42.0.7:65535", "127.42.0.7", 65535, true),
        ("localhost:9464", "127.0.0.1", 9464, true),
        ("[::1]:9464", "::1", 9464, true),
        ("[0:0:0:0:0:0:0:1]:80", "::1", 80, true),
        ("0.0.0.0:9464", "0.0.0.0", 9464, false),
        ("192.0.2.10:9464", "192.0.2.10", 9464, false),
        ("[::]:9464", "::", 9464, false),
        ("[2001:DB8::1]:9464", "2001:db8::1", 9464, false),
        ("[::ffff:127.0.0.1]:9464", "::ffff:127.0.0.1", 9464, false),
    ])
    func reads(_ text: String, _ host: String, _ port: Int, _ loopback: Bool) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address.host == host)
        #expect(address.port == port)
        #expect(address.isLoopback == loopback)
    }

    @Test(arguments: [
        "", "127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:9464x",
        "127.0.0.1:123456", "127.0.0.256:80", "127.1:80", "example.org:80", "::1:80", "[::1]80", "[::1:80",
        "[127.0.0.1]:80", "[zz::1]:80", " 127.0.0.1:80",
    ])
    func refuses(_ text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }

    @Test func writesAnAuthority() throws {
        #expect(try ListenAddress(parsing: "localhost:9464").description == "127.0.0.1:9464")
        #expect(try ListenAddress(parsing: "[::1]:0").description == "[::1]:0")
    }
}
