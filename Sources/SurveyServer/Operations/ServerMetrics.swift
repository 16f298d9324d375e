import ChartCache
import Foundation
import HTTPHardening
import Hummingbird
import NIOCore
import Prometheus
import Synchronization

/// The server's metrics, on a Prometheus registry of its own (no global bootstrap, so several
/// servers can live in one test process), each with its `# HELP`. Collectors are made once and
/// reused; the figures other parts keep (the chart cache, streams, the scheduler) are brought
/// into real counters and gauges when `/metrics` is read.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Request collectors by label set: the registry's own lookup is too slow per request.
    private let requests = Mutex<[String: (counter: Counter, timer: DurationHistogram)]>([:])
    private let timeouts = Mutex<[String: Counter]>([:])
    private let shed: Counter
    private let renderTime: DurationHistogram
    /// The chart cache's counters, and what they had reached at the last scrape.
    private let cacheCounters: [(keyPath: KeyPath<ChartCacheStatistics, Int> & Sendable, counter: Counter)]
    private let reportedCache = Mutex(ChartCacheStatistics())
    private let streamedBytes: Gauge, streamsWaiting: Gauge, prerenderLeader: Gauge
    private let pagesCached: Gauge, pageBytesCached: Gauge
    private let prerenderPasses: Counter
    private let reportedPasses = Mutex(0)
    private let databaseFailures: Counter
    private let reportedDatabaseFailures = Mutex(0)
    private let ready: Gauge

    static let requestBuckets: [Duration] = [
        .microseconds(250), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
        .milliseconds(500), .seconds(2), .seconds(10),
    ]

    /// Every metric's name and help text, in one place.
    enum Name {
        static var requests: MetricNameDescriptor {
            metric("surveycharts_http_requests_total", "HTTP requests answered, by route class, method and status.")
        }
        static var requestDuration: MetricNameDescriptor {
            metric(
                "surveycharts_http_request_duration_seconds",
                "Time from a request's head to its response, by route class.")
        }
        static var timedOut: MetricNameDescriptor {
            metric(
                "surveycharts_connections_timed_out_total", "Connections closed for breaking a timeout, by which one.")
        }
        static var shed: MetricNameDescriptor {
            metric(
                "surveycharts_connections_shed_total",
                "Waiting connections closed unserved: no file descriptor was left.")
        }
        static var renderTime: MetricNameDescriptor {
            metric(
                "surveycharts_chart_render_seconds", "Time to draw, encode, write, fsync and publish one chart.")
        }
        static var renders: MetricNameDescriptor {
            metric("surveycharts_chart_renders_total", "Charts drawn and published by this process.")
        }
        static var hits: MetricNameDescriptor {
            metric("surveycharts_chart_cache_hits_total", "Chart requests answered by a published file.")
        }
        static var waits: MetricNameDescriptor {
            metric(
                "surveycharts_chart_cache_waits_total", "Chart requests that waited for another writer to publish.")
        }
        static var takeovers: MetricNameDescriptor {
            metric(
                "surveycharts_chart_cache_takeovers_total",
                "Abandoned partial chart files taken over from dead writers.")
        }
        static var failures: MetricNameDescriptor {
            metric("surveycharts_chart_cache_failures_total", "Chart renders or writes that failed.")
        }
        static var busy: MetricNameDescriptor {
            metric(
                "surveycharts_chart_cache_busy_total",
                "Chart requests answered 503 because a writer held past the deadline.")
        }
        static var coalesced: MetricNameDescriptor {
            metric(
                "surveycharts_chart_cache_coalesced_total",
                "Chart requests that joined a render under way in this process.")
        }
        static var streamedBytes: MetricNameDescriptor {
            metric(
                "surveycharts_streamed_bytes_buffered", "Bytes of large files read and not yet taken by clients.")
        }
        static var streamsWaiting: MetricNameDescriptor {
            metric(
                "surveycharts_streams_waiting", "Large-file streams waiting for room in the streamed-bytes budget.")
        }
        static var prerenderLeader: MetricNameDescriptor {
            metric(
                "surveycharts_prerender_leader", "1 while this process leads the pre-render scheduler, else 0.")
        }
        static var pagesCached: MetricNameDescriptor {
            metric("surveycharts_pages_cached", "Rendered pages held in memory.")
        }
        static var pageBytesCached: MetricNameDescriptor {
            metric("surveycharts_page_bytes_cached", "Bytes of rendered pages held in memory.")
        }
        static var databaseFailures: MetricNameDescriptor {
            metric(
                "surveycharts_database_failures_total",
                "Times the database could not be reached (connections refused or lost, answers past the deadline).")
        }
        static var ready: MetricNameDescriptor {
            metric(
                "surveycharts_ready",
                "1 when the database answered the last readiness probe.")
        }
        static var prerenderPasses: MetricNameDescriptor {
            metric(
                "surveycharts_prerender_passes_total", "Pre-render passes this process ran as the leader.")
        }

        private static func metric(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
    }

    init() {
        shed = registry.makeCounter(descriptor: Name.shed)
        renderTime = registry.makeDurationHistogram(
            descriptor: Name.renderTime,
            buckets: [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(10),
            ])
        cacheCounters = [
            (\.renders, Name.renders), (\.hits, Name.hits), (\.waits, Name.waits), (\.takeovers, Name.takeovers),
            (\.failures, Name.failures), (\.busy, Name.busy), (\.coalesced, Name.coalesced),
        ].map { [registry] in ($0.0, registry.makeCounter(descriptor: $0.1)) }
        streamedBytes = registry.makeGauge(descriptor: Name.streamedBytes)
        streamsWaiting = registry.makeGauge(descriptor: Name.streamsWaiting)
        prerenderLeader = registry.makeGauge(descriptor: Name.prerenderLeader)
        pagesCached = registry.makeGauge(descriptor: Name.pagesCached)
        pageBytesCached = registry.makeGauge(descriptor: Name.pageBytesCached)
        prerenderPasses = registry.makeCounter(descriptor: Name.prerenderPasses)
        databaseFailures = registry.makeCounter(descriptor: Name.databaseFailures)
        ready = registry.makeGauge(descriptor: Name.ready)
    }

    /// Route classes, so labels stay few whatever the URLs.
    static func routeClass(_ path: String) -> String {
        if path == "/" { return "home" }
        if path.hasPrefix("/piecharts/") { return "chart" }
        if path.hasPrefix("/static/") { return "static" }
        if path.hasPrefix("/surveys/") { return path.hasSuffix("/results.json") ? "results_json" : "survey" }
        if path.hasPrefix("/api/") { return "api" }
        if path == "/healthz" || path == "/readyz" || path == "/metrics" { return "operations" }
        return "other"
    }

    func record(route: String, method: String, status: Int, duration: Duration) {
        let key = "\(route) \(method) \(status)"
        let collectors =
            requests.withLock { $0[key] }
            ?? {
                let made = (
                    counter: registry.makeCounter(
                        descriptor: Name.requests,
                        labels: [("route", route), ("method", method), ("status", String(status))]),
                    timer: registry.makeDurationHistogram(
                        descriptor: Name.requestDuration, labels: [("route", route)], buckets: Self.requestBuckets)
                )
                requests.withLock { $0[key] = made }
                return made
            }()
        collectors.counter.increment()
        collectors.timer.record(duration)
    }

    /// Counts a connection closed because it broke a timeout (`reason`: header, body, ...).
    func connectionTimedOut(_ reason: String) {
        let counter =
            timeouts.withLock { $0[reason] }
            ?? {
                let made = registry.makeCounter(descriptor: Name.timedOut, labels: [("reason", reason)])
                timeouts.withLock { $0[reason] = made }
                return made
            }()
        counter.increment()
    }

    /// Counts a waiting connection closed unserved because the process had no descriptors left.
    func connectionShed() { shed.increment() }

    /// Records how long a chart took to render and publish (the cache's `renderTimeObserver`).
    func chartRendered(in duration: Duration) { renderTime.record(duration) }

    /// The exposition text, after bringing the cache's, the streams' and the scheduler's figures
    /// into their collectors.
    func exposition(
        cache: ChartCacheStatistics, prerenderLeader isLeader: Bool, prerenderPasses passes: Int,
        pagesCached pages: (count: Int, bytes: Int) = (0, 0), readiness: Readiness.Report? = nil
    ) -> String {
        if let readiness {
            reportedDatabaseFailures.withLock { reported in
                if readiness.databaseFailures > reported {
                    databaseFailures.increment(by: Int64(readiness.databaseFailures - reported))
                }
                reported = max(reported, readiness.databaseFailures)
            }
            ready.set(Int64(readiness.isReady ? 1 : 0))
        }
        reportedCache.withLock { reported in
            for (keyPath, counter) in cacheCounters where cache[keyPath: keyPath] > reported[keyPath: keyPath] {
                counter.increment(by: Int64(cache[keyPath: keyPath] - reported[keyPath: keyPath]))
            }
            reported = cache
        }
        reportedPasses.withLock { reported in
            if passes > reported { prerenderPasses.increment(by: Int64(passes - reported)) }
            reported = max(reported, passes)
        }
        streamedBytes.set(Int64(StreamedBytesBudget.live.load(ordering: .relaxed)))
        streamsWaiting.set(Int64(StreamedBytesBudget.waiting))
        prerenderLeader.set(Int64(isLeader ? 1 : 0))
        pagesCached.set(Int64(pages.count))
        pageBytesCached.set(Int64(pages.bytes))
        return registry.emitToString()
    }
}

/// Counts and times every request.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let route = ServerMetrics.routeClass(request.uri.path)
        do {
            let response = try await next(request, context)
            metrics.record(
                route: route, method: request.method.rawValue, status: response.status.code,
                duration: ContinuousClock.now - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.record(
                route: route, method: request.method.rawValue, status: status, duration: ContinuousClock.now - start)
            throw error
        }
    }
}
