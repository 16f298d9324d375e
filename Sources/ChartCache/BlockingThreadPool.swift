import CSystemShims
import Foundation
import NIOPosix

/// The threads for blocking system calls (`flock`, `fsync`, file I/O) and CPU-bound rendering,
/// so none of it runs on an event loop or on Swift concurrency's cooperative pool.
///
/// It is SwiftNIO's `NIOThreadPool` (jobs in submission order, a fixed number of threads: a burst
/// of work queues instead of spawning threads), plus what the cache needs on top: each thread
/// named `name-<index>` for `ps -L`, and a set-up hook run once on every thread before any job.
public final class BlockingThreadPool: Sendable {
    private let pool: NIOThreadPool
    /// The number of threads.
    public let threadCount: Int

    /// Starts `threadCount` threads named `name-<index>` (the kernel keeps 15 bytes of a thread
    /// name, so keep `name` short: `ps -L` and `/proc/<pid>/task/*/comm` show it).
    ///
    /// `threadStart` runs first on each thread: the place for costly per-thread set-up (a font
    /// map) that must stay out of the per-request path.
    public init(threadCount: Int, name: String = "blocking", threadStart: (@Sendable () -> Void)? = nil) {
        precondition(threadCount > 0, "a blocking pool needs at least one thread")
        self.threadCount = threadCount
        pool = NIOThreadPool(numberOfThreads: threadCount)
        pool.start()
        // One set-up job per thread. Each waits until all have started, so no thread takes two
        // and every thread takes one; jobs submitted later queue behind them.
        let started = ArrivalCount()
        for index in 0..<threadCount {
            pool.submit { _ in
                surveycharts_set_thread_name("\(name)-\(index)")
                threadStart?()
                started.arriveAndWait(until: threadCount)
            }
        }
    }

    /// Stops the threads once the queued jobs are done, without waiting for them. Call it when the
    /// pool is no longer needed; later jobs run on the caller's thread.
    public func shutdown() {
        pool.shutdownGracefully { _ in }
    }

    /// Queues `job` to run on one of the pool's threads.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        pool.submit { _ in job() }
    }

    /// Runs `body` on the pool and returns its result to the awaiting task.
    /// - Throws: what `body` throws, or `NIOThreadPoolError.ThreadPoolInactive` after `shutdown()`.
    public func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await pool.runIfActive(body)
    }

    /// The kernel's name of the calling thread, as `ps -L` shows it.
    public static var currentThreadName: String {
        var buffer = [CChar](repeating: 0, count: 32)
        surveycharts_get_thread_name(&buffer, Int32(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Counts threads arriving; each waits until `count` have arrived.
private final class ArrivalCount: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0

    func arriveAndWait(until count: Int) {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        while arrived < count { condition.wait() }
    }
}
