import ListenAddresses
import Testing

@Suite struct ListenAddressTests {
    @Test func parsesAddressesAndPorts() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress(parsing: "localhost:0") == ListenAddress(host: "127.0.0.1", port: 0))
        #expect(try ListenAddress(parsing: "[::1]:65535") == ListenAddress(host: "::1", port: 65535))
        #expect(try ListenAddress(parsing: "0.0.0.0:80").authority == "0.0.0.0:80")
        #expect(try ListenAddress(parsing: "[::1]:9").authority == "[::1]:9")
    }

    @Test(arguments: [
        "", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:8o", "example.com:80",
        "256.0.0.1:80", "1.2.3:80", "[::1]", "[::1]80", "[zz]:80", "::1:80",
    ])
    func refusesWhatIsNotAnAddress(text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }

    @Test func knowsLoopback() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:1").isLoopback)
        #expect(try ListenAddress(parsing: "127.3.4.5:1").isLoopback)
        #expect(try ListenAddress(parsing: "[::1]:1").isLoopback)
        #expect(try !ListenAddress(parsing: "0.0.0.0:1").isLoopback)
        #expect(try !ListenAddress(parsing: "192.168.1.2:1").isLoopback)
        #expect(try !ListenAddress(parsing: "[::]:1").isLoopback)
    }
}
