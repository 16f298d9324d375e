import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The on-disk chart cache: one writer per chart across every thread and process that shares
/// the directory, waiting readers that wake when it publishes, and recovery from dead writers.
///
/// It knows nothing of HTTP or of charts: it maps a `ChartName` and a render closure to a
/// complete, fsynced file. See DESIGN "Chart cache protocol" for the protocol and its invariants.
///
/// All blocking work (`open`, `flock`, `write`, `fsync`, `rename`, and the render closure
/// itself) runs on a `BlockingThreadPool` (the process's, lent by its owner, or one the cache
/// makes), never on the caller's thread. Concurrent requests for one name in one process share a
/// single fill: one descriptor, one pool thread, one deadline timer.
public final class ChartCache: Sendable {
    /// Settings; new ones get defaults, so callers keep compiling as this grows.
    public struct Configuration: Sendable {
        /// The chart directory.
        public var directory: String
        /// How long a request may wait for a chart before it fails with `busy`.
        public var deadline: Duration
        /// A pending file with no lock younger than this may belong to a writer that has created
        /// it but not yet locked it, so it is not taken over.
        public var abandonedGracePeriod: Duration
        /// Threads for blocking calls and rendering.
        public var blockingThreads: Int
        /// Remove abandoned pending files when the cache is created.
        public var sweepOnStart: Bool
        /// Called by writers at each stage; for tests that kill writers, and for tracing.
        public var writerStageObserver: (@Sendable (WriterStage, ChartName) -> Void)?
        /// Runs once on each pool thread as it starts, before any request: warm per-thread
        /// renderer state (font maps) here, so no request pays for it.
        public var threadStart: (@Sendable () -> Void)?
        /// Told how long each chart this process rendered and published took (render, write and
        /// sync): for a latency histogram.
        public var renderTimeObserver: (@Sendable (Duration) -> Void)?
        /// Told of each chart this process published (its name and size in bytes), from the
        /// writer itself: a fill that outlives every request waiting for it is reported too.
        public var publishObserver: (@Sendable (ChartName, Int) -> Void)?
        /// The process's blocking pool, when its owner (a server) shares it with other work; nil
        /// makes the cache its own pool of `blockingThreads` threads running `threadStart`.
        /// `shutdown()` stops only a pool the cache made.
        public var pool: BlockingThreadPool?
        /// Where request deadlines are scheduled: the same NIO event loops, and the same timer
        /// mechanism, as the server's connection deadlines (Hummingbird's default group).
        public var timers: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

        /// Creates a configuration for `directory` with the defaults of DESIGN.
        public init(
            directory: String, deadline: Duration = .seconds(10), abandonedGracePeriod: Duration = .seconds(1),
            blockingThreads: Int = max(2, ProcessInfo.processInfo.activeProcessorCount),
            sweepOnStart: Bool = true, writerStageObserver: (@Sendable (WriterStage, ChartName) -> Void)? = nil,
            threadStart: (@Sendable () -> Void)? = nil
        ) {
            self.directory = directory
            self.deadline = deadline
            self.abandonedGracePeriod = abandonedGracePeriod
            self.blockingThreads = blockingThreads
            self.sweepOnStart = sweepOnStart
            self.writerStageObserver = writerStageObserver
            self.threadStart = threadStart
        }
    }

    /// The configuration in use.
    public let configuration: Configuration
    /// The pool that runs every blocking call; the server may share it for other file work.
    public let pool: BlockingThreadPool
    private let ownsPool: Bool

    private let directory: ChartDirectory
    private let recorder = StatisticsRecorder()
    private let fills = Mutex<[ChartName: Fill]>([:])
    /// Ids are unique for the cache's lifetime: a fill's id is its first waiter's, so a deadline
    /// timer left over from an earlier fill of the same chart can never expire a later one.
    private let nextWaiter = Atomic<UInt64>(0)

