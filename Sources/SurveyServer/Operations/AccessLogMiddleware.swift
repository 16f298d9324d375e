import Hummingbird
import ServerLogging

/// Writes one access-log line per request, after its response.
struct AccessLogMiddleware: RouterMiddleware {
    let log: AccessLog

    func handle(
        _ request: Request, context: SurveyRequestContext,
        next: (Request, SurveyRequestContext) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        log.record(
            client: context.client.loggedAddress, method: request.method.rawValue,
            target: request.uri.description,
            status: response.status.code, bytes: response.headers[.contentLength].flatMap(Int.init),
            referer: request.headers[.referer], userAgent: request.headers[.userAgent],
            duration: ContinuousClock.now - start, requestID: context.client.requestID)
        return response
    }
}
