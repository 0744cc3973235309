import CairnFuzz
import CairnProtocol
import Foundation
import Testing

@testable import CairnServer

private typealias Machine = ConnectionStateMachine

/// The fuzzer's short run against the connection state machine, in
/// process: the byte streams of ``FuzzSession`` (the grammar of every
/// method, mutated) are fed to a machine in pieces split at random
/// boundaries, its dispatches are answered with ``CannedReply``s in random
/// order where it allows concurrency, its writes complete at random, and
/// writability and early timer ticks come in between. Every answer is
/// checked against the fuzzer's model, in order (docs/fuzzing.md).
///
/// Bounded by a unit count and by time, whichever comes first; the seed is
/// fixed so that a failure replays (`CAIRN_FUZZ_SEED` picks another).
@Suite
struct ConnectionStateMachineFuzzTests {
    /// Limits and buffer sizes for one run: small, so that lines over
    /// `maxRequestBytes`, attachments over every limit and back-pressure
    /// come often.
    struct Setting: Sendable, CustomTestStringConvertible {
        var name: String
        var maxRequestBytes: Int
        var maxChunkBytes: Int
        var outputCapacity: Int
        var readAheadBytes: Int
        var stream: UInt64

        var testDescription: String { name }
    }

    static let settings = [
        Setting(
            name: "request limit over chunk limit, small buffers", maxRequestBytes: 4096, maxChunkBytes: 2048,
            outputCapacity: 1024, readAheadBytes: 2048, stream: 1),
        Setting(
            name: "chunk limit over request limit, default buffers", maxRequestBytes: 2048, maxChunkBytes: 8192,
            outputCapacity: 1 << 20, readAheadBytes: 1 << 20, stream: 2),
    ]

    static let seed = FuzzSeed.value

    @Test(arguments: settings)
    func fuzzedByteStreams(setting: Setting) async throws {
        // On a thread of its own: the test pool's threads stay free for the
        // tests that wait, and the machine gets its share of the CPU.
        let outcome = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: Self.run(setting)) }.start()
        }
        switch outcome {
        case .success(let summary):
            print("ConnectionStateMachineFuzzTests (\(setting.name)): \(summary)")
        case .failure(let failure):
            Issue.record("\(failure)")
        }
    }

    /// Fuzzes machines until the unit count or the time runs out.
    private static func run(_ setting: Setting) -> Result<String, FuzzFailure> {
        let limits = FuzzWorld.Limits(
            maxRequestBytes: setting.maxRequestBytes, maxChunkBytes: setting.maxChunkBytes, maxArtifactBytes: 1 << 20)
        var worldRandom = FuzzRandom(seed: FuzzRandom.derive(seed, stream: 1000 + setting.stream))
        let world = FuzzWorld.synthetic(limits: limits, random: &worldRandom)
        var session = FuzzSession(
            configuration: FuzzSession.Configuration(
                seed: seed, connection: Int(setting.stream), replies: .canned,
                budget: UnitGenerator.Budget(hugeLines: 0, bulkBytes: 1 << 20)),
            world: world)
        var configuration = Machine.Configuration(
            limits: ServerConfiguration.Limits(), idleTimeout: .seconds(300),
            pipelines: { Dispatcher.pipelines($0, attachment: $1) })
        configuration.maxRequestBytes = setting.maxRequestBytes
        configuration.maxChunkBytes = setting.maxChunkBytes
        configuration.outputCapacity = setting.outputCapacity
        configuration.readAheadBytes = setting.readAheadBytes
        var driver = MachineDriver(
            configuration: configuration, seed: FuzzRandom.derive(seed, stream: 2000 + setting.stream))
        let maxUnits = 12_000
        let deadline = ContinuousClock.now + .seconds(4)
        do throws(FuzzFailure) {
            while session.unitCount < maxUnits && ContinuousClock.now < deadline {
                let round = session.nextRound(maxUnits: maxUnits - session.unitCount)
                try driver.run(round, session: &session)
            }
            if !driver.isClosed { try driver.run(session.endInput(), session: &session) }
        } catch {
            var failure = error
            failure.replay = "CAIRN_FUZZ_SEED=\(seed) swift test --filter ConnectionStateMachineFuzzTests"
            return .failure(failure)
        }
        return .success(
            "seed \(seed), \(session.unitCount) units, \(session.answerCount) answers, "
                + "\(session.closedConnections) connections, \(driver.dispatchCount) requests handed on")
    }

    /// The grammar has every method of the table and nothing else, so a
    /// method added to ``Methods`` is fuzzed once it has an entry.
    @Test
    func grammarCoversTheMethodTable() {
        #expect(RequestGrammar.methods.map(\.name) == Methods.names)
    }

    /// A seed names one sequence of units.
    @Test
    func aSeedNamesOneSequence() {
        let limits = FuzzWorld.Limits(maxRequestBytes: 4096, maxChunkBytes: 2048, maxArtifactBytes: 1 << 20)
        func units(_ seed: UInt64) -> [[UInt8]] {
            var random = FuzzRandom(seed: seed)
            let world = FuzzWorld.synthetic(limits: limits, random: &random)
            var generator = UnitGenerator(
                seed: seed, world: world, tag: "c0", budget: UnitGenerator.Budget(hugeLines: 0, bulkBytes: 0))
            return (0..<300).map { _ in generator.next().bytes }
        }
        #expect(units(7) == units(7))
        #expect(units(7) != units(8))
    }
}

