import ChartCache
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PieChart
import StaticFiles
import SurveyCharts

/// `POST /api/charts/pie`: a chart from a client's spec, within `ChartAPILimits`: keys, a rate
/// per client, a pixel budget, renders in flight, and a disk budget for the files it leaves.
struct ChartAPIRoutes: Sendable {
    let limits: ChartAPILimits
    let chartFiles: SurveyChartFiles
    let charts: StaticFileStore
    let apiCharts: APICharts
    let pool: BlockingThreadPool
    let maximumBodyBytes: Int
    let deadline: Duration
    let rateLimiter: ClientRateLimiter
    let renders: AdmissionLimiter

    init(
        limits: ChartAPILimits, chartFiles: SurveyChartFiles, charts: StaticFileStore, apiCharts: APICharts,
        pool: BlockingThreadPool, maximumBodyBytes: Int, deadline: Duration
    ) {
        self.limits = limits
        self.chartFiles = chartFiles
        self.charts = charts
        self.apiCharts = apiCharts
        self.pool = pool
        self.maximumBodyBytes = maximumBodyBytes
        self.deadline = deadline
        rateLimiter = ClientRateLimiter(rate: limits.requestsPerSecond, burst: limits.burst)
        renders = AdmissionLimiter(permits: limits.rendersInFlight)
    }

    func addRoutes(to router: Router<SurveyRequestContext>) {
        router.post("/api/charts/pie") { request, context in try await render(request, context: context) }
    }

    func render(_ request: Request, context: SurveyRequestContext) async throws -> Response {
        if let keys = limits.keys {
            let bearer = request.headers[.authorization].flatMap { value -> String? in
                value.lowercased().hasPrefix("bearer ") ? String(value.dropFirst("bearer ".count)) : nil
            }
            guard let key = bearer ?? request.headers[.xAPIKey], keys.contains(key) else {
                throw ServiceError(
                    .unauthorized, code: .apiKeyRequired, title: "Unauthorized",
                    "this chart API needs a key: send it as Authorization: Bearer <key> or X-API-Key",
                    headers: [.wwwAuthenticate: "Bearer realm=\"surveycharts\""])
            }
        }
        if let wait = rateLimiter.take(context.client.limitKey) {
            throw ServiceError(
                .tooManyRequests, code: .rateLimited, title: "Too many requests",
                "at most \(limits.requestsPerSecond) charts a second per client; try again in \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        var request = request
        // Too large a body (413) and a spec that breaks the rules (400) answer for themselves.
        let body = try await request.collectBody(upTo: maximumBodyBytes)
        let chartRequest = try ChartRequest(json: body.readableBytesView)
        let spec = chartRequest.spec
        let pixels = spec.width * spec.height * spec.scale * spec.scale
        guard pixels <= limits.maximumPixels else {
            throw ServiceError(
                .badRequest, code: .tooManyPixels, title: "Bad chart spec",
                "\(spec.width)×\(spec.height) at scale \(spec.scale) is \(pixels) pixels; this API draws at most "
                    + "\(limits.maximumPixels)", field: "width")
        }
        do {
            let chart = try await renders.run(deadline: deadline) {
                try await chartFiles.render(spec, as: chartRequest.format)
            }
            charts.remember(
                [chart.name.fileName], bytes: chart.bytes, modified: chart.modificationTime, device: chart.device,
                inode: chart.inode)
            // A chart this request rendered was counted by its writer; one found on disk is a use.
            if chart.outcome != .rendered {
                await apiCharts.used(chart.name.fileName, bytes: chart.bytes.count, pool: pool)
            }
            var headers: HTTPFields = [
                .contentType: StaticFileRules.contentType(forName: chart.name.fileName),
                .contentLocation: "/piecharts/\(chart.name.fileName)",
                .cacheControl: StaticFileMiddleware<SurveyRequestContext>.immutable, .xContentTypeOptions: "nosniff",
            ]
            if chartRequest.format == .svg { headers[.contentSecurityPolicy] = StaticFileRules.svgPolicy }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: chart.bytes)))
        } catch let error as ChartCacheError where error.code == .renderFailed {
            // The client's spec was valid but cannot be drawn on its canvas (a legend that cannot
            // fit): the request's fault here, where a question's chart failing would be the server's.
            throw ServiceError(
                .badRequest, code: .cannotRender, title: "Bad chart spec", error.underlying ?? error.message,
                field: "slices")
        }
    }
}
