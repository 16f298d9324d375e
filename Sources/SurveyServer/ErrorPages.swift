import ChartCache
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Surveys
import Synchronization

/// A failure a handler reports to the client: an HTML page on routes browsers visit, a JSON
/// object on JSON routes (`/api/…`, `….json`). Handlers throw it; `ErrorPagesMiddleware` renders it.
struct ServiceError: Error, Sendable {
    /// A link the error page offers, such as "See the results".
    struct Link: Sendable {
        var href: String
        var label: String
    }

    var status: HTTPResponse.Status
    /// A stable machine-readable code (`not_found`, `already_voted`, …), the `error` of JSON bodies.
    var code: String
    /// The page heading.
    var title: String
    /// What happened, and what the reader can do about it.
    var message: String
    /// The field at fault, for JSON bodies.
    var field: String?
    /// Ways onward; "Back to the surveys" is always added.
    var links: [Link] = []
    /// Extra response headers (`Retry-After`, `Allow`).
    var headers: HTTPFields = [:]
    /// Answer JSON even on a page route (a program, not a browser, asked).
    var asJSON = false

    init(
        _ status: HTTPResponse.Status, code: String, title: String, _ message: String, field: String? = nil,
        links: [Link] = [], headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.message = message
        self.field = field
        self.links = links
        self.headers = headers
    }

    static func noSuchSurvey() -> ServiceError {
        ServiceError(.notFound, code: "not_found", title: "No such survey", "There is no survey at this address.")
    }

    /// The 409 of a ballot for a survey that is not taking votes today.
    static func notTakingVotes(_ survey: Survey, today: CalendarDay) -> ServiceError {
        if survey.state(on: today) == .upcoming {
            return ServiceError(
                .conflict, code: "not_open", title: "Voting has not started",
                "“\(survey.title)” opens on \(survey.opens); your ballot was not recorded.")
        }
        return ServiceError(
            .conflict, code: "closed", title: "Voting is closed",
            "“\(survey.title)” closed on \(survey.closes); your ballot was not recorded.",
            links: [Link(href: "/surveys/\(survey.id)", label: "See the results")])
    }
}

/// The body of every JSON error.
struct JSONErrorBody: Codable, Sendable {
    var error: String
    var message: String
    var field: String?
}

/// The methods each route pattern answers, recorded as routes are added, so a request for a
/// known path with another method gets 405 with `Allow` instead of 404.
final class RouteMethods: Sendable {
    private let routes = Mutex<[(segments: [String], methods: [HTTPRequest.Method])]>([])

    /// Records that `path` (with `:name` parameters) answers `method`.
    func record(_ path: String, _ method: HTTPRequest.Method) {
        let segments = path.split(separator: "/").map(String.init)
        routes.withLock { routes in
            if let index = routes.firstIndex(where: { $0.segments == segments }) {
                routes[index].methods.append(method)
            } else {
                routes.append((segments, [method]))
            }
        }
    }

    /// The methods a concrete path answers (HEAD wherever GET is), or nil for an unknown path.
    func allowed(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.withLock { routes in
            routes.first { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
            }?.methods
        }
        guard var methods else { return nil }
        if methods.contains(.get) { methods.append(.head) }
        return methods
    }
}

/// Turns every failure into a response with a body, a `Content-Type`, and a log line for 5xx:
/// HTML pages with a way back on routes browsers visit, JSON on JSON routes. It also gives every
/// HTML response the security headers (CSP, nosniff, Referrer-Policy), and answers HEAD without
/// a body.
struct ErrorPagesMiddleware<Context: RequestContext>: RouterMiddleware {
    let pages: Pages
    let routes: RouteMethods
    let logger: Logger

