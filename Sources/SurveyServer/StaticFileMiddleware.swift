import ChartCache
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SurveyCharts

/// Our static file handler for `/static` and `/piecharts` (DESIGN "Static handler").
///
/// Hummingbird's `FileMiddleware` is not good enough: weak ETags, no suffix ranges, and it
/// refuses names such as `a..b.png`. This one decodes the path once, refuses hostile paths,
/// serves hot files from memory, and answers conditional and range requests.
struct StaticFileMiddleware<Context: RequestContext>: RouterMiddleware {
    let staticFiles: StaticFileStore
    let charts: StaticFileStore
    let chartFiles: SurveyChartFiles
    let metrics: ServerMetrics
    /// Told of every API chart served, so the least recently used can be removed first.
    let apiChartServed: @Sendable (String, Int) async -> Void

    static var immutable: String { "public, max-age=31536000, immutable" }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let path = request.uri.path
        if path.hasPrefix("/static/") || path == "/static" {
            return try await serve(request, rawPath: path.dropFirst("/static".count), isChart: false)
        }
        if path.hasPrefix("/piecharts/") || path == "/piecharts" {
            return try await serve(request, rawPath: path.dropFirst("/piecharts".count), isChart: true)
        }
        return try await next(request, context)
    }

    private func serve(_ request: Request, rawPath: Substring, isChart: Bool) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            return Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD", .contentLength: "0"])
        }
        let segments: [String]
        do {
            segments = try StaticFileRules.segments(ofRawPath: rawPath.dropFirst())
        } catch {
            if case .malformed(let reason) = error { return plain(.badRequest, "bad path: \(reason)") }
            return plain(.notFound, "not found")
        }
        if isChart {
            return try await serveChart(request, segments: segments)
        }
        guard let file = try await staticFiles.file(segments) else { return plain(.notFound, "not found") }
        return respond(request, file: file)
    }

    private func serveChart(_ request: Request, segments: [String]) async throws -> Response {
        guard segments.count == 1 else { return plain(.notFound, "not found") }
        let name = segments[0]
        // A chart still being drawn past the deadline is `ChartCacheError.busy`: 503, retry in 1 s.
        switch try await chartFiles.file(named: name, existing: { _ in try await charts.file(segments) }) {
        case .notFound:
            return plain(.notFound, "not found")
        case .existing(let file):
            if ChartName.isAPIChart(name) { await apiChartServed(name, file.facts.size) }
            return respond(request, file: file)
        case .rendered(let chart):
            // The rendered bytes go to memory as they are; nothing is read back from disk.
            let file = charts.remember(
                segments, bytes: chart.bytes, modified: chart.modificationTime, device: chart.device,
                inode: chart.inode)
            return respond(request, file: file)
        }
    }

    private func respond(_ request: Request, file: StaticFile) -> Response {
        let answer = file.answer(method: request.method, headers: request.headers)
        if file.streamedFrom != nil, let range = answer.range, !range.isEmpty {
            let store = isChartPath(request) ? charts : staticFiles
            return Response(
                status: answer.status, headers: answer.headers,
                body: ResponseBody(contentLength: range.count) { writer in
                    try await store.stream(file, range: range, to: &writer)
                })
        }
        return Response(
            status: answer.status, headers: answer.headers, body: .init(byteBuffer: answer.body ?? ByteBuffer()))
    }

    private func isChartPath(_ request: Request) -> Bool { request.uri.path.hasPrefix("/piecharts/") }

    private func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
