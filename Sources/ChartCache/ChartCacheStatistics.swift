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
    /// Total render time, in seconds.
    public var renderSeconds = 0.0
    /// Render times: counts per upper bound, in seconds (cumulative buckets, Prometheus style).
    public var renderTimeBuckets: [(upperBound: Double, count: Int)] = ChartCacheStatistics.bucketBounds.map {
        ($0, 0)
    }

    /// Upper bounds of the render-time histogram, in seconds.
    public static let bucketBounds: [Double] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10]

    mutating func recordRender(seconds: Double) {
        renders += 1
        renderSeconds += seconds
        for index in renderTimeBuckets.indices where seconds <= renderTimeBuckets[index].upperBound {
            renderTimeBuckets[index].count += 1
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.renders == rhs.renders && lhs.hits == rhs.hits && lhs.waits == rhs.waits
            && lhs.takeovers == rhs.takeovers && lhs.failures == rhs.failures && lhs.busy == rhs.busy
            && lhs.coalesced == rhs.coalesced && lhs.fills == rhs.fills
            && lhs.sweptPendingFiles == rhs.sweptPendingFiles && lhs.renderSeconds == rhs.renderSeconds
            && lhs.renderTimeBuckets.map(\.count) == rhs.renderTimeBuckets.map(\.count)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(renders)
        hasher.combine(hits)
        hasher.combine(fills)
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
