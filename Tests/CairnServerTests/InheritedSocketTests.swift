import Foundation
import SystemdProtocol
import Testing

@testable import CairnServer

#if canImport(Glibc)
    import Glibc
#endif

/// Adopting a socket handed over by the service manager, on real sockets.
@Suite struct InheritedSocketTests {
    /// A Unix socket bound at a fresh path; listening when asked.
    private static func unixSocket(type: Int32 = Int32(SOCK_STREAM.rawValue), listening: Bool) throws -> (
        CInt, String
    ) {
        let path = "/tmp/cairn-inherit-\(UUID().uuidString.prefix(8)).sock"
        let fd = socket(AF_UNIX, type, 0)
        try #require(fd >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        if listening { try #require(listen(fd, 8) == 0) }
        return (fd, path)
    }

    private static func activation(_ fd: CInt, name: String = "cairn.socket") -> SocketActivation {
        SocketActivation(descriptors: [.init(descriptor: fd, name: name)])
    }

    @Test func aListeningUnixStreamSocketIsAdoptedWithItsPath() throws {
        let (fd, path) = try Self.unixSocket(listening: true)
        defer { close(fd); unlink(path) }
        let inherited = try InheritedSocket.adopt(Self.activation(fd))
        #expect(inherited == InheritedSocket(descriptor: fd, path: path))
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
    }

    @Test func aSocketThatDoesNotListenIsRefused() throws {
        let (fd, path) = try Self.unixSocket(listening: false)
        defer { close(fd); unlink(path) }
        #expect {
            try InheritedSocket.adopt(Self.activation(fd, name: "odd"))
        } throws: { error in
            "\(error)" == "descriptor \(fd) (odd) from the service manager is not a listening Unix stream socket"
        }
    }

    @Test func aDatagramSocketOrAFileIsRefused() throws {
        let (datagram, path) = try Self.unixSocket(type: Int32(SOCK_DGRAM.rawValue), listening: false)
        defer { close(datagram); unlink(path) }
        #expect(throws: ServerError.self) { try InheritedSocket.adopt(Self.activation(datagram)) }
        let file = open("/dev/null", O_RDONLY)
        defer { close(file) }
        #expect(throws: ServerError.self) { try InheritedSocket.adopt(Self.activation(file)) }
    }

    @Test func onlyOneSocketIsTaken() throws {
        let two = SocketActivation(descriptors: [.init(descriptor: 3, name: "a"), .init(descriptor: 4, name: "b")])
        #expect {
            try InheritedSocket.adopt(two)
        } throws: { error in
            "\(error)" == "the service manager passed 2 sockets (a, b); cairn serve takes one"
        }
    }
}
