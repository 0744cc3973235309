import CairnDigest
import CairnProtocol
import Foundation
import Synchronization

/// Fuzzes a running `cairn serve` over its socket.
///
/// A run sets up a world (``FuzzWorld``: staged artifacts with ids drawn
/// from the seed, open uploads, a provider configuration that references
/// an artifact, byte quotas on the fuzzed tenants), then drives
/// ``Configuration/connections`` fuzzing connections, each on a thread of
/// its own with a ``FuzzSession``, until the time or the unit budget runs
/// out or an invariant breaks. Meanwhile a control connection asks
/// `system.hello` and `artifacts.meta` of an artifact no fuzzing request
/// can name, and checks each answer against the one it got at the start,
/// and the server's resident memory is read from `/proc` and held under
/// ``Configuration/rssLimitBytes``.
///
/// It does not start or stop the server; a test or `cairn-fuzz` does.
public enum ServerFuzzer {
    /// The settings of one run.
    public struct Configuration: Sendable {
        /// The server's socket.
        public var socketPath: String
        /// The server's process, for its memory; `nil` skips that check.
        public var serverPID: Int32?
        /// The seed: units, artifact ids and round sizes follow from it.
        public var seed: UInt64
        /// Fuzzing connections at once.
        public var connections = 2
        /// The index of the first connection (each index is a stream of the
        /// seed): a failure on connection C replays with `firstConnection`
        /// C and one connection.
        public var firstConnection = 0
        /// When to stop making rounds (a budget, not a check: the verdict does not depend on it).
        public var duration: Duration = .seconds(10)
        /// The most units sent in all; each connection gets its share.
        public var maxUnits = 2000
        /// The bound on the server's resident memory.
        public var rssLimitBytes = 512 << 20
        /// How long an owed answer may take before the run calls it a hang.
        public var answerTimeout: Duration = .seconds(30)
        /// Lines over a MiB each connection may send (near `maxRequestBytes`).
        public var hugeLinesPerConnection = 1
        /// Bytes in attachments over 64 KiB each connection may send.
        public var bulkBytesPerConnection = 48 << 20
        /// Every this many units of a connection, one more such line and
        /// two more attachments at every limit; `nil` never (see ``UnitGenerator/Budget/refillEvery``).
        public var budgetRefillEvery: Int?
        /// Where progress lines go (every few seconds), if anywhere.
        public var progress: (@Sendable (String) -> Void)?

        /// A run with the default budgets.
        public init(socketPath: String, serverPID: Int32?, seed: UInt64) {
            self.socketPath = socketPath
            self.serverPID = serverPID
            self.seed = seed
        }
    }

    /// What a run did.
    public struct Report: Sendable, CustomStringConvertible {
        /// The run's seed.
        public var seed: UInt64
        /// Units sent.
        public var units = 0
        /// Answers checked (a batch's array is one).
        public var answers = 0
        /// Connections the server closed or the fuzzer ended, and opened again.
        public var reconnections = 0
        /// Rounds of `system.hello` and `artifacts.meta` the control connection checked.
        public var controlChecks = 0
        /// The most resident memory seen, in bytes (0 without a pid).
        public var peakRSSBytes = 0
        /// How long the run took, set-up included.
        public var elapsed: Duration = .zero
        /// How often each method got a result (`ok`) or each error code; see ``FuzzSession/outcomes``.
        public var outcomes: [String: Int] = [:]

        /// ``outcomes`` one per line, sorted.
        public var outcomeTable: String {
            outcomes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        }

        /// One line for a log.
        public var description: String {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return
                "seed \(seed): \(units) units, \(answers) answers checked, \(reconnections) reconnections, "
                + "\(controlChecks) control checks, peak RSS \(peakRSSBytes >> 20) MiB, "
                + String(format: "%.1f s", seconds)
        }
    }

