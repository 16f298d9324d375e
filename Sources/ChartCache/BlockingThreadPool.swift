import CSystemShims
import Foundation

/// A fixed set of threads for blocking system calls (`flock`, `fsync`, file I/O) and CPU-bound
/// rendering, so none of it runs on an event loop or on Swift concurrency's cooperative pool.
///
/// Jobs run in submission order. The pool never grows: a burst of work queues instead of
/// spawning threads.
public final class BlockingThreadPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var head = 0
    private var stopping = false
    private var threads: [Thread] = []
    private var busyThreads = 0

    /// The number of threads.
    public let threadCount: Int

    /// Starts `threadCount` threads named `name-<index>` (the kernel keeps 15 bytes of a thread
    /// name, so keep `name` short: `ps -L` and `/proc/<pid>/task/*/comm` show it).
    ///
    /// `threadStart` runs first on each new thread: the place for costly per-thread set-up (a
    /// font map) that must stay out of the per-request path.
    public init(threadCount: Int, name: String = "blocking", threadStart: (@Sendable () -> Void)? = nil) {
        precondition(threadCount > 0, "a blocking pool needs at least one thread")
        self.threadCount = threadCount
        for index in 0..<threadCount {
            let threadName = "\(name)-\(index)"
            // The threads keep the pool alive until `shutdown()`.
            let thread = Thread {
                surveycharts_set_thread_name(threadName)
                threadStart?()
                self.work()
            }
            thread.name = threadName
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Stops the threads once the queued jobs are done. Call it when the pool is no longer needed.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Jobs waiting for a thread, and threads running a job.
    public var load: (queued: Int, running: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (jobs.count - head, busyThreads)
    }

    /// Queues `job` to run on one of the pool's threads.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the pool and returns its result to the awaiting task.
    public func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Swift.Result { try body() }) }
        }
    }

    /// The kernel's name of the calling thread, as `ps -L` shows it.
    public static var currentThreadName: String {
        var buffer = [CChar](repeating: 0, count: 32)
        surveycharts_get_thread_name(&buffer, Int32(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func work() {
        while true {
            condition.lock()
            while head == jobs.count && !stopping { condition.wait() }
            if head == jobs.count && stopping {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            busyThreads += 1
            condition.unlock()
            job()
            condition.lock()
            busyThreads -= 1
            condition.unlock()
        }
    }
}
