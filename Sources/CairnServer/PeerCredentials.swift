import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Who is on the other end of a connection, from the kernel (SO_PEERCRED).
public struct Peer: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// The groups of the peer's user (its primary gid included), for group grants.
    public var groups: Set<UInt32>
    /// The user name, else `uid:N`; recorded as `stagedBy` and event actor.
    public var name: String

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.name = userName(uid: uid) ?? "uid:\(uid)"
        self.groups = groupsOf(uid: uid, primary: gid)
    }
}

/// The layout of Linux's `struct ucred`, which Glibc does not export
/// without _GNU_SOURCE.
struct UCred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

extension Peer {
    /// Reads the credentials of a connected Unix socket channel.
    static func of(_ channel: any Channel) -> EventLoopFuture<Peer> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(PeerError())
        }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { Peer(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }
}

struct PeerError: Error, CustomStringConvertible {
    var description: String { "the connection's peer credentials are not available" }
}

func userName(uid: UInt32) -> String? {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else {
        return nil
    }
    return String(cString: name)
}

func userID(named name: String) -> UInt32? {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return entry.pw_uid
}

func groupID(named name: String) -> UInt32? {
    var entry = group()
    var result: UnsafeMutablePointer<group>?
    var buffer = [CChar](repeating: 0, count: 16384)
    guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return entry.gr_gid
}

func groupsOf(uid: UInt32, primary: UInt32) -> Set<UInt32> {
    guard let name = userName(uid: uid) else { return [primary] }
    var count: Int32 = 64
    var groups = [gid_t](repeating: 0, count: Int(count))
    if getgrouplist(name, primary, &groups, &count) == -1 {
        groups = [gid_t](repeating: 0, count: Int(count))
        guard getgrouplist(name, primary, &groups, &count) != -1 else { return [primary] }
    }
    return Set(groups.prefix(Int(count))).union([primary])
}
