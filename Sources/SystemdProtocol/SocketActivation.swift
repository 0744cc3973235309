/// The listening sockets a service manager handed over (`sd_listen_fds(3)`).
///
/// A socket-activated service finds its sockets as descriptors 3, 4, …;
/// `LISTEN_FDS` says how many, `LISTEN_PID` for which process they are (a
/// child that inherited the variables must not take them), and
/// `LISTEN_FDNAMES` their names, separated by colons
/// (`FileDescriptorName=` in the socket unit, else the unit's name).
///
/// This type only reads the variables. It does not check that the
/// descriptors are sockets, set `FD_CLOEXEC`, or unset the variables: the
/// server does that where it adopts them.
public struct SocketActivation: Equatable, Sendable {
    /// The first descriptor passed (`SD_LISTEN_FDS_START`).
    public static let firstDescriptor: Int32 = 3

    /// One descriptor handed over.
    public struct Descriptor: Equatable, Sendable {
        /// The descriptor's number in this process.
        public let descriptor: Int32
        /// Its name from `LISTEN_FDNAMES`, or `"unknown"` (as systemd reports it) when none was given.
        public let name: String

        /// Describes descriptor `descriptor`, named `name`.
        public init(descriptor: Int32, name: String) {
            self.descriptor = descriptor
            self.name = name
        }
    }

    /// The descriptors in order, 3 first.
    public let descriptors: [Descriptor]

    /// Describes handed-over `descriptors`.
    public init(descriptors: [Descriptor]) {
        self.descriptors = descriptors
    }

    /// The variables the service manager sets for socket activation.
    public static let variables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]

    /// Reads the handed-over descriptors from `environment`.
    ///
    /// - Parameters:
    ///   - environment: the process's environment.
    ///   - processID: this process's id, compared with `LISTEN_PID`.
    /// - Returns: `nil` when the process was not socket-activated: no
    ///   `LISTEN_PID` or `LISTEN_FDS`, or `LISTEN_PID` names another process.
    /// - Throws: ``SystemdEnvironmentError`` when a variable is set but not
    ///   a number, `LISTEN_FDS` is not positive, or `LISTEN_FDNAMES` names
    ///   a different number of descriptors.
    public static func from(environment: [String: String], processID: Int32) throws(SystemdEnvironmentError)
        -> SocketActivation?
    {
        guard let listenPID = try environment.processID("LISTEN_PID"), let countText = environment["LISTEN_FDS"]
        else { return nil }
        guard listenPID == processID else { return nil }
        guard let count = Int32(countText), count > 0, count <= Int32.max - firstDescriptor else {
            throw SystemdEnvironmentError(variable: "LISTEN_FDS", reason: "not a positive count: \(countText)")
        }
        var names = Array(repeating: "unknown", count: Int(count))
        if let namesText = environment["LISTEN_FDNAMES"] {
            let given = namesText.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard given.count == names.count else {
                throw SystemdEnvironmentError(
                    variable: "LISTEN_FDNAMES",
                    reason: "names \(given.count) descriptors, LISTEN_FDS says \(count): \(namesText)")
            }
            names = given
        }
        return SocketActivation(
            descriptors: names.enumerated().map { Descriptor(descriptor: firstDescriptor + Int32($0), name: $1) })
    }
}
