import SystemdProtocol
import Testing

@Suite struct NotifySocketAddressTests {
    @Test func aPathKeepsItsBytes() throws {
        let address = try #require(try NotifySocketAddress.from(environment: ["NOTIFY_SOCKET": "/run/systemd/notify"]))
        #expect(address.socketPathBytes == Array("/run/systemd/notify".utf8))
        #expect(!address.isAbstract)
    }

    @Test func anAbstractNameBeginsWithNUL() throws {
        let address = try #require(try NotifySocketAddress.from(environment: ["NOTIFY_SOCKET": "@cairn/notify"]))
        #expect(address.socketPathBytes == [0] + Array("cairn/notify".utf8))
        #expect(address.isAbstract)
        #expect(address.text == "@cairn/notify")
    }

    @Test func unsetOrEmptyMeansNoManager() throws {
        #expect(try NotifySocketAddress.from(environment: [:]) == nil)
        #expect(try NotifySocketAddress.from(environment: ["NOTIFY_SOCKET": ""]) == nil)
    }

    @Test(arguments: ["relative/path", "vsock:2:1234", "@", "/"])
    func unusableAddressesAreRefused(value: String) {
        #expect(throws: SystemdEnvironmentError.self) {
            try NotifySocketAddress.from(environment: ["NOTIFY_SOCKET": value])
        }
    }

    @Test func theLongestAddressesThatFit() throws {
        // A path needs room for its NUL; an abstract name does not.
        let path = "/" + String(repeating: "p", count: 106)
        #expect(try NotifySocketAddress.from(environment: ["NOTIFY_SOCKET": path]) != nil)
        #expect(throws: SystemdEnvironmentError.self) {
            try NotifySocketAddress.from(environment: ["NOTIFY_SOCKET": path + "p"])
        }
        let abstract = "@" + String(repeating: "a", count: 107)
        #expect(try NotifySocketAddress.from(environment: ["NOTIFY_SOCKET": abstract])?.socketPathBytes.count == 108)
        #expect(throws: SystemdEnvironmentError.self) {
            try NotifySocketAddress.from(environment: ["NOTIFY_SOCKET": abstract + "a"])
        }
    }
}