    /// One fill under way and the requests waiting for it.
    private struct Fill {
        let id: UInt64
        var waiters: [UInt64: Waiter] = [:]
        /// One timer per fill, armed at its oldest waiter's deadline and re-armed for the next
        /// while others wait: a timer per request cost a scheduling wake-up each, and NIO cancels
        /// by a linear search.
        var timer: Scheduled<Void>?
    }

    /// A request waiting for a fill.
    private struct Waiter {
        var continuation: CheckedContinuation<CachedChart, Error>
        var deadline: NIODeadline
    }

    /// Opens the cache on `configuration.directory`, creating the directory if needed.
    /// - Throws: `ChartCacheError` (`directoryUnusable`) when the directory cannot be created
    ///   or written, with a message that says what to fix.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        try Self.checkDirectory(configuration.directory)
        ownsPool = configuration.pool == nil
        pool =
            configuration.pool
            ?? BlockingThreadPool(
                threadCount: configuration.blockingThreads, name: "chartcache", threadStart: configuration.threadStart)
        directory = ChartDirectory(
            path: configuration.directory, grace: ChartDirectory.seconds(configuration.abandonedGracePeriod),
            statistics: recorder, observer: configuration.writerStageObserver,
            renderTimeObserver: configuration.renderTimeObserver, publishObserver: configuration.publishObserver,
            directorySync: DirectorySync(path: configuration.directory))
        if configuration.sweepOnStart { _ = directory.sweepAbandoned() }
    }

    /// Stops the threads of a pool the cache made (not a pool it was given). Requests under way finish first.
    public func shutdown() {
        if ownsPool { pool.shutdown() }
    }

    /// Counters since the cache was created.
    public var statistics: ChartCacheStatistics { recorder.snapshot }

    /// Returns the published chart `name`, rendering it with `render` if no one has.
    ///
    /// `render` runs on a pool thread, at most once per chart across every process sharing the
    /// directory while writers are alive. Its failure is reported to every waiter and never
    /// stored.
    /// - Throws: `ChartCacheError`: `busy` when the deadline passes, `renderFailed`,
    ///   `writeFailed`, or `directoryUnusable`.
    public func chart(
        named name: ChartName, render: @escaping @Sendable () throws -> [UInt8]
    ) async throws -> CachedChart {
        let deadline = ContinuousClock.now + configuration.deadline
        let timerDeadline = NIODeadline.now() + TimeAmount(configuration.deadline)
        return try await withCheckedThrowingContinuation { continuation in
            let waiter = nextWaiter.add(1, ordering: .relaxed).newValue
            let startsFill = fills.withLock { fills -> Bool in
                let startsFill = fills[name] == nil
                if startsFill { fills[name] = Fill(id: waiter) }
                fills[name]?.waiters[waiter] = Waiter(continuation: continuation, deadline: timerDeadline)
                return startsFill
            }
            recorder.update { statistics in
                if startsFill { statistics.fills += 1 } else { statistics.coalesced += 1 }
            }
            guard startsFill else { return }
            // Even a request stuck behind a full pool answers at its deadline. The first waiter's
            // deadline is the fill's earliest.
            armTimer(of: name, fill: waiter, at: timerDeadline)
            pool.submit { [self] in
                let result = Result { try directory.fill(name, deadline: deadline, render: render) }
                let fill = fills.withLock { fills in fills.removeValue(forKey: name) }
                fill?.timer?.cancel()
                let waiters = fill?.waiters ?? [:]
                if case .failure(let error as ChartCacheError) = result, error.code == .busy {
                    recorder.update { $0.busy += waiters.count }
                }
                for (_, waiter) in waiters.sorted(by: { $0.key < $1.key }) {
                    waiter.continuation.resume(with: result)
                }
            }
        }
    }

    /// Schedules the deadline timer of fill `id` of `name`, unless the fill has ended or has one.
    private func armTimer(of name: ChartName, fill id: UInt64, at deadline: NIODeadline) {
        let timer = configuration.timers.next().scheduleTask(deadline: deadline) { [self] in
            expireWaiters(of: name, fill: id)
        }
        let armed = fills.withLock { fills in
            guard fills[name]?.id == id, fills[name]?.timer == nil else { return false }
            fills[name]?.timer = timer
            return true
        }
        if !armed { timer.cancel() }
    }

    /// Answers `busy` to the waiters of fill `id` whose deadline passed, and re-arms the timer for
    /// the next one (at most once a millisecond, however many wait).
    private func expireWaiters(of name: ChartName, fill id: UInt64) {
        let now = NIODeadline.now()
        let (expired, next) = fills.withLock { fills -> ([(UInt64, Waiter)], NIODeadline?) in
            guard var fill = fills[name], fill.id == id else { return ([], nil) }
            let expired = fill.waiters.filter { $0.value.deadline <= now }
            for waiter in expired.keys { fill.waiters.removeValue(forKey: waiter) }
            fill.timer = nil
            fills[name] = fill
            return (expired.sorted { $0.key < $1.key }, fill.waiters.values.map(\.deadline).min())
        }
        if !expired.isEmpty { recorder.update { $0.busy += expired.count } }
        for (_, waiter) in expired {
            waiter.continuation.resume(
                throwing: ChartCacheError(.busy, name: name.fileName, "\(name) is still being rendered; retry shortly"))
        }
        if let next { armTimer(of: name, fill: id, at: max(next, now + .milliseconds(1))) }
    }

    /// What `prune(keeping:olderThan:dryRun:)` did.
    public struct PruneReport: Sendable {
        /// Files removed (or, in a dry run, that would be), with their sizes in bytes.
        public var removed: [(name: String, bytes: Int)] = []
        /// Published charts kept: current, or younger than the cut-off.
        public var kept = 0
        /// Files that could not be removed, with the reason.
        public var failures: [String] = []
    }

    /// What the cache publishes: charts (PNG, SVG), cards (PNG) and reports (PDF). Anything else in
    /// the directory is not ours to remove.
    public static let publishedExtensions = [".png", ".svg", ".pdf"]

    /// Removes published charts that are not in `current` and were last modified before
    /// `cutoff`. Pending files, locks, other hidden files, directories, links and names that are
    /// not valid chart names are never touched.
    public func prune(
        keeping current: Set<ChartName>, olderThan cutoff: Date, dryRun: Bool
    ) async throws
        -> PruneReport
    {
        let path = configuration.directory
        let keep = Set(current.map(\.fileName))
        return try await pool.run {
            var report = PruneReport()
            let entries: [String]
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            } catch {
                throw ChartCacheError(
                    .directoryUnusable, name: "",
                    "cannot list the chart directory \(path): \(error.localizedDescription)",
                    underlying: "\(error)")
            }
            for entry in entries {
                guard let name = try? ChartName(validating: entry),
                    Self.publishedExtensions.contains(where: name.fileName.hasSuffix)
                else { continue }
                let file = path + "/" + name.fileName
                var status = stat()
                guard lstat(file, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { continue }
                if keep.contains(entry) || Double(status.st_mtim.tv_sec) >= cutoff.timeIntervalSince1970 {
                    report.kept += 1
                    continue
                }
                if !dryRun && unlink(file) != 0 {
                    report.failures.append("cannot remove \(file): \(String(cString: strerror(errno)))")
                    continue
                }
                report.removed.append((entry, Int(status.st_size)))
            }
            return report
        }
    }

    /// Checks that `path` is a directory this process can create files in, creating it if
    /// missing.
    /// - Throws: `ChartCacheError` (`directoryUnusable`) with a message that says what to fix.
    public static func checkDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ChartCacheError(
                .directoryUnusable, name: "",
                "cannot create the chart directory \(path): \(error.localizedDescription); "
                    + "create it, or pass a writable --charts-dir")
        }
        let probe = "\(path)/.write-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).pending"
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ChartCacheError.system(
                .directoryUnusable, name: "", call: "creating a file in", path: path, errno: errno,
                hint: "make the chart directory writable by this user (uid \(getuid())), or pass another --charts-dir")
        }
        close(descriptor)
        unlink(probe)
    }
}
