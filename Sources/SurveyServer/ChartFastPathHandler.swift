import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import SurveyCharts
import Synchronization

/// Answers requests for charts that are already in memory directly on the event loop.
///
/// A warm chart hit is the service's hottest request. Through Hummingbird's async handlers it
/// hops from the event loop to the concurrency pool and back; here it is answered where it was
/// read, with the same rules (`StaticFileRules`, `StaticFileMiddleware.answer`). Anything else —
/// a chart not in memory, a question whose survey state is not freshly known, other paths —
/// passes through untouched to Hummingbird.
final class ChartFastPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let charts: StaticFileStore
    private let chartFiles: SurveyChartFiles
    private let metrics: ServerMetrics
    private let dates: HTTPDateCache
    /// Chart hits answered here are logged like every other request.
    private let accessLog: AccessLog?
    /// Requests handed to Hummingbird whose responses have not ended yet. Hummingbird answers a
    /// connection's requests in order; answering here while one is pending would overtake it.
    private var pendingDownstream = 0
    /// The request being answered here: its parts are swallowed until its end.
    private var answering: FastAnswer?

    private struct FastAnswer {
        var response: HTTPResponse
        var body: ByteBuffer?
        var close: Bool
        var request: HTTPRequest
        var started: ContinuousClock.Instant
    }

    init(
        charts: StaticFileStore, chartFiles: SurveyChartFiles, metrics: ServerMetrics, dates: HTTPDateCache,
        accessLog: AccessLog?
    ) {
        self.charts = charts
        self.chartFiles = chartFiles
        self.metrics = metrics
        self.dates = dates
        self.accessLog = accessLog
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let request):
            if pendingDownstream == 0, let answer = fastAnswer(request) {
                answering = answer
            } else {
                pendingDownstream += 1
                context.fireChannelRead(data)
            }
        case .body:
            if answering == nil { context.fireChannelRead(data) }
        case .end:
            guard let answer = answering else {
                context.fireChannelRead(data)
                return
            }
            answering = nil
            context.write(wrapOutboundOut(.head(answer.response)), promise: nil)
            if let body = answer.body { context.write(wrapOutboundOut(.body(body)), promise: nil) }
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
            let duration = ContinuousClock.now - answer.started
            metrics.record(
                route: "chart", method: answer.request.method.rawValue, status: answer.response.status.code,
                duration: duration)
            accessLog?.record(
                client: context.channel.remoteAddress?.ipAddress ?? "-", method: answer.request.method.rawValue,
                target: answer.request.path ?? "", status: answer.response.status.code,
                bytes: answer.response.headerFields[.contentLength].flatMap(Int.init),
                referer: answer.request.headerFields[.referer], userAgent: answer.request.headerFields[.userAgent],
                duration: duration)
            if answer.close {
                let channel = context.channel
                done.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { pendingDownstream = max(0, pendingDownstream - 1) }
        context.write(data, promise: promise)
    }

    private func fastAnswer(_ request: HTTPRequest) -> FastAnswer? {
        let started = ContinuousClock.now
        guard request.method == .get || request.method == .head, let path = request.path,
            path.hasPrefix("/piecharts/"), !path.contains("?"),
            let segments = try? StaticFileRules.segments(ofRawPath: path.dropFirst("/piecharts/".count)),
            segments.count == 1,
            // API charts take the full path, which records their use for the disk budget's LRU.
            !APIChartBudget.isAPIChart(segments[0]), let file = charts.cachedFile(segments[0]),
            file.streamedFrom == nil  // large files stream from disk through the full path
        else { return nil }
        if let question = QuestionChartRequest(fileName: segments[0]) {
            // Only a fresh "completed" answers here; anything else is decided by the full path.
            guard chartFiles.knownServable(questionID: question.questionID) == true else { return nil }
        }
        let answer = file.answer(method: request.method, headers: request.headerFields)
        var headers = answer.headers
        headers[.date] = dates.now
        headers[.server] = "SurveyCharts"
        let close = request.headerFields[.connection]?.lowercased() == "close"
        if close { headers[.connection] = "close" }
        return FastAnswer(
            response: HTTPResponse(status: answer.status, headerFields: headers), body: answer.body, close: close,
            request: request, started: started)
    }
}

/// The HTTP `Date` header, formatted once a second.
final class HTTPDateCache: Sendable {
    private let cache = Mutex<(second: Int, text: String)>((-1, ""))

    var now: String {
        let second = Int(Date().timeIntervalSince1970)
        return cache.withLock { cache in
            if cache.second != second { cache = (second, StaticFileRules.httpDate(second)) }
            return cache.text
        }
    }
}