    /// Sent with every HTML page: nothing from other origins, no framing, forms post only here.
    static var securityHeaders: HTTPFields {
        [
            .contentSecurityPolicy:
                "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'none'; object-src 'none'; "
                + "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            .xContentTypeOptions: "nosniff", .referrerPolicy: "same-origin", .xFrameOptions: "DENY",
        ]
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = render(failure(error, request: request), request: request)
        }
        if let type = response.headers[.contentType], type.hasPrefix("text/html") {
            for field in Self.securityHeaders where response.headers[field.name] == nil {
                response.headers.append(field)
            }
        }
        return request.method == .head ? response.createHeadResponse() : response
    }

    /// What `error` means for the client.
    func failure(_ error: any Error, request: Request) -> ServiceError {
        switch error {
        case let error as ServiceError:
            return error
        case let error as HTTPError where error.status == .notFound:
            if let allowed = routes.allowed(for: request.uri.path), !allowed.contains(request.method) {
                let allow = allowed.map(\.rawValue).joined(separator: ", ")
                return ServiceError(
                    .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed",
                    "This address answers \(allow), not \(request.method.rawValue).", headers: [.allow: allow])
            }
            return ServiceError(
                .notFound, code: "not_found", title: "Page not found",
                error.body ?? "There is no page at this address. It may have moved, or the link may be mistyped.")
        case let error as HTTPError:
            return ServiceError(
                error.status, code: "http_\(error.status.code)", title: error.status.reasonPhrase,
                error.body ?? error.status.reasonPhrase, headers: error.headers)
        case is NIOTooManyBytesError:
            return ServiceError(
                .contentTooLarge, code: "too_large", title: "Too much data",
                "The request body is larger than this server accepts; nothing was recorded.")
        case let error as SurveyStoreError:
            switch error.code {
            case .notFound: return .noSuchSurvey()
            case .notOpen:
                return ServiceError(.conflict, code: "not_open", title: "Voting is closed", error.message)
            case .invalidBallot, .invalidImport, .invalidEdit:
                return ServiceError(.badRequest, code: error.code.rawValue, title: "Bad request", error.description)
            case .busy:
                logger.warning("database busy on \(request.method) \(request.uri.path): \(error.message)")
                return ServiceError(
                    .serviceUnavailable, code: "database_busy", title: "Please try again",
                    "The survey database is busy, so nothing was recorded. Please try again in a moment.",
                    headers: [.retryAfter: "2"])
            case .database:
                logger.error("database failure on \(request.method) \(request.uri.path): \(error.message)")
                return ServiceError(
                    .serviceUnavailable, code: "database_unavailable", title: "Please try again",
                    "The survey database is busy or unavailable; nothing was recorded. Please try again in a moment.",
                    headers: [.retryAfter: "5"])
            }
        case let error as ResourceExhaustedError:
            logger.error("out of resources on \(request.method) \(request.uri.path): \(error.message)")
            return ServiceError(
                .serviceUnavailable, code: "overloaded", title: "Please try again",
                "The server is overloaded right now. Please try again in a moment.", headers: [.retryAfter: "5"])
        case let error as ChartCacheError where error.code == .writeFailed || error.code == .directoryUnusable:
            logger.error("cannot store a chart for \(request.method) \(request.uri.path): \(error.message)")
            return ServiceError(
                .serviceUnavailable, code: "chart_storage_failed", title: "Please try again later",
                "The server cannot store charts right now (its disk may be full). Please try again later.",
                headers: [.retryAfter: "30"])
        case let error as ChartCacheError where error.code == .busy:
            return ServiceError(
                .serviceUnavailable, code: "busy", title: "Please try again",
                "The server is busy drawing charts. Please try again in a moment.", headers: [.retryAfter: "1"])
        default:
            logger.error("unexpected failure on \(request.method) \(request.uri.path): \(error)")
            return ServiceError(
                .internalServerError, code: "internal_error", title: "Something went wrong",
                "The server failed to answer this request. The failure is logged; please try again later.")
        }
    }

    /// `failure` as HTML or JSON, depending on the route.
    func render(_ failure: ServiceError, request: Request) -> Response {
        var headers = failure.headers
        let body: ByteBuffer
        if failure.asJSON || Self.isJSONRoute(request.uri.path) {
            headers[.contentType] = "application/json"
            headers[.xContentTypeOptions] = "nosniff"
            let data =
                (try? JSONEncoder().encode(
                    JSONErrorBody(error: failure.code, message: failure.message, field: failure.field)))
                ?? Data()
            body = ByteBuffer(bytes: data)
        } else {
            headers[.contentType] = "text/html; charset=utf-8"
            body = ByteBuffer(string: pages.message(title: failure.title, failure.message, links: failure.links))
        }
        return Response(status: failure.status, headers: headers, body: .init(byteBuffer: body))
    }

    /// Routes that programs call answer JSON errors; everything else is a page.
    static func isJSONRoute(_ path: String) -> Bool {
        path.hasPrefix("/api/") || path.hasSuffix(".json")
    }
}
