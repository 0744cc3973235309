import CairnProtocol
import Logging
import NIOCore

/// One client connection on its event loop: feeds what happens on the
/// channel to a ``ConnectionStateMachine`` and performs the actions it
/// returns.
///
/// Everything about the protocol (framing, order, batches, back-pressure,
/// idle and shutdown rules) is the machine's; this handler only does I/O.
/// Reading is explicit (the channel's `autoRead` is off): it asks for the
/// next read after each read burst unless the machine paused reading.
/// Each dispatched request is answered by ``Dispatcher/answerNow(_:peer:attachment:)``
/// on the event loop when it can be, with no thread hop; otherwise one task
/// carries it out and its reply comes back to the event loop with
/// `EventLoop.execute`. A small write's task runs on the event loop itself
/// (``EventLoopTaskExecutor``): one hop to the store's writer and one back.
/// A pipelined `uploads.append` reports twice, when the store accepted it
/// and when it is stored.
///
/// The handler lives on its channel's event loop and must not leave it;
/// ``ConnectionRegistry`` reaches it through a shutdown closure that hops
/// there.
final class Connection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: ConnectionStateMachine
    private let peer: Peer
    private let dispatcher: Dispatcher
    private let registry: ConnectionRegistry
    private let logger: Logger

    private var context: ChannelHandlerContext?
    private var registration: ConnectionRegistry.Registration?
    private var activated = false
    private var readingPaused = false
    /// A read was asked for and its burst has not completed.
    private var readRequested = false
    private var timers: [ConnectionStateMachine.Timer: Scheduled<Void>] = [:]
    /// Actions still to perform, in order: actions of events that happen
    /// while performing (a reply given at once, a write completing on the
    /// spot) queue up behind the ones already returned.
    private var pending: [ConnectionStateMachine.Action] = []
    private var performing = false
    /// A flush was asked for; it is done once the actions run out, so that
    /// the writes of replies given on the spot go out in one system call.
    private var flushPending = false
    /// Requests handed to a task whose reply has not come back. The
    /// connection stays registered until they are done, so that a shutdown
    /// flushes the store only after the requests under way.
    private var requestsUnderWay = 0
    private var channelGone = false
    /// Made on first use (see ``taskExecutor(on:)``).
    private var loopExecutor: EventLoopTaskExecutor?

    /// A handler for a connection from `peer`.
    ///
    /// - Parameters:
    ///   - peer: who is on the other end (`SO_PEERCRED`).
    ///   - dispatcher: carries out the requests.
    ///   - configuration: the machine's settings.
    ///   - registry: told of the connection, so that a shutdown reaches it.
    ///   - logger: for the connection's end.
    init(
        peer: Peer, dispatcher: Dispatcher, configuration: ConnectionStateMachine.Configuration,
        registry: ConnectionRegistry, logger: Logger
    ) {
        self.machine = ConnectionStateMachine(configuration: configuration)
        self.peer = peer
        self.dispatcher = dispatcher
        self.registry = registry
        self.logger = logger
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let connection = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        registration = registry.register {
            eventLoop.execute { connection.value.shutDown() }
        }
        dispatcher.metrics.connectionOpened()
        if context.channel.isActive { activate(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.closed())
        end()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let now = Self.now()
        perform(buffer.withUnsafeReadableBytes { machine.read($0, now: now) })
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readRequested = false
        perform(machine.readComplete())
        requestRead()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        perform(machine.writabilityChanged(isWritable: context.channel.isWritable))
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent {
            perform(machine.inputClosed())
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection failed", metadata: ["error": "\(error)", "pid": "\(peer.pid)"])
        context.close(promise: nil)
    }

    private func activate(_ context: ChannelHandlerContext) {
        guard !activated else { return }
        activated = true
        perform(machine.activated(now: Self.now()))
        requestRead()
    }

    /// Told by the registry, on the event loop.
    private func shutDown() {
        perform(machine.shutDown(now: Self.now()))
    }

    /// The channel is gone: no timer runs on, and the registry forgets the
    /// connection once no request of it is under way.
    private func end() {
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        if !channelGone { dispatcher.metrics.connectionClosed() }
        channelGone = true
        deregisterWhenDone()
    }

    private func deregisterWhenDone() {
        guard channelGone, requestsUnderWay == 0, let registration else { return }
        registry.remove(registration)
        self.registration = nil
    }

    // MARK: - Actions

    private func perform(_ actions: [ConnectionStateMachine.Action]) {
        pending.append(contentsOf: actions)
        guard !performing else { return }
        performing = true
        defer { performing = false }
        var next = 0
        while true {
            while next < pending.count {
                let action = pending[next]
                next += 1
                perform(action)
            }
            guard flushPending, let context else { break }
            flushPending = false
            context.flush()
        }
        pending.removeAll(keepingCapacity: true)
    }

    private func perform(_ action: ConnectionStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .write(let bytes):
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            for piece in bytes.pieces { buffer.writeBytes(piece) }
            let count = bytes.count
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenSuccess { [self] in
                perform(machine.written(count, now: Self.now()))
            }
            context.write(wrapOutboundOut(buffer), promise: promise)
        case .flush:
            flushPending = true
        case .dispatch(let dispatch):
            carryOut(dispatch, on: context.eventLoop)
        case .pauseReading:
            readingPaused = true
        case .resumeReading:
            readingPaused = false
            requestRead()
        case .startTimer(let timer, let deadline):
            timers[timer]?.cancel()
            timers[timer] = context.eventLoop.assumeIsolated().scheduleTask(
                deadline: .uptimeNanoseconds(UInt64(max(0, deadline.nanoseconds)))
            ) { [self] in
                timers[timer] = nil
                perform(machine.timerFired(timer, now: Self.now()))
            }
        case .cancelTimer(let timer):
            timers.removeValue(forKey: timer)?.cancel()
        case .close(let reason):
            logger.debug("closing the connection", metadata: ["reason": "\(reason)", "pid": "\(peer.pid)"])
            context.close(promise: nil)
        }
    }

    /// Asks the channel for the next read, unless one is asked for already
    /// or the machine paused reading.
    private func requestRead() {
        guard let context, activated, !readingPaused, !readRequested, !machine.isClosed else { return }
        readRequested = true
        context.read()
    }

    /// Has the dispatcher carry out a request: at once on this thread when
    /// it can answer so, else on a task whose reply hops back here. Each
    /// request is counted, with the time from here to its reply, before
    /// the reply is written.
    private func carryOut(_ dispatch: ConnectionStateMachine.Dispatch, on eventLoop: any EventLoop) {
        let start = ServerMetrics.now()
        if let reply = dispatcher.answerNow(dispatch.request, peer: peer, attachment: dispatch.attachment) {
            dispatcher.metrics.record(dispatch.request.method, reply, since: start)
            perform(machine.replied(dispatch.sequence, reply))
            return
        }
        let connection = NIOLoopBound(self, eventLoop: eventLoop)
        let dispatcher = self.dispatcher
        let peer = self.peer
        requestsUnderWay += 1
        if dispatch.pipelined {
            Task {
                switch await dispatcher.dispatch(dispatch.request, peer: peer, attachment: dispatch.attachment) {
                case .now(let reply):
                    dispatcher.metrics.record(dispatch.request.method, reply, since: start)
                    eventLoop.execute { connection.value.replied(dispatch.sequence, reply) }
                case .appending(let accepted):
                    eventLoop.execute { connection.value.accepted(dispatch.sequence) }
                    let reply = await dispatcher.reply(to: accepted)
                    dispatcher.metrics.record(dispatch.request.method, reply, since: start)
                    eventLoop.execute { connection.value.replied(dispatch.sequence, reply) }
                }
            }
        } else {
            let work: @Sendable () async -> Void = {
                let reply = await dispatcher.handle(dispatch.request, peer: peer, attachment: dispatch.attachment)
                dispatcher.metrics.record(dispatch.request.method, reply, since: start)
                eventLoop.execute { connection.value.replied(dispatch.sequence, reply) }
            }
            if dispatcher.runsOnConnection(dispatch.request, attachment: dispatch.attachment) {
                Task(executorPreference: taskExecutor(on: eventLoop), operation: work)
            } else {
                Task(operation: work)
            }
        }
    }

    /// The executor of the tasks this connection runs on its event loop.
    private func taskExecutor(on eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        if let executor = loopExecutor { return executor }
        let executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        loopExecutor = executor
        return executor
    }

    private func accepted(_ sequence: Int) {
        perform(machine.accepted(sequence))
    }

    /// The reply of a request carried out on a task.
    private func replied(_ sequence: Int, _ reply: Reply) {
        requestsUnderWay -= 1
        perform(machine.replied(sequence, reply))
        deregisterWhenDone()
    }

    /// The event loop's clock, for the machine.
    private static func now() -> ConnectionStateMachine.Instant {
        ConnectionStateMachine.Instant(nanoseconds: Int64(clamping: NIODeadline.now().uptimeNanoseconds))
    }
}

@available(*, unavailable)
extension Connection: Sendable {}
