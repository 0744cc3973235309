/// Where notifications go: the `NOTIFY_SOCKET` of `sd_notify(3)`.
///
/// A path (`/run/systemd/notify`) names a socket in the file system; a
/// leading `@` names one in Linux's abstract namespace, whose address
/// begins with a NUL byte instead. Other forms (`vsock:` for virtual
/// machines) are refused: this server runs on the host it reports to.
public struct NotifySocketAddress: Equatable, Sendable {
    /// The bytes of `sun_path`, with the leading NUL of an abstract name and no trailing NUL.
    ///
    /// The address length to pass to `sendto(2)` is the offset of
    /// `sun_path` plus this count (plus one for the NUL a path needs, which
    /// a zeroed `sockaddr_un` already has).
    public let socketPathBytes: [UInt8]
    /// Whether the name is in the abstract namespace.
    public let isAbstract: Bool
    /// The variable's text, for messages.
    public let text: String

    /// The room in `sockaddr_un.sun_path` on Linux.
    public static let maximumPathBytes = 108

    /// Reads `NOTIFY_SOCKET` from `environment`.
    ///
    /// - Returns: `nil` when the variable is unset or empty: no manager wants notifications.
    /// - Throws: ``SystemdEnvironmentError`` when the value is neither a
    ///   path nor an abstract name, or too long for a socket address.
    public static func from(environment: [String: String]) throws(SystemdEnvironmentError) -> NotifySocketAddress? {
        guard let text = environment["NOTIFY_SOCKET"], !text.isEmpty else { return nil }
        let bytes = Array(text.utf8)
        let isAbstract = bytes.first == UInt8(ascii: "@")
        guard isAbstract || bytes.first == UInt8(ascii: "/") else {
            throw SystemdEnvironmentError(
                variable: "NOTIFY_SOCKET", reason: "neither a path nor an @abstract name: \(text)")
        }
        guard bytes.count > 1 else {
            throw SystemdEnvironmentError(variable: "NOTIFY_SOCKET", reason: "an empty name: \(text)")
        }
        // A path needs its terminating NUL inside sun_path; an abstract name does not.
        guard bytes.count + (isAbstract ? 0 : 1) <= maximumPathBytes else {
            throw SystemdEnvironmentError(
                variable: "NOTIFY_SOCKET", reason: "longer than a socket address holds: \(text)")
        }
        return NotifySocketAddress(
            socketPathBytes: isAbstract ? [0] + bytes.dropFirst() : bytes, isAbstract: isAbstract, text: text)
    }
}