/// The tests' seed: `CAIRN_FUZZ_SEED`, else a fixed one.
enum FuzzSeed {
    static let value = ProcessInfo.processInfo.environment["CAIRN_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_251_128
}

/// Drives one machine at a time the way ``Connection`` drives it (actions
/// performed in order, before those of any later event), with the order
/// of events drawn at random, and checks what the machine promises beyond
/// the answers: at most one request at a time (or a run of pipelined
/// appends, each after the one before was accepted, at most
/// `maxAppendsInFlight`), reading paused and resumed alternately, written
/// but unread output bounded by `outputCapacity` and one response, no
/// action after the close, and no close but the expected one.
private struct MachineDriver {
    let configuration: Machine.Configuration
    private(set) var machine: Machine
    private var random: FuzzRandom
    private var now = Machine.Instant(nanoseconds: 1_000_000_000)
    private var readingPaused = false
    private var writable = true
    private var closed: Machine.CloseReason?
    private var timers: [Machine.Timer: Machine.Instant] = [:]
    /// Dispatches without a reply, with their position among all dispatches.
    private var outstanding: [(dispatch: Machine.Dispatch, index: Int)] = []
    private var unaccepted: Int?
    /// Requests handed on by this machine, and by every machine so far.
    private var machineDispatches = 0
    private(set) var dispatchCount = 0
    /// Writes asked for and not yet read by the client.
    private var unwritten: [[UInt8]] = []
    private var unwrittenBytes = 0
    /// What the client read and the session has not seen yet.
    private var delivered: [UInt8] = []
    private var problem: String?
    private var pending: [Machine.Action] = []
    private var performing = false

    /// What may be written and unread beyond `outputCapacity`: the response
    /// that crossed it, replies to requests already handed on, one batch.
    static let outputSlack = 256 << 10

    init(configuration: Machine.Configuration, seed: UInt64) {
        self.configuration = configuration
        random = FuzzRandom(seed: seed)
        machine = Machine(configuration: configuration)
        perform(machine.activated(now: now))
    }

    var isClosed: Bool { closed != nil }