    /// Runs on threads of its own and waits for them; see ``run(_:)-swift.type.method``.
    public static func run(_ configuration: Configuration) async throws(FuzzFailure) -> Report {
        let result = await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(
                    returning: Result { () throws(FuzzFailure) -> Report in try runBlocking(configuration) })
            }.start()
        }
        return try result.get()
    }

    /// Sets up, fuzzes and reports, blocking the calling thread.
    ///
    /// - Throws: ``FuzzFailure`` at the first broken invariant (the other
    ///   connections stop at their next round).
    public static func runBlocking(_ configuration: Configuration) throws(FuzzFailure) -> Report {
        let started = ContinuousClock.now
        let setup = try Setup.make(configuration)
        let shared = Shared()
        let deadline = started + configuration.duration
        let finished = DispatchSemaphore(value: 0)
        let perConnection = max(1, configuration.maxUnits / max(configuration.connections, 1))
        let first = configuration.firstConnection
        for connection in first..<(first + configuration.connections) {
            Thread {
                do throws(FuzzFailure) {
                    try fuzz(
                        connection: connection, units: perConnection, deadline: deadline, world: setup.world,
                        configuration: configuration, shared: shared)
                } catch {
                    shared.fail(error)
                }
                finished.signal()
            }.start()
        }
        let controlDone = DispatchSemaphore(value: 0)
        Thread {
            do throws(FuzzFailure) {
                try control(setup: setup, configuration: configuration, shared: shared, started: started)
            } catch {
                shared.fail(error)
            }
            controlDone.signal()
        }.start()
        for _ in 0..<configuration.connections { finished.wait() }
        shared.stopControl()
        controlDone.wait()
        let state = shared.state.withLock { $0 }
        if let failure = state.failure { throw failure }
        var report = state.report
        report.seed = configuration.seed
        report.elapsed = ContinuousClock.now - started
        return report
    }

    // MARK: - Fuzzing connections

    private static func fuzz(
        connection: Int, units: Int, deadline: ContinuousClock.Instant, world: FuzzWorld, configuration: Configuration,
        shared: Shared
    ) throws(FuzzFailure) {
        var session = FuzzSession(
            configuration: FuzzSession.Configuration(
                seed: configuration.seed, connection: connection, replies: .server,
                budget: UnitGenerator.Budget(
                    hugeLines: configuration.hugeLinesPerConnection, bulkBytes: configuration.bulkBytesPerConnection,
                    refillEvery: configuration.budgetRefillEvery)),
            world: world)
        var remaining = units
        var lastProgress = ContinuousClock.now
        defer {
            shared.state.withLock {
                $0.report.units += session.unitCount
                $0.report.answers += session.answerCount
                $0.report.reconnections += session.closedConnections
                $0.report.outcomes.merge(session.outcomes, uniquingKeysWith: +)
            }
        }
        while remaining > 0 && ContinuousClock.now < deadline && !shared.stopping {
            let socket: FuzzSocket
            do {
                socket = try FuzzSocket(path: configuration.socketPath)
            } catch {
                throw session.failure("cannot connect (did the server die?): \(error)")
            }
            var open = true
            while open && remaining > 0 && ContinuousClock.now < deadline && !shared.stopping {
                let round = session.nextRound(maxUnits: remaining)
                remaining -= round.unitCount
                open = try exchange(round, on: socket, session: &session, timeout: configuration.answerTimeout)
                if let progress = configuration.progress, ContinuousClock.now - lastProgress > .seconds(5) {
                    lastProgress = ContinuousClock.now
                    progress("connection \(connection): \(session.unitCount) units, \(session.answerCount) answers")
                }
            }
            if open {
                // The budget ran out: end the input, the server answers and closes.
                let round = session.endInput()
                _ = try exchange(round, on: socket, session: &session, timeout: configuration.answerTimeout)
            }
        }
    }

    /// Sends a round and checks its answers; whether the connection is still open.
    private static func exchange(
        _ round: FuzzSession.Round, on socket: FuzzSocket, session: inout FuzzSession, timeout: Duration
    ) throws(FuzzFailure) -> Bool {
        if round.abandons {
            // Whatever the socket takes at once, then gone: the server must cope.
            var sent = 0
            while sent < round.bytes.count {
                guard let written = try? socket.write(round.bytes, from: sent), written > 0 else { break }
                sent += written
            }
            socket.closeNow()
            session.connectionAbandoned()
            return false
        }
        var sent = 0
        var shutDown = false
        var lastProgress = ContinuousClock.now
        while true {
            var progressed = false
            if sent < round.bytes.count {
                let written: Int?
                do {
                    written = try socket.write(round.bytes, from: sent)
                } catch {
                    throw session.failure("writing to the server: \(error)")
                }
                if let written {
                    sent += written
                    progressed = progressed || written > 0
                } else {
                    // The server closed; reading says whether it was entitled to.
                    sent = round.bytes.count
                    shutDown = true
                }
            }
            if sent == round.bytes.count && round.endsInput && !shutDown {
                socket.shutdownWrite()
                shutDown = true
            }
            let outcome = try socket.read { (bytes) throws(FuzzFailure) in try session.received(bytes) }
            switch outcome {
            case .bytes: progressed = true
            case .closed:
                try session.connectionClosed()
                return false
            case .wouldBlock: break
            }
            if sent == round.bytes.count && session.isAnswered && !round.expectsClose { return true }
            if progressed {
                lastProgress = ContinuousClock.now
            } else {
                guard ContinuousClock.now - lastProgress < timeout else {
                    let what =
                        session.owedAnswers > 0
                        ? "no answer for \(timeout) (\(session.owedAnswers) owed; the first is described below)"
                        : "the server did not close the connection within \(timeout) as it should"
                    throw session.stalled(what + "; sent \(sent) of \(round.bytes.count) bytes of the round")
                }
                socket.wait(writing: sent < round.bytes.count, milliseconds: 50)
            }
        }
    }

    // MARK: - The control connection

    private static func control(
        setup: Setup, configuration: Configuration, shared: Shared, started: ContinuousClock.Instant
    )
        throws(FuzzFailure)
    {
        let client = try LineClient(
            path: configuration.socketPath, seed: configuration.seed, timeout: configuration.answerTimeout)
        var checks = 0
        var lastProgress = started
        repeat {
            let hello = try client.result(Methods.systemHello.name, JSONObject())
            guard hello["server"] == .string("cairn"), hello["limits"] == setup.limits else {
                throw client.failure("the control connection's system.hello changed: \(hello)")
            }
            let meta = try client.result(Methods.artifactsMeta.name, setup.controlParams)
            guard meta == setup.controlMeta else {
                throw client.failure(
                    "the control connection's artifacts.meta changed: \(meta), was \(setup.controlMeta)")
            }
            checks += 1
            if let pid = configuration.serverPID {
                guard let rss = ProcessMemory.residentBytes(of: pid) else {
                    throw client.failure("the server (pid \(pid)) is gone")
                }
                shared.state.withLock { $0.report.peakRSSBytes = max($0.report.peakRSSBytes, rss) }
                guard rss <= configuration.rssLimitBytes else {
                    throw client.failure(
                        "the server's resident memory is \(rss >> 20) MiB, over the bound of \(configuration.rssLimitBytes >> 20) MiB"
                    )
                }
            }
            shared.state.withLock { $0.report.controlChecks = checks }
            if let progress = configuration.progress, ContinuousClock.now - lastProgress > .seconds(10) {
                lastProgress = ContinuousClock.now
                let peak = shared.state.withLock { $0.report.peakRSSBytes }
                let now = configuration.serverPID.flatMap(ProcessMemory.residentBytes(of:)) ?? 0
                progress("control: \(checks) checks, RSS \(now >> 20) MiB (peak \(peak >> 20) MiB)")
            }
            if !shared.controlStopped { usleep(25_000) }
        } while !shared.controlStopped
    }

    // MARK: - Set-up

    /// What the set-up made: the world, and the control connection's answers to compare with.
    struct Setup: Sendable {
        var world: FuzzWorld
        var limits: JSONValue
        var controlParams: JSONObject
        var controlMeta: JSONValue

        static let fuzzTenants = ["fuzz-a", "fuzz-b"]
        static let quotaTenant = "fuzz-quota"
        static let controlTenant = "fuzz-control"
        /// The byte quota of each fuzzed tenant, so that a long run's store stays small.
        static let tenantQuota: UInt64 = 64 << 20

        static func make(_ configuration: Configuration) throws(FuzzFailure) -> Setup {
            let client = try LineClient(
                path: configuration.socketPath, seed: configuration.seed, timeout: configuration.answerTimeout)
            var random = FuzzRandom(seed: FuzzRandom.derive(configuration.seed, stream: 1 << 32))
            let hello = try client.result(Methods.systemHello.name, JSONObject())
            guard let limitsValue = hello["limits"],
                case .number(let request)? = limitsValue["maxRequestBytes"], let maxRequest = request.int64,
                case .number(let chunk)? = limitsValue["maxChunkBytes"], let maxChunk = chunk.int64,
                case .number(let artifact)? = limitsValue["maxArtifactBytes"], let maxArtifact = artifact.int64
            else { throw client.failure("system.hello has no limits: \(hello)") }
            let limits = FuzzWorld.Limits(
                maxRequestBytes: Int(maxRequest), maxChunkBytes: Int(maxChunk), maxArtifactBytes: UInt64(maxArtifact))

            let catalog = try client.result(Methods.providersList.name, JSONObject())
            let providers = (catalog["providers"]?.arrayValue ?? []).compactMap { entry -> FuzzWorld.Provider? in
                guard let id = entry["providerId"]?.stringValue else { return nil }
                let fields = (entry["fields"]?.arrayValue ?? []).compactMap { field -> (key: String, shape: String)? in
                    guard let key = field["key"]?.stringValue, let shape = field["shape"]?.stringValue else {
                        return nil
                    }
                    return (key, shape)
                }
                return FuzzWorld.Provider(id: id, fields: fields)
            }
            guard let provider = providers.first else { throw client.failure("providers.list lists no provider") }

            // The control artifact, in a tenant no fuzzing request names.
            let controlContent = Array("control artifact of seed \(configuration.seed)\n".utf8)
            let staged = try client.result(
                Methods.artifactsUpload.name,
                UploadArtifactParams(tenant: controlTenant, providerId: provider.id, mimeType: "text/plain").encoded,
                data: controlContent)
            guard let controlId = staged["artifactId"]?.stringValue else {
                throw client.failure("artifacts.upload gave no artifactId: \(staged)")
            }
            let controlParams = JSONObject([("tenant", .string(controlTenant)), ("artifactId", .string(controlId))])
            let controlMeta = try client.result(Methods.artifactsMeta.name, controlParams)

            var artifacts: [FuzzWorld.Artifact] = []
            for tenant in fuzzTenants {
                _ = try client.result(
                    Methods.tenantsSetQuota.name,
                    SetQuotaParams(tenant: tenant, maxBytes: .value(tenantQuota), maxArtifacts: .null).encoded)
                for index in 0..<4 {
                    let content = random.bytes(index == 3 ? 200_000 : random.within(1...2000))
                    let id = random.uuid()
                    let params = UploadArtifactParams(
                        tenant: tenant, providerId: provider.id, mimeType: "application/octet-stream", artifactId: id)
                    let response = try client.call(Methods.artifactsUpload.name, params.encoded, data: content)
                    let meta: JSONValue
                    if let result = response["result"] {
                        meta = result
                    } else {
                        // Staged by an earlier run with this seed: read it back.
                        meta = try client.result(
                            Methods.artifactsMeta.name, ArtifactParams(tenant: tenant, artifactId: id).encoded)
                    }
                    guard let decoded = try? ArtifactMetaResult(decoding: meta, attachment: nil) else {
                        throw client.failure("an artifact's meta that does not decode: \(meta)")
                    }
                    artifacts.append(
                        FuzzWorld.Artifact(
                            tenant: tenant, id: decoded.artifactId, sha256: decoded.sha256,
                            sizeBytes: decoded.sizeBytes, providerId: decoded.providerId))
                }
                // A configuration that references an artifact, so deleting it is ARTIFACT_IN_USE.
                if let field = provider.fields.first(where: { $0.shape == "artifactRef" }),
                    let referenced = artifacts.last(where: { $0.tenant == tenant })
                {
                    _ = try client.call(
                        Methods.providersConfigSet.name,
                        ConfigureProviderParams(
                            tenant: tenant, providerId: provider.id,
                            values: [(field.key, .string(referenced.id.uuidString.lowercased()))]
                        ).encoded)
                }
            }

            var uploads: [FuzzWorld.Upload] = []
            for index in 0..<6 {
                let begun = try client.result(
                    Methods.uploadsBegin.name,
                    BeginUploadParams(
                        tenant: fuzzTenants[index % fuzzTenants.count], providerId: provider.id,
                        mimeType: "application/octet-stream", sizeBytes: index % 3 == 0 ? 100_000 : nil
                    ).encoded)
                guard let text = begun["uploadId"]?.stringValue, let id = UUID(uuidString: text) else {
                    throw client.failure("uploads.begin gave no uploadId: \(begun)")
                }
                uploads.append(FuzzWorld.Upload(id: id, offset: 0))
            }
            let world = FuzzWorld(
                limits: limits, tenants: fuzzTenants, quotaTenant: quotaTenant, providers: providers,
                artifacts: artifacts, uploads: uploads)
            return Setup(world: world, limits: limitsValue, controlParams: controlParams, controlMeta: controlMeta)
        }
    }

    // MARK: - Shared state

    final class Shared: Sendable {
        struct State: Sendable {
            var failure: FuzzFailure?
            var stopping = false
            var controlStopped = false
            var report = Report(seed: 0)
        }

        let state = Mutex(State())

        var stopping: Bool { state.withLock { $0.stopping } }
        var controlStopped: Bool { state.withLock { $0.stopping || $0.controlStopped } }

        func fail(_ failure: FuzzFailure) {
            state.withLock {
                if $0.failure == nil { $0.failure = failure }
                $0.stopping = true
            }
        }

        func stopControl() { state.withLock { $0.controlStopped = true } }
    }
}

