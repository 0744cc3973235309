/// A variable set by the service manager that cannot be read.
///
/// The variables are the service manager's side of the protocol: a value
/// that does not parse means the process was started wrongly, and the
/// caller should stop with this message rather than guess.
public struct SystemdEnvironmentError: Error, Equatable, CustomStringConvertible {
    /// The variable, e.g. `LISTEN_FDS`.
    public let variable: String
    /// What is wrong with its value, for an operator.
    public let reason: String

    /// Creates an error about `variable`.
    public init(variable: String, reason: String) {
        self.variable = variable
        self.reason = reason
    }

    public var description: String { "\(variable): \(reason)" }
}

extension [String: String] {
    /// The value of `variable` as a process id, or `nil` when unset.
    func processID(_ variable: String) throws(SystemdEnvironmentError) -> Int32? {
        guard let text = self[variable] else { return nil }
        guard let value = Int32(text), value > 0 else {
            throw SystemdEnvironmentError(variable: variable, reason: "not a process id: \(text)")
        }
        return value
    }
}