    /// Feeds a round's bytes, lets everything it causes happen, and hands
    /// the output to the session.
    mutating func run(_ round: FuzzSession.Round, session: inout FuzzSession) throws(FuzzFailure) {
        if round.abandons {
            // The client feeds some of it and goes away: timers stop, nothing else happens.
            let cut = random.below(round.bytes.count + 1)
            perform(machine.read(Array(round.bytes[..<cut]), now: now))
            if closed == nil {
                closed = .inputEnded
                let actions = machine.closed()
                if actions.contains(where: { if case .cancelTimer = $0 { false } else { true } }) {
                    note("the machine acted after the peer closed: \(actions)")
                }
                while let (dispatch, _) = outstanding.popLast() {
                    // Replies to requests under way still come, and change nothing.
                    if !machine.replied(dispatch.sequence, .result(.null)).isEmpty {
                        note("the machine acted on a reply after the peer closed")
                    }
                }
            }
            if let problem { throw session.failure(problem) }
            session.connectionAbandoned()
            startOver()
            return
        }
        var position = 0
        while position < round.bytes.count {
            if readingPaused {
                guard step(session: &session) else {
                    throw session.failure("the machine paused reading with nothing left to wait for (a stall)")
                }
                try check(&session)
                continue
            }
            let size: Int
            switch random.below(5) {
            case 0: size = 1
            case 1: size = random.within(1...16)
            case 2: size = random.within(1...512)
            case 3: size = random.within(1...8192)
            default: size = round.bytes.count - position
            }
            let end = min(position + size, round.bytes.count)
            now = now.advanced(by: .microseconds(random.within(1...500)))
            perform(machine.read(Array(round.bytes[position..<end]), now: now))
            position = end
            if random.percent(50) { perform(machine.readComplete()) }
            while random.percent(30) && step(session: &session) {}
            try check(&session)
        }
        perform(machine.readComplete())
        if round.endsInput { perform(machine.inputClosed()) }
        try check(&session)
        while drainStep(session: &session) { try check(&session) }
        try deliver(&session)
        if closed != nil {
            try session.connectionClosed()
            startOver()
            return
        }
        if !session.isAnswered {
            throw session.stalled("the machine went quiet with \(session.owedAnswers) answer(s) owed")
        }
        if round.expectsClose { throw session.failure("the machine did not close the connection") }
        // Now and then, at a quiet moment: a graceful shutdown closes at once.
        if random.percent(2) {
            perform(machine.shutDown(now: now))
            try check(&session)
            guard closed == .shutDown else {
                throw session.failure(
                    "a shutdown with nothing owed did not close at once (closed: \(String(describing: closed)))")
            }
            _ = session.endInput()
            try session.connectionClosed()
            startOver()
        }
    }

    private mutating func startOver() {
        machine = Machine(configuration: configuration)
        readingPaused = false
        writable = true
        closed = nil
        timers = [:]
        outstanding = []
        unaccepted = nil
        machineDispatches = 0
        unwritten = []
        unwrittenBytes = 0
        perform(machine.activated(now: now))
    }

    private mutating func check(_ session: inout FuzzSession) throws(FuzzFailure) {
        if let problem { throw session.failure(problem) }
        try deliver(&session)
    }

    private mutating func deliver(_ session: inout FuzzSession) throws(FuzzFailure) {
        guard !delivered.isEmpty else { return }
        let bytes = delivered
        delivered = []
        try session.received(bytes)
    }

    // MARK: - Steps

    /// One thing the world around the machine does, chosen at random; false
    /// when nothing can move.
    private mutating func step(session: inout FuzzSession) -> Bool {
        var options: [Int] = []
        if unaccepted != nil { options.append(0) }
        if !outstanding.isEmpty { options.append(1) }
        if !unwritten.isEmpty && writable { options.append(2) }
        if !writable { options.append(3) }
        guard !options.isEmpty else { return false }
        switch random.pick(options) {
        case 0:
            let sequence = unaccepted!
            unaccepted = nil
            perform(machine.accepted(sequence))
        case 1:
            reply(at: random.below(outstanding.count))
        case 2:
            completeWrites(random.within(1...unwritten.count))
        default:
            writable = true
            perform(machine.writabilityChanged(isWritable: true))
        }
        // Sometimes the socket fills up, or the idle timer ticks early.
        if random.percent(5) && writable && closed == nil {
            writable = false
            perform(machine.writabilityChanged(isWritable: false))
        }
        if random.percent(3), let deadline = timers[.idle], deadline > now {
            timers[.idle] = nil
            perform(machine.timerFired(.idle, now: now))
        }
        return true
    }

