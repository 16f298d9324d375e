import Synchronization

/// What a cache did since it was created: the numbers the server exports as metrics.
public struct ChartCacheStatistics: Sendable, Hashable {
    /// Charts this process rendered and published.
    public var renders = 0
    /// Requests answered from a published file.
    public var hits = 0
    /// Requests that waited for a writer (in any process) to finish.
    public var waits = 0
    /// Abandoned pending files taken over from dead writers.
    public var takeovers = 0
    /// Renders or writes that failed (reported, never stored).
    public var failures = 0
    /// Requests that gave up at their deadline.
    public var busy = 0
    /// Requests that joined a fill already under way in this process.
    public var coalesced = 0
    /// Blocking fills started (one per chart per moment, however many requests ask).
    public var fills = 0
    /// Pending files removed by the start-up sweep.
    public var sweptPendingFiles = 0
    /// Time spent rendering, in seconds (see `Configuration.renderTimeObserver` for each render).
    public var renderSeconds = 0.0

    /// All zero: a cache that has done nothing yet.
    public init() {}

    mutating func recordRender(seconds: Double) {
        renders += 1
        renderSeconds += seconds
    }
}

/// Thread-safe counters behind `ChartCache.statistics`.
final class StatisticsRecorder: Sendable {
    private let state = Mutex(ChartCacheStatistics())

    func update(_ change: (inout ChartCacheStatistics) -> Void) {
        state.withLock { change(&$0) }
    }

    var snapshot: ChartCacheStatistics { state.withLock { $0 } }
}
