import CairnDigest
import CairnProtocol

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One fuzzing connection's side of the conversation, without I/O: it
/// makes rounds of units, knows from the ``WireModel`` which answers each
/// round must get, and checks what the connection sends back
/// (``AnswerChecker``), in order.
///
/// A driver sends each ``Round``'s bytes (ending its input when the round
/// says so), passes every byte it reads to ``received(_:)``, and reports
/// the end of the connection with ``connectionClosed()``; it then goes on
/// with a new connection. The session learns ids and offsets from the
/// answers (``FuzzWorld``), so later requests reach deeper.
public struct FuzzSession: Sendable {
    /// What the session is for.
    public struct Configuration: Sendable {
        /// The run's seed (the session draws from its connection's stream of it).
        public var seed: UInt64
        /// The connection's index; also its stream of the seed.
        public var connection: Int
        /// Who answers the requests carried out: the server, or a test with canned replies.
        public var replies: AnswerChecker.Replies
        /// How many units a round has.
        public var unitsPerRound: ClosedRange<Int> = 1...16
        /// What expensive units the session may send.
        public var budget: UnitGenerator.Budget
        /// In how many rounds in a hundred the client ends its input and reconnects.
        public var endInputPercent = 3
        /// In how many rounds in a hundred the client closes the connection without reading the answers.
        public var abandonPercent = 1

        /// A configuration with the default round sizes and rates.
        public init(
            seed: UInt64, connection: Int, replies: AnswerChecker.Replies, budget: UnitGenerator.Budget
        ) {
            self.seed = seed
            self.connection = connection
            self.replies = replies
            self.budget = budget
        }
    }

    /// Bytes to send and what happens after them.
    public struct Round: Sendable {
        /// What to send, in order.
        public var bytes: [UInt8]
        /// The client ends its input (shuts down writing) after the bytes;
        /// the server answers what it read and closes.
        public var endsInput: Bool
        /// The server closes the connection once it has answered.
        public var expectsClose: Bool
        /// How many units the round holds.
        public var unitCount: Int
        /// The client closes the connection as soon as the bytes are sent,
        /// without reading the answers (then calls ``FuzzSession/connectionAbandoned()``).
        public var abandons = false
    }

    /// What the session is for.
    public let configuration: Configuration
    /// The generator, with the world as the session has learned it.
    public private(set) var generator: UnitGenerator
    private var model: WireModel
    private var checker: AnswerChecker
    private var queue: [ExpectedAnswer] = []
    private var head = 0
    private var expectingClose = false
    /// The last units made, by number, for failure messages.
    private var recent: [(number: Int, unit: FuzzUnit)] = []
    /// Units made so far.
    public private(set) var unitCount = 0
    /// Answers checked so far.
    public private(set) var answerCount = 0
    /// Connections ended so far.
    public private(set) var closedConnections = 0
    /// How often each method got a result (`ok`) or each error code, and
    /// how often the connection itself answered each error: what the run
    /// reached.
    public private(set) var outcomes: [String: Int] = [:]

    /// A session that starts on a new connection.
    public init(configuration: Configuration, world: FuzzWorld) {
        self.configuration = configuration
        generator = UnitGenerator(
            seed: FuzzRandom.derive(configuration.seed, stream: UInt64(configuration.connection)), world: world,
            tag: "c\(configuration.connection)", budget: configuration.budget)
        model = WireModel(limits: world.limits)
        checker = AnswerChecker(replies: configuration.replies, limits: world.limits)
    }

    /// Whether every answer owed so far has been checked and nothing else arrived.
    public var isAnswered: Bool { head == queue.count && !checker.hasUnreadBytes }

    /// Answers owed and not yet received.
    public var owedAnswers: Int { queue.count - head }

    /// The next round: up to `maxUnits` units (at least one).
    public mutating func nextRound(maxUnits: Int) -> Round {
        var bytes: [UInt8] = []
        let count = min(generator.random.within(configuration.unitsPerRound), max(maxUnits, 1))
        var made = 0
        while made < count {
            made += 1
            unitCount += 1
            let unit = generator.next()
            model.currentUnit = unitCount
            if let line = unit.validLine { model.register(validLine: line) }
            model.feed(unit.bytes)
            model.forgetValidLines()
            bytes += unit.bytes
            // Kept for messages only: the first bytes are enough.
            var kept = unit
            if kept.bytes.count > 4096 { kept.bytes = Array(kept.bytes.prefix(4096)) }
            kept.validLine = nil
            recent.append((unitCount, kept))
            if recent.count > 64 { recent.removeFirst(recent.count - 64) }
            if model.isClosed { break }
        }
        if head > 0 && head == queue.count {
            queue.removeAll()
            head = 0
        }
        queue += model.takeExpected()
        var endsInput = false
        let abandons = generator.random.percent(configuration.abandonPercent)
        if !model.isClosed {
            let stuck = (model.pendingAttachmentBytes ?? 0) > 256 << 10
            endsInput = generator.random.percent(configuration.endInputPercent) || stuck
            if endsInput { model.endOfInput() }
        }
        expectingClose = model.isClosed
        return Round(
            bytes: bytes, endsInput: endsInput, expectsClose: expectingClose, unitCount: made, abandons: abandons)
    }

