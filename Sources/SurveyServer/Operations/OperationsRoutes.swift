import ChartCache
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Surveys
import Synchronization

/// What operators and load balancers ask: `/healthz` and the icon on the site, and `/metrics`
/// on its own listener (`--metrics-address`), apart from the public site.
struct OperationsRoutes: Sendable {
    let metrics: ServerMetrics
    let cache: ChartCache
    let scheduler: PrerenderScheduler
    let pageCaches: PageCaches
    let readiness: Readiness
    let favicon = ByteBuffer(string: Self.faviconSVG)

    func addRoutes(to router: Router<SurveyRequestContext>) {
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain", .xContentTypeOptions: "nosniff"],
                body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        // For load balancers: 503 while the database does not answer.
        router.get("/readyz") { [readiness] _, _ in
            let report = await readiness.report()
            return Response(
                status: report.isReady ? .ok : .serviceUnavailable,
                headers: [
                    .contentType: "text/plain; charset=utf-8", .xContentTypeOptions: "nosniff",
                    .cacheControl: "no-store",
                ],
                body: .init(byteBuffer: ByteBuffer(string: report.text)))
        }
        router.get("/favicon.ico") { [favicon] _, _ in
            Response(
                status: .ok,
                headers: [
                    .contentType: "image/svg+xml", .cacheControl: "public, max-age=86400",
                    .xContentTypeOptions: "nosniff",
                ],
                body: .init(byteBuffer: favicon))
        }
    }

    /// The metrics listener: `/metrics` alone, reachable only where the operator binds it.
    func metricsApplication(
        host: String, port: Int, listening: ListeningReport, logger: Logger
    ) -> some Service {
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.get("/metrics") { [self] _, _ in
            // The last probe's answer: scraping must not itself probe the database.
            let readiness = readiness.lastReport()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: metrics.exposition(
                            cache: cache.statistics, prerenderLeader: scheduler.isLeader,
                            prerenderPasses: scheduler.passes, pagesCached: pageCaches.held, readiness: readiness))))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "SurveyCharts"),
            onServerRunning: { channel in listening.metricsServing(channel.localAddress) }, logger: logger)
    }

    /// The site's icon: a small pie in the chart colours.
    static let faviconSVG = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">\
        <circle cx="16" cy="16" r="15" fill="#56B4E9"/>\
        <path d="M16 16V1a15 15 0 0 1 13 22.5z" fill="#0072B2"/>\
        <path d="M16 16l13 7.5A15 15 0 0 1 6 27.6z" fill="#E69F00"/></svg>

        """
}

/// Whether this process should get traffic: its database answers (probed at most once a second,
/// however often load balancers ask). A process that is stopping closes its listener at once, so
/// load balancers see that first.
final class Readiness: Sendable {
    /// What `/readyz` says.
    struct Report: Sendable {
        var isReady: Bool
        var text: String
        var databaseFailures: Int
    }

    private struct State {
        var last: (report: StoreHealth, at: ContinuousClock.Instant)?
        var probing = false
        var probeStarted = ContinuousClock.now
    }

    private let store: any SurveyStore
    private let state = Mutex(State())
    static let probeInterval: Duration = .seconds(1)
    static let probeLimit: Duration = .seconds(1)

    init(store: any SurveyStore) { self.store = store }

    /// What the last probe found, without probing.
    func lastReport() -> Report {
        var report = Self.report(state.withLock { $0.last?.report })
        report.databaseFailures = store.databaseFailures
        return report
    }

    func report() async -> Report {
        enum Next {
            case use(StoreHealth?)
            case probe
        }
        let next: Next = state.withLock { state in
            // A probe that has not answered within its limit is an answer: the database hangs.
            if state.probing, ContinuousClock.now - state.probeStarted > Self.probeLimit {
                return .use(StoreHealth(reachable: false, problem: "it did not answer a probe within 1 s"))
            }
            if let last = state.last, ContinuousClock.now - last.at < Self.probeInterval || state.probing {
                return .use(last.report)
            }
            if state.probing { return .use(nil) }
            state.probing = true
            state.probeStarted = .now
            return .probe
        }
        let health: StoreHealth?
        switch next {
        case .use(let known):
            health = known
        case .probe:
            let probed = await store.health(within: Self.probeLimit)
            state.withLock { state in
                state.last = (probed, .now)
                state.probing = false
            }
            health = probed
        }
        return Self.report(health)
    }

    private static func report(_ health: StoreHealth?) -> Report {
        guard let health else {
            return Report(isReady: false, text: "starting: the database is being probed\n", databaseFailures: 0)
        }
        guard health.reachable else {
            return Report(
                isReady: false, text: "not ready: the database does not answer (\(health.problem ?? "unknown"))\n",
                databaseFailures: health.failures)
        }
        return Report(isReady: true, text: "ready\n", databaseFailures: health.failures)
    }
}