/// A well-behaved client for the set-up and the control connection: one
/// request line at a time, one answer line back, within a timeout.
final class LineClient {
    private let socket: FuzzSocket
    private let seed: UInt64
    private let timeout: Duration
    private var received: [UInt8] = []
    private var nextId = 0

    init(path: String, seed: UInt64, timeout: Duration) throws(FuzzFailure) {
        do {
            socket = try FuzzSocket(path: path)
        } catch {
            throw FuzzFailure(seed: seed, problem: "cannot connect to the server: \(error)")
        }
        self.seed = seed
        self.timeout = timeout
    }

    func failure(_ problem: String) -> FuzzFailure { FuzzFailure(seed: seed, problem: problem) }

    /// The result of a call; an error answer is a failure.
    func result(_ method: String, _ params: JSONObject, data: [UInt8]? = nil) throws(FuzzFailure) -> JSONValue {
        let response = try call(method, params, data: data)
        guard let result = response["result"] else { throw failure("\(method) failed: \(response)") }
        return result
    }

    /// Sends a call (with `data` as an attachment) and reads its response.
    func call(_ method: String, _ params: JSONObject, data: [UInt8]? = nil) throws(FuzzFailure) -> JSONValue {
        nextId += 1
        var params = params
        if let data { params["dataLength"] = .number(JSONNumber(data.count)) }
        let request = RPCRequest(id: .string("control-\(nextId)"), method: method, params: params)
        let bytes = request.json.serialized() + [0x0A] + (data ?? [])
        var sent = 0
        let deadline = ContinuousClock.now + timeout
        while true {
            if sent < bytes.count {
                let written: Int?
                do {
                    written = try socket.write(bytes, from: sent)
                } catch {
                    throw failure("writing \(method): \(error)")
                }
                guard let written else {
                    throw failure("the server closed the connection of a well-behaved client (\(method))")
                }
                sent += written
            }
            let outcome = try socket.read { (bytes) throws(FuzzFailure) in received.append(contentsOf: bytes) }
            if case .closed = outcome {
                throw failure("the server closed the connection of a well-behaved client (\(method))")
            }
            if let newline = received.firstIndex(of: 0x0A) {
                let line = Array(received[..<newline])
                received.removeSubrange(...newline)
                guard let response = try? JSONParser.parse(line), response["id"] == request.id else {
                    throw failure("\(method): an answer that is not its response: \(line.escapedForMessage())")
                }
                return response
            }
            guard ContinuousClock.now < deadline else {
                throw failure("no answer to \(method) on a well-behaved connection within \(timeout)")
            }
            socket.wait(writing: sent < bytes.count, milliseconds: 20)
        }
    }
}