    /// A round without units that ends the input: the server answers what
    /// it read and closes.
    public mutating func endInput() -> Round {
        model.endOfInput()
        expectingClose = true
        return Round(bytes: [], endsInput: true, expectsClose: true, unitCount: 0, abandons: false)
    }

    /// Checks bytes read from the connection against the answers owed.
    public mutating func received(_ bytes: some Collection<UInt8>) throws(FuzzFailure) {
        checker.receive(bytes)
        while head < queue.count {
            let expected = queue[head]
            let taken: AnswerChecker.Taken?
            do {
                taken = try checker.take(expected)
            } catch {
                throw failure(error.description, about: expected)
            }
            guard let taken else { return }
            head += 1
            answerCount += 1
            count(taken, expected)
            if configuration.replies == .server { learn(from: taken, expected: expected) }
        }
        if checker.hasUnreadBytes {
            throw failure(
                "an answer nobody asked for: \(checker.unreadBytes.escapedForMessage(limit: 400))", about: queue.last)
        }
    }

    /// The connection ended (the peer closed it): every owed answer must
    /// have come, and the close must have been expected. The session then
    /// starts over on a new connection.
    public mutating func connectionClosed() throws(FuzzFailure) {
        if head < queue.count {
            throw failure(
                "the connection closed with \(queue.count - head) answer(s) missing (the first is described below)",
                about: queue[head])
        }
        if checker.hasUnreadBytes {
            throw failure(
                "the connection closed after bytes that are no answer: \(checker.unreadBytes.escapedForMessage())",
                about: queue.last)
        }
        if !expectingClose {
            throw failure("the server closed the connection, which it had no reason to do", about: queue.last)
        }
        closedConnections += 1
        startOver()
    }

    /// The client closed the connection without waiting for its answers:
    /// nothing is owed any more, and the session starts over on a new one.
    public mutating func connectionAbandoned() {
        closedConnections += 1
        startOver()
    }

    private mutating func startOver() {
        queue.removeAll()
        head = 0
        expectingClose = false
        model = WireModel(limits: generator.world.limits)
        checker = AnswerChecker(replies: configuration.replies, limits: generator.world.limits)
    }

    /// A failure about the first answer still owed (for hangs).
    public func stalled(_ problem: String) -> FuzzFailure {
        failure(problem, about: head < queue.count ? queue[head] : queue.last)
    }

    /// A failure about the last unit made.
    public func failure(_ problem: String) -> FuzzFailure {
        failure(problem, about: nil)
    }

    private func failure(_ problem: String, about expected: ExpectedAnswer?) -> FuzzFailure {
        let number = expected?.unit ?? recent.last?.number
        let unit = recent.last { $0.number == number }?.unit
        return FuzzFailure(
            seed: configuration.seed, connection: configuration.connection, unit: number, label: unit?.label,
            request: expected?.line, unitBytes: unit?.bytes, problem: problem)
    }

    private mutating func count(_ taken: AnswerChecker.Taken, _ expected: ExpectedAnswer) {
        let pairs: [(ExpectedResponse, JSONValue)]
        switch expected.shape {
        case .single(let one): pairs = [(one, taken.response)]
        case .batch(let many): pairs = Array(zip(many, taken.response.arrayValue ?? []))
        }
        for (one, response) in pairs {
            let code = response["error"]?["data"]?["code"]?.stringValue ?? "ok"
            switch one.outcome {
            case .error: outcomes["(connection) \(code)", default: 0] += 1
            case .dispatched(let request):
                let method = RequestGrammar.grammar(named: request.method) == nil ? "(unknown method)" : request.method
                outcomes["\(method) \(code)", default: 0] += 1
            }
        }
    }

    // MARK: - Learning

    private mutating func learn(from taken: AnswerChecker.Taken, expected: ExpectedAnswer) {
        switch expected.shape {
        case .single(let one):
            learn(one, taken.response)
        case .batch(let many):
            for (one, response) in zip(many, taken.response.arrayValue ?? []) { learn(one, response) }
        }
    }

    private mutating func learn(_ expected: ExpectedResponse, _ response: JSONValue) {
        guard case .dispatched(let request) = expected.outcome, case .object(let result)? = response["result"] else {
            return
        }
        switch request.method {
        case Methods.uploadsBegin.name, Methods.uploadsAppend.name, Methods.uploadsStatus.name:
            if let id = result["uploadId"]?.stringValue.flatMap(UUID.init(uuidString:)),
                case .number(let offset)? = result["offset"], let value = offset.int64, value >= 0
            {
                generator.world.learn(upload: FuzzWorld.Upload(id: id, offset: UInt64(value)))
            }
        case Methods.artifactsUpload.name, Methods.uploadsCommit.name:
            if let meta = try? ArtifactMetaResult(decoding: .object(result), attachment: nil) {
                generator.world.learn(
                    artifact: FuzzWorld.Artifact(
                        tenant: meta.tenantId, id: meta.artifactId, sha256: meta.sha256, sizeBytes: meta.sizeBytes,
                        providerId: meta.providerId))
            }
        default:
            break
        }
    }
}
