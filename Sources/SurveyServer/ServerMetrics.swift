import ChartCache
import CoreMetrics
import Foundation
import Hummingbird
import NIOCore
import Prometheus
import Synchronization

/// The server's metrics, through swift-metrics with a Prometheus backend of our own (no global
/// bootstrap, so several servers can live in one test process). Collectors are made once and
/// reused; the figures other parts keep (the chart cache, streams, the scheduler) are brought
/// into real counters and gauges when `/metrics` is read.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Request collectors by label set: the factory's own lookup is too slow per request.
    private let requests = Mutex<[String: (counter: CoreMetrics.Counter, timer: CoreMetrics.Timer)]>([:])
    private let timeouts = Mutex<[String: CoreMetrics.Counter]>([:])
    private let shed: CoreMetrics.Counter
    private let renderTime: CoreMetrics.Timer
    /// The chart cache's counters, and what they had reached at the last scrape.
    private let cacheCounters: [(keyPath: KeyPath<ChartCacheStatistics, Int> & Sendable, counter: CoreMetrics.Counter)]
    private let reportedCache = Mutex(ChartCacheStatistics())
    private let streamedBytes: CoreMetrics.Gauge, streamsWaiting: CoreMetrics.Gauge, prerenderLeader: CoreMetrics.Gauge
    private let pagesCached: CoreMetrics.Gauge, pageBytesCached: CoreMetrics.Gauge
    private let prerenderPasses: CoreMetrics.Counter
    private let reportedPasses = Mutex(0)

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let requestBuckets: [Duration] = [
            .microseconds(250), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
            .milliseconds(500), .seconds(2), .seconds(10),
        ]
        factory.durationHistogramBuckets = [
            "surveycharts_http_request_duration_seconds": requestBuckets,
            "surveycharts_chart_render_seconds": [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(10),
            ],
        ]
        self.factory = factory
        shed = CoreMetrics.Counter(label: "surveycharts_connections_shed_total", factory: factory)
        renderTime = CoreMetrics.Timer(label: "surveycharts_chart_render_seconds", factory: factory)
        cacheCounters = [
            (\.renders, "surveycharts_chart_renders_total"), (\.hits, "surveycharts_chart_cache_hits_total"),
            (\.waits, "surveycharts_chart_cache_waits_total"),
            (\.takeovers, "surveycharts_chart_cache_takeovers_total"),
            (\.failures, "surveycharts_chart_cache_failures_total"), (\.busy, "surveycharts_chart_cache_busy_total"),
            (\.coalesced, "surveycharts_chart_cache_coalesced_total"),
        ].map { ($0.0, CoreMetrics.Counter(label: $0.1, factory: factory)) }
        streamedBytes = CoreMetrics.Gauge(label: "surveycharts_streamed_bytes_buffered", factory: factory)
        streamsWaiting = CoreMetrics.Gauge(label: "surveycharts_streams_waiting", factory: factory)
        prerenderLeader = CoreMetrics.Gauge(label: "surveycharts_prerender_leader", factory: factory)
        pagesCached = CoreMetrics.Gauge(label: "surveycharts_pages_cached", factory: factory)
        pageBytesCached = CoreMetrics.Gauge(label: "surveycharts_page_bytes_cached", factory: factory)
        prerenderPasses = CoreMetrics.Counter(label: "surveycharts_prerender_passes_total", factory: factory)
    }

    /// Route classes, so labels stay few whatever the URLs.
    static func routeClass(_ path: String) -> String {
        if path == "/" { return "home" }
        if path.hasPrefix("/piecharts/") { return "chart" }
        if path.hasPrefix("/static/") { return "static" }
        if path.hasPrefix("/surveys/") { return path.hasSuffix("/results.json") ? "results_json" : "survey" }
        if path.hasPrefix("/api/") { return "api" }
        if path == "/healthz" || path == "/metrics" { return "operations" }
        return "other"
    }

    func record(route: String, method: String, status: Int, duration: Duration) {
        let key = "\(route) \(method) \(status)"
        let collectors =
            requests.withLock { $0[key] }
            ?? {
                let made = (
                    counter: CoreMetrics.Counter(
                        label: "surveycharts_http_requests_total",
                        dimensions: [("route", route), ("method", method), ("status", String(status))],
                        factory: factory),
                    timer: CoreMetrics.Timer(
                        label: "surveycharts_http_request_duration_seconds", dimensions: [("route", route)],
                        factory: factory)
                )
                requests.withLock { $0[key] = made }
                return made
            }()
        collectors.counter.increment()
        collectors.timer.recordNanoseconds(TimeAmount(duration).nanoseconds)
    }

    /// Counts a connection closed because it broke a timeout (`reason`: header, body, ...).
    func connectionTimedOut(_ reason: String) {
        let counter =
            timeouts.withLock { $0[reason] }
            ?? {
                let made = CoreMetrics.Counter(
                    label: "surveycharts_connections_timed_out_total", dimensions: [("reason", reason)],
                    factory: factory)
                timeouts.withLock { $0[reason] = made }
                return made
            }()
        counter.increment()
    }

    /// Counts a waiting connection closed unserved because the process had no descriptors left.
    func connectionShed() { shed.increment() }

    /// Records how long a chart took to render and publish (the cache's `renderTimeObserver`).
    func chartRendered(in duration: Duration) { renderTime.recordNanoseconds(TimeAmount(duration).nanoseconds) }

    /// The exposition text, after bringing the cache's, the streams' and the scheduler's figures
    /// into their collectors.
    func exposition(
        cache: ChartCacheStatistics, prerenderLeader isLeader: Bool, prerenderPasses passes: Int,
        pagesCached pages: (count: Int, bytes: Int) = (0, 0)
    ) -> String {
        reportedCache.withLock { reported in
            for (keyPath, counter) in cacheCounters where cache[keyPath: keyPath] > reported[keyPath: keyPath] {
                counter.increment(by: cache[keyPath: keyPath] - reported[keyPath: keyPath])
            }
            reported = cache
        }
        reportedPasses.withLock { reported in
            if passes > reported { prerenderPasses.increment(by: passes - reported) }
            reported = max(reported, passes)
        }
        streamedBytes.record(StreamedBytesBudget.live.load(ordering: .relaxed))
        streamsWaiting.record(StreamedBytesBudget.waiting)
        prerenderLeader.record(isLeader ? 1 : 0)
        pagesCached.record(pages.count)
        pageBytesCached.record(pages.bytes)
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
