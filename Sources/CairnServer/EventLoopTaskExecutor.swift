import NIOCore

/// Runs a task's jobs on one event loop, so that a request carried out as
/// a task stays on its connection's thread: its `await` on the store's
/// writer resumes there directly (one hop to the writer, one back), where a
/// task on the global executor would cost two more, to a pool thread and
/// back to the event loop.
///
/// Only for tasks whose own work between suspensions is short (see
/// ``Dispatcher/runsOnConnection(_:attachment:)``): every job blocks the
/// event loop's other connections while it runs.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
