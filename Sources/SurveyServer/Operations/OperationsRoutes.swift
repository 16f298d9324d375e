import ChartCache
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// What operators and load balancers ask: `/healthz` and the icon on the site, and `/metrics`
/// on its own listener (`--metrics-address`), apart from the public site.
struct OperationsRoutes: Sendable {
    let metrics: ServerMetrics
    let cache: ChartCache
    let scheduler: PrerenderScheduler
    let pageCaches: PageCaches
    let favicon = ByteBuffer(string: Self.faviconSVG)

    func addRoutes(to router: Router<SurveyRequestContext>) {
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain", .xContentTypeOptions: "nosniff"],
                body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
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
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: metrics.exposition(
                            cache: cache.statistics, prerenderLeader: scheduler.isLeader,
                            prerenderPasses: scheduler.passes, pagesCached: pageCaches.held))))
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
