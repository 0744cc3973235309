/// A broken invariant, with what is needed to replay it: the seed, the
/// connection, the unit and the request bytes that triggered it.
public struct FuzzFailure: Error, Sendable, CustomStringConvertible {
    /// The run's seed.
    public var seed: UInt64
    /// The fuzzing connection (its index), or `nil` for the control connection and the set-up.
    public var connection: Int?
    /// The unit whose line the failure is about, and what the generator made it as.
    public var unit: Int?
    /// What the generator made the unit as.
    public var label: String?
    /// The request line (an excerpt) and the bytes of its unit.
    public var request: [UInt8]?
    /// Every byte of the unit (line and raw bytes), when it is more than the line.
    public var unitBytes: [UInt8]?
    /// What went wrong.
    public var problem: String
    /// How to run the same sequence again; `cairn-fuzz` with the seed and
    /// the connection when `nil`.
    public var replay: String?

    /// A failure; everything but the seed and the problem is optional.
    public init(
        seed: UInt64, connection: Int? = nil, unit: Int? = nil, label: String? = nil, request: [UInt8]? = nil,
        unitBytes: [UInt8]? = nil, problem: String
    ) {
        self.seed = seed
        self.connection = connection
        self.unit = unit
        self.label = label
        self.request = request
        self.unitBytes = unitBytes
        self.problem = problem
    }

    /// The failure with its replay line, for a test log or the terminal.
    public var description: String {
        var text = "cairn-fuzz: \(problem)\n  seed: \(seed)"
        if let connection { text += ", connection \(connection)" }
        if let unit { text += ", unit \(unit)" }
        if let label { text += "\n  unit: \(label)" }
        if let request, !request.isEmpty { text += "\n  request line: \(request.escapedForMessage(limit: 1500))" }
        if let unitBytes, unitBytes != request.map({ $0 + [0x0A] }) {
            text += "\n  unit bytes: \(unitBytes.escapedForMessage(limit: 1500))"
        }
        if let replay {
            text += "\n  replay: \(replay)"
        } else {
            text += "\n  replay: cairn-fuzz --seed \(seed)"
            if let connection { text += " --first-connection \(connection) --connections 1" }
        }
        return text
    }
}
