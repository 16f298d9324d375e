import ChartCache
import Foundation
import Hummingbird
import Prometheus
import Synchronization

/// Request counts and latencies, and the chart cache's counters, in the Prometheus text format.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Collectors by label set, made once: the registry's own lookup is too slow per request.
    private let counters = Mutex<[String: Counter]>([:])
    private let histograms = Mutex<[String: DurationHistogram]>([:])

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
        let counterKey = "\(route) \(method) \(status)"
        let counter =
            counters.withLock { $0[counterKey] }
            ?? {
                let made = registry.makeCounter(
                    descriptor: .init(
                        namespace: "surveycharts", metricName: "http_requests", unitName: "total",
                        helpText: "HTTP requests."),
                    labels: [("route", route), ("method", method), ("status", String(status))])
                counters.withLock { $0[counterKey] = made }
                return made
            }()
        counter.increment()
        let histogram =
            histograms.withLock { $0[route] }
            ?? {
                let made = registry.makeDurationHistogram(
                    descriptor: .init(
                        namespace: "surveycharts", metricName: "http_request_duration", unitName: "seconds",
                        helpText: "HTTP request latency."),
                    labels: [("route", route)],
                    buckets: [
                        .microseconds(250), .milliseconds(1), .milliseconds(5), .milliseconds(25),
                        .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10),
                    ])
                histograms.withLock { $0[route] = made }
                return made
            }()
        histogram.record(duration)
    }

    /// Counts a connection closed because it broke a timeout (`reason`: header, body, ...).
    func connectionTimedOut(_ reason: String) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "surveycharts", metricName: "connections_timed_out", unitName: "total",
                helpText: "Connections closed because they kept the server waiting."),
            labels: [("reason", reason)]
        ).increment()
    }

    /// Counts a waiting connection closed unserved because the process had no descriptors left.
    func connectionShed() {
        registry.makeCounter(
            descriptor: .init(
                namespace: "surveycharts", metricName: "connections_shed", unitName: "total",
                helpText: "Connections closed unserved because file descriptors ran out."),
            labels: []
        ).increment()
    }

    /// The exposition text: request metrics, then the cache counters.
    func exposition(cache: ChartCacheStatistics) -> String {
        var text = registry.emitToString()
        func counter(_ name: String, _ help: String, _ value: Int) {
            text +=
                "# HELP surveycharts_\(name) \(help)\n# TYPE surveycharts_\(name) counter\nsurveycharts_\(name) \(value)\n"
        }
        counter("chart_renders_total", "Charts this process rendered and published.", cache.renders)
        counter("chart_cache_hits_total", "Chart requests answered from a published file.", cache.hits)
        counter("chart_cache_waits_total", "Chart requests that waited for another writer.", cache.waits)
        counter("chart_cache_takeovers_total", "Abandoned pending chart files taken over.", cache.takeovers)
        counter("chart_cache_failures_total", "Chart renders or writes that failed.", cache.failures)
        counter("chart_cache_busy_total", "Chart requests that reached their deadline.", cache.busy)
        counter("chart_cache_coalesced_total", "Chart requests that joined a fill under way.", cache.coalesced)
        text += "# HELP surveycharts_chart_render_seconds Chart render time.\n"
        text += "# TYPE surveycharts_chart_render_seconds histogram\n"
        for bucket in cache.renderTimeBuckets {
            text += "surveycharts_chart_render_seconds_bucket{le=\"\(bucket.upperBound)\"} \(bucket.count)\n"
        }
        text += "surveycharts_chart_render_seconds_bucket{le=\"+Inf\"} \(cache.renders)\n"
        text += "surveycharts_chart_render_seconds_sum \(cache.renderSeconds)\n"
        text += "surveycharts_chart_render_seconds_count \(cache.renders)\n"
        func gauge(_ name: String, _ help: String, _ value: Int) {
            text +=
                "# HELP surveycharts_\(name) \(help)\n# TYPE surveycharts_\(name) gauge\nsurveycharts_\(name) \(value)\n"
        }
        gauge(
            "streamed_bytes_buffered", "Bytes of large files read and not yet taken by clients.",
            StreamedBytesBudget.live.load(ordering: .relaxed))
        gauge(
            "streams_waiting", "Large-file streams waiting for --max-buffered-bytes room.", StreamedBytesBudget.waiting)
        return text
    }
}

/// Counts and times every request.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
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
