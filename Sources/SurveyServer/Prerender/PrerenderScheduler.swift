import ChartCache
import Foundation
import HTTPHardening
import Logging
import ServiceLifecycle
import SurveyCharts
import Surveys
import Synchronization

/// Time for the scheduler; tests move it instead of waiting for midnight.
public protocol SchedulerClock: Sendable {
    /// The current instant.
    func now() -> Date
    /// Suspends until `instant` (or a little before, to look again), or throws when cancelled.
    func sleep(until instant: Date) async throws
}

/// The real clock, shifted like the server's (`--today`).
public struct SystemSchedulerClock: SchedulerClock {
    let current: @Sendable () -> Date

    /// A clock that reads `current`.
    public init(current: @escaping @Sendable () -> Date = { Date() }) { self.current = current }

    public func now() -> Date { current() }

    public func sleep(until instant: Date) async throws {
        // Wake at least once a minute, so a changed system clock is noticed.
        let seconds = min(max(instant.timeIntervalSince(current()), 0.001), 60)
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    }
}

/// Pre-renders every chart of a survey when its closing day ends, and catches up at start-up.
///
/// Servers sharing a chart directory elect one leader with `flock` on `.prerender.lock` there;
/// the others retry, so a new leader takes over when the old one dies. Pages never wait for
/// it: a chart that is not ready yet is rendered on demand through the same cache.
///
/// It is a `Service`: the server runs it in its service group beside the HTTP server, so a
/// graceful shutdown (SIGTERM, SIGINT) stops both.
public final class PrerenderScheduler: Service, Sendable {
    /// Settings; new ones get defaults.
    public struct Configuration: Sendable {
        /// The chart directory (the lock file lives there).
        public var chartsDirectory: String
        /// The time zone days end in.
        public var timeZone: TimeZone
        /// Surveys that closed up to this many days ago are caught up on.
        public var catchUpDays = 14
        /// How often a follower tries to become the leader.
        public var leaderRetry: Duration = .seconds(5)

        /// Creates a configuration.
        public init(chartsDirectory: String, timeZone: TimeZone) {
            self.chartsDirectory = chartsDirectory
            self.timeZone = timeZone
        }
    }

    let configuration: Configuration
    let store: any SurveyStore
    let cache: ChartCache
    let clock: any SchedulerClock
    let logger: Logger
    private let lock = Mutex<Int32>(-1)
    private let passCount = Atomic<Int>(0)
    private let renderedCount = Atomic<Int>(0)

    /// Creates a scheduler; `run()` starts it.
    public init(
        configuration: Configuration, store: any SurveyStore, cache: ChartCache, clock: any SchedulerClock,
        logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.cache = cache
        self.clock = clock
        self.logger = logger
    }

    /// Whether this process holds the leader lock.
    public var isLeader: Bool { lock.withLock { $0 >= 0 } }
    /// Pre-render passes completed by this process.
    public var passes: Int { passCount.load(ordering: .relaxed) }
    /// Charts this scheduler rendered.
    public var rendered: Int { renderedCount.load(ordering: .relaxed) }

    /// Runs until the task is cancelled.
    /// Schedules until cancelled or, inside a service group, until graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.schedule() }
    }

    private func schedule() async {
        var lastDay: CalendarDay?
        defer { releaseLeadership() }
        while !Task.isCancelled {
            do {
                if !isLeader { try await tryToLead() }
                guard isLeader else {
                    try await clock.sleep(
                        until: clock.now().addingTimeInterval(configuration.leaderRetry.seconds))
                    continue
                }
                let today = CalendarDay(date: clock.now(), timeZone: configuration.timeZone)
                if today != lastDay {
                    try await prerender(completedBefore: today)
                    lastDay = today
                }
                try await clock.sleep(until: today.adding(days: 1).start(in: configuration.timeZone))
            } catch is CancellationError {
                return
            } catch {
                logger.error("prerender scheduler: \(error); retrying")
                try? await clock.sleep(until: clock.now().addingTimeInterval(configuration.leaderRetry.seconds))
            }
        }
    }

    private func prerender(completedBefore today: CalendarDay) async throws {
        let summaries = try await store.surveys(
            closingIn: today.adding(days: -configuration.catchUpDays)...today.adding(days: -1))
        var surveys: [Survey] = []
        for summary in summaries {
            if let survey = try await store.survey(id: summary.id), survey.state(on: today) == .completed {
                surveys.append(survey)
            }
        }
        let report = await Prerenderer(cache: cache).run(surveys: surveys)
        renderedCount.add(report.rendered, ordering: .relaxed)
        passCount.add(1, ordering: .relaxed)
        logger.info("prerender: \(surveys.count) surveys completed by \(today): \(report.summary)")
        for failure in report.failures { logger.error("prerender: \(failure)") }
    }

    private func tryToLead() async throws {
        let path = configuration.chartsDirectory + "/.prerender.lock"
        let descriptor = try await cache.pool.run { () -> Int32 in
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { return -1 }
            // The kernel drops the lock when this process dies, however it dies.
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return descriptor }
            close(descriptor)
            return -1
        }
        if descriptor >= 0 {
            lock.withLock { $0 = descriptor }
            logger.info("prerender: this process leads the scheduler for \(configuration.chartsDirectory)")
        }
    }

    private func releaseLeadership() {
        lock.withLock { descriptor in
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
        }
    }
}