    /// Like ``step(session:)``, but never makes the socket unwritable.
    private mutating func drainStep(session: inout FuzzSession) -> Bool {
        if !writable {
            writable = true
            perform(machine.writabilityChanged(isWritable: true))
            return true
        }
        if let sequence = unaccepted, random.percent(50) {
            unaccepted = nil
            perform(machine.accepted(sequence))
            return true
        }
        if !outstanding.isEmpty && (unwritten.isEmpty || random.percent(50)) {
            reply(at: random.below(outstanding.count))
            return true
        }
        if !unwritten.isEmpty {
            completeWrites(unwritten.count)
            return true
        }
        if let sequence = unaccepted {
            unaccepted = nil
            perform(machine.accepted(sequence))
            return true
        }
        return false
    }

    private mutating func reply(at position: Int) {
        let (dispatch, index) = outstanding.remove(at: position)
        // A reply also accepts a pipelined request.
        if unaccepted == dispatch.sequence { unaccepted = nil }
        let canned = CannedReply.reply(
            toDispatch: index, method: dispatch.request.method, params: dispatch.request.params)
        perform(machine.replied(dispatch.sequence, Self.reply(canned)))
    }

    private mutating func completeWrites(_ count: Int) {
        for _ in 0..<count where !unwritten.isEmpty {
            let bytes = unwritten.removeFirst()
            unwrittenBytes -= bytes.count
            delivered += bytes
            now = now.advanced(by: .microseconds(random.within(1...200)))
            perform(machine.written(bytes.count, now: now))
        }
    }

    private static func reply(_ canned: CannedReply) -> Reply {
        switch canned {
        case .result(let result): .result(result)
        case .binary(let result, let bytes): .binary(result, bytes)
        case .error(let error): .error(error)
        }
    }

    // MARK: - Actions

    private mutating func perform(_ actions: [Machine.Action]) {
        pending.append(contentsOf: actions)
        guard !performing else { return }
        performing = true
        defer { performing = false }
        var next = 0
        while next < pending.count {
            perform(pending[next])
            next += 1
        }
        pending.removeAll()
    }

    private mutating func perform(_ action: Machine.Action) {
        if let closed {
            note("\(action) after the machine closed (\(closed))")
            return
        }
        switch action {
        case .write(let bytes):
            unwritten.append(bytes.joined)
            unwrittenBytes += bytes.count
            if unwrittenBytes > configuration.outputCapacity + Self.outputSlack {
                note("\(unwrittenBytes) bytes written and unread, over outputCapacity \(configuration.outputCapacity)")
            }
            if random.percent(40) && writable { completeWrites(unwritten.count) }
        case .flush:
            break
        case .dispatch(let dispatch):
            dispatched(dispatch)
        case .pauseReading:
            if readingPaused { note("pauseReading while paused") }
            readingPaused = true
        case .resumeReading:
            if !readingPaused { note("resumeReading while reading") }
            readingPaused = false
        case .startTimer(let timer, let deadline):
            timers[timer] = deadline
        case .cancelTimer(let timer):
            timers[timer] = nil
        case .close(let reason):
            closed = reason
            if reason == .idle || reason == .shutdownGraceExpired { note("closed for \(reason)") }
        }
    }

    private mutating func dispatched(_ dispatch: Machine.Dispatch) {
        let pipelinedInFlight = outstanding.filter(\.dispatch.pipelined).count
        if dispatch.pipelined {
            if outstanding.contains(where: { !$0.dispatch.pipelined }) {
                note("a pipelined request handed on while another request runs")
            }
            if pipelinedInFlight >= configuration.maxAppendsInFlight {
                note("more than \(configuration.maxAppendsInFlight) pipelined requests in flight")
            }
            if unaccepted != nil { note("a pipelined request handed on before the one before it was accepted") }
            unaccepted = dispatch.sequence
        } else if !outstanding.isEmpty {
            note("a request handed on while \(outstanding.count) other(s) run")
        }
        // The model counts per connection, as the machine hands on.
        let index = machineDispatches
        machineDispatches += 1
        dispatchCount += 1
        outstanding.append((dispatch, index))
        // Quick reads are answered on the spot, as answerNow does.
        if !dispatch.pipelined && random.percent(40) { reply(at: outstanding.count - 1) }
    }

    private mutating func note(_ text: String) {
        if problem == nil { problem = "the machine broke a rule: \(text)" }
    }
}
