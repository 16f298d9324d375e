import ChartCache
import Foundation
import HTTPTypes
import Hummingbird
import Localization
import Logging
import NIOCore
import PieChart
import StaticFiles
import Surveys
import Synchronization

/// A failure as the client sees it: an HTML page on routes browsers visit, a JSON object on JSON
/// routes (`/api/…`, `….json`). Handlers throw it, and it renders itself (`HTTPResponseError`).
/// Errors of other modules name their `ServiceError` in one place each, below.
struct ServiceError: HTTPResponseError, Sendable {
    /// A stable machine-readable code: the `error` of JSON bodies, which clients branch on.
    enum Code: Sendable, Hashable, CustomStringConvertible {
        case alreadyVoted
        case notFound
        case notOpen
        case closed
        case tooLarge
        case internalError
        case databaseBusy
        case databaseUnavailable
        case ballotUnconfirmed
        case busy
        case chartStorageFailed
        case overloaded
        case methodNotAllowed
        case noSuchPage
        case notCompleted
        case badPage
        case crossSite
        case badForm
        case csrf
        case loginRequired
        case apiKeyRequired
        case rateLimited
        case tooManyPixels
        case cannotRender
        /// A ballot, an import or an edit the store refused (`invalid_ballot`, …).
        case store(SurveyStoreError.Code)
        /// A chart spec the chart API refused (`bad_width`, …).
        case chartSpec(ChartSpecError.Code)
        /// One of Hummingbird's own answers (`http_400`, …).
        case http(Int)

        var description: String {
            switch self {
            case .alreadyVoted: return "already_voted"
            case .notFound: return "not_found"
            case .notOpen: return "not_open"
            case .closed: return "closed"
            case .tooLarge: return "too_large"
            case .internalError: return "internal_error"
            case .databaseBusy: return "database_busy"
            case .databaseUnavailable: return "database_unavailable"
            case .ballotUnconfirmed: return "ballot_unconfirmed"
            case .busy: return "busy"
            case .chartStorageFailed: return "chart_storage_failed"
            case .overloaded: return "overloaded"
            case .methodNotAllowed: return "method_not_allowed"
            case .noSuchPage: return "no_such_page"
            case .notCompleted: return "not_completed"
            case .badPage: return "bad_page"
            case .crossSite: return "cross_site"
            case .badForm: return "bad_form"
            case .csrf: return "csrf"
            case .loginRequired: return "login_required"
            case .apiKeyRequired: return "api_key_required"
            case .rateLimited: return "rate_limited"
            case .tooManyPixels: return "too_many_pixels"
            case .cannotRender: return "cannot_render"
            case .store(let code): return code.rawValue
            case .chartSpec(let code): return code.rawValue
            case .http(let status): return "http_\(status)"
            }
        }
    }

    /// A link the error page offers, such as "See the results".
    struct Link: Sendable {
        var href: String
        var label: String
        /// The label from the catalog, on a page in the reader's language.
        var labelKey: CatalogKey?
    }

    /// The page's words from the catalogs: readers see them in the survey's language, or in the
    /// best match of their `Accept-Language`. JSON bodies and logs keep the English `title` and
    /// `message`, which programs and operators read.
    struct Words: Sendable {
        var title: CatalogKey
        var message: CatalogKey
        var arguments: [String: String] = [:]
    }

    var status: HTTPResponse.Status
    /// A stable machine-readable code (`not_found`, `already_voted`, …), the `error` of JSON bodies.
    var code: Code
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
    /// The words of the page, when readers see it in their language; nil: the English title and message.
    var words: Words?
    /// The language of the survey the failure belongs to; nil: the reader's (`Accept-Language`).
    var language: LanguageTag?
    /// The page shown instead of the message page, on page routes: the vote form again, filled
    /// in, after a ballot the store could not take.
    var page: String?
    /// A failure of the server rather than of the request is logged when it is answered: at this
    /// level, as "<what> <method> <path>: <cause>" ("database busy on POST /surveys/2: …").
    var log: (level: Logger.Level, what: String, cause: String)?

    init(
        _ status: HTTPResponse.Status, code: Code, title: String, _ message: String, field: String? = nil,
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

    /// This failure, shown to readers in their language with `title` and `message` from the catalog.
    func said(
        _ title: CatalogKey, _ message: CatalogKey, _ arguments: [String: String] = [:], in language: LanguageTag? = nil
    ) -> ServiceError {
        var said = self
        said.words = Words(title: title, message: message, arguments: arguments)
        said.language = language
        return said
    }

    /// This failure, logged at `level` as `what`, caused by `cause`.
    func logged(_ level: Logger.Level, _ what: String, cause: String) -> ServiceError {
        var logged = self
        logged.log = (level, what, cause)
        return logged
    }

    /// The 409 of a second ballot from one browser.
    static func alreadyVoted(_ survey: Survey) -> ServiceError {
        ServiceError(
            .conflict, code: .alreadyVoted, title: "You have already voted",
            "This browser has already cast a ballot in “\(survey.title)”, so this one was not counted. "
                + "The results appear after \(survey.closes)."
        ).said(
            .errorAlreadyVotedTitle, .errorAlreadyVoted,
            ["title": survey.title, "closes": Pages.day(survey.closes, Localizer(survey.language))],
            in: survey.language)
    }

    static func noSuchSurvey() -> ServiceError {
        ServiceError(.notFound, code: .notFound, title: "No such survey", "There is no survey at this address.")
            .said(.errorNoSuchSurveyTitle, .errorNoSuchSurvey)
    }

    /// The 409 of a ballot for a survey that is not taking votes today.
    static func notTakingVotes(_ survey: Survey, today: CalendarDay) -> ServiceError {
        // Before it opens, a survey is not public: the 409 (DESIGN "HTTP") names neither its
        // title nor its dates.
        if survey.state(on: today) == .upcoming {
            return ServiceError(
                .conflict, code: .notOpen, title: "Not taking votes",
                "This survey is not taking votes, so your ballot was not recorded."
            ).said(.errorNotTakingVotesTitle, .errorNotTakingVotes)
        }
        return ServiceError(
            .conflict, code: .closed, title: "Voting is closed",
            "“\(survey.title)” closed on \(survey.closes); your ballot was not recorded.",
            links: [Link(href: "/surveys/\(survey.id)", label: "See the results", labelKey: .errorSeeResults)]
        ).said(
            .errorClosedTitle, .errorClosed,
            ["title": survey.title, "closes": Pages.day(survey.closes, Localizer(survey.language))],
            in: survey.language)
    }

    /// The 413 of a request body over `limit` bytes. (Hummingbird makes `NIOTooManyBytesError` an
    /// `HTTPResponseError` of its own, with a plain body, and its `maxBytes` is what was left to
    /// read, not the limit; ours is a page or JSON like the rest.)
    static func tooLarge(limit: Int) -> ServiceError {
        ServiceError(
            .contentTooLarge, code: .tooLarge, title: "Too much data",
            "The request body is larger than the \(limit) bytes this server accepts; nothing was recorded."
        ).said(.errorTooLargeTitle, .errorTooLarge, ["limit": String(limit)])
    }

    /// A failure nothing else describes: a bug, logged with its cause.
    static func unexpected(_ error: any Error) -> ServiceError {
        ServiceError(
            .internalServerError, code: .internalError, title: "Something went wrong",
            "The server failed to answer this request. The failure is logged; please try again later."
        )
        .said(.errorUnexpectedTitle, .errorUnexpected)
        .logged(.error, "unexpected failure on", cause: "\(error)")
    }

    /// The page or JSON object for `request`, logged first if it is a server failure. A page
    /// with words is in the survey's language, or else in the best match of `Accept-Language`
    /// among the catalogs (`fallback` when none matches), and then says `Vary: Accept-Language`.
    func response(from request: Request, context: some RequestContext) -> Response {
        response(from: request, context: context, fallback: Catalogs.english)
    }

    /// The page or JSON object for `request`, with `fallback` for readers whose language has no catalog.
    func response(from request: Request, context: some RequestContext, fallback: Catalog) -> Response {
        var message = message
        if status.code >= 500 {
            // The id is in this failure's log line too, so a reader's report finds it.
            message += " Reference: \(context.id)."
        }
        if let log {
            context.logger.log(
                level: log.level, "\(log.what) \(request.method) \(request.uri.path): \(log.cause)")
        }
        var response: Response
        if asJSON || Self.isJSONRoute(request.uri.path),
            let json = try? JSONErrorBody(error: code.description, message: message, field: field).response(
                from: request, context: context)
        {
            response = json
        } else {
            response = page(message: message, for: request, context: context, fallback: fallback)
        }
        response.status = status
        for field in headers { response.headers[field.name] = field.value }
        return response
    }

    /// The HTML page: in the reader's language when the failure has words, else in English.
    private func page(
        message: String, for request: Request, context: some RequestContext, fallback: Catalog
    )
        -> Response
    {
        if let page {
            var response = Response.html(page, status: status)
            response.headers[.cacheControl] = "no-store"
            return response
        }
        guard let words else {
            return Response(
                status: status, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: Pages.standard.message(title: title, message, links: links)))
            )
        }
        let localizer =
            language.map(Localizer.init)
            ?? Localizer(
                catalog: Catalogs.negotiate(acceptLanguage: request.headers[.acceptLanguage], fallback: fallback))
        var text = localizer.text(words.message, words.arguments)
        if status.code >= 500 { text += " " + localizer.text(.errorReference, ["reference": "\(context.id)"]) }
        let shownLinks = links.map { link in
            Link(
                href: link.href, label: link.labelKey.map { localizer.text($0) } ?? link.label, labelKey: link.labelKey)
        }
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        if language == nil { headers[.vary] = "Accept-Language" }
        return Response(
            status: status, headers: headers,
            body: .init(
                byteBuffer: ByteBuffer(
                    string: Pages.standard.message(
                        title: localizer.text(words.title), text, links: shownLinks, in: localizer))))
    }

    /// Routes that programs call answer JSON errors; everything else is a page.
    static func isJSONRoute(_ path: String) -> Bool {
        path.hasPrefix("/api/") || path.hasSuffix(".json")
    }
}

/// An error that knows its `ServiceError`: the error pages render that one, in the reader's language.
protocol ServiceErrorConvertible: Error {
    var serviceError: ServiceError { get }
}

extension ServiceError: ServiceErrorConvertible {
    var serviceError: ServiceError { self }
}

extension SurveyStoreError: ServiceErrorConvertible {}
extension ChartCacheError: ServiceErrorConvertible {}
extension ChartSpecError: ServiceErrorConvertible {}
extension StaticFileError: ServiceErrorConvertible {}

// Errors of other modules, each mapped to what it means for the client here, once. Each answers
// through its `ServiceError`; `HTTPResponseError` needs the two forwarding members spelled out,
// public, on every public type.

extension SurveyStoreError: HTTPResponseError {
    public var status: HTTPResponse.Status { serviceError.status }

    public func response(from request: Request, context: some RequestContext) -> Response {
        serviceError.response(from: request, context: context)
    }

    var serviceError: ServiceError {
        switch code {
        case .notFound: return .noSuchSurvey()
        case .notOpen:
            return ServiceError(.conflict, code: .notOpen, title: "Voting is closed", message)
                .said(.errorNotTakingVotesTitle, .errorNotTakingVotes)
        case .alreadyVoted:
            return ServiceError(
                .conflict, code: .alreadyVoted, title: "You have already voted",
                "This browser has already cast a ballot in this survey, so this one was not counted."
            ).said(.errorAlreadyVotedTitle, .errorAlreadyVotedHere)
        case .invalidBallot, .invalidImport, .invalidEdit:
            return ServiceError(.badRequest, code: .store(code), title: "Bad request", description)
        case .busy:
            return ServiceError(
                .serviceUnavailable, code: .databaseBusy, title: "Please try again",
                "The survey database is busy, so nothing was recorded. Please try again in a moment.",
                headers: [.retryAfter: "2"]
            )
            .said(.errorTryAgainTitle, .errorDatabaseBusy)
            .logged(.warning, "database busy on", cause: message)
        case .database:
            return ServiceError(
                .serviceUnavailable, code: .databaseUnavailable, title: "Please try again",
                "The survey database is busy or unavailable; nothing was recorded. Please try again in a moment.",
                headers: [.retryAfter: "5"]
            )
            .said(.errorTryAgainTitle, .errorDatabaseUnavailable)
            .logged(.error, "database failure on", cause: message)
        case .unconfirmed:
            return ServiceError(
                .serviceUnavailable, code: .ballotUnconfirmed, title: "Please check your vote",
                "The survey database went away while saving your ballot, so it may or may not have been counted. "
                    + "Please wait a moment before you vote again.",
                headers: [.retryAfter: "5"]
            )
            .said(.errorTryAgainTitle, .errorBallotUnconfirmed)
            .logged(.error, "ballot unconfirmed on", cause: message)
        }
    }
}

extension ChartCacheError: HTTPResponseError {
    public var status: HTTPResponse.Status { serviceError.status }

    public func response(from request: Request, context: some RequestContext) -> Response {
        serviceError.response(from: request, context: context)
    }

    var serviceError: ServiceError {
        switch code {
        case .busy:
            // Back-pressure, not a failure: not logged.
            return ServiceError(
                .serviceUnavailable, code: .busy, title: "Please try again",
                "The server is busy drawing charts. Please try again in a moment.", headers: [.retryAfter: "1"]
            ).said(.errorTryAgainTitle, .errorChartsBusy)
        case .writeFailed, .directoryUnusable:
            return ServiceError(
                .serviceUnavailable, code: .chartStorageFailed, title: "Please try again later",
                "The server cannot store charts right now (its disk may be full). Please try again later.",
                headers: [.retryAfter: "30"]
            )
            .said(.errorTryLaterTitle, .errorChartStorage)
            .logged(.error, "cannot store a chart for", cause: message)
        default:
            return .unexpected(self)
        }
    }
}

/// A spec sent to the chart API that breaks the chart spec's rules.
extension ChartSpecError: HTTPResponseError {
    public var status: HTTPResponse.Status { serviceError.status }

    public func response(from request: Request, context: some RequestContext) -> Response {
        serviceError.response(from: request, context: context)
    }

    var serviceError: ServiceError {
        ServiceError(.badRequest, code: .chartSpec(code), title: "Bad chart spec", message, field: field)
    }
}

extension StaticFileError: HTTPResponseError {
    public var status: HTTPResponse.Status { serviceError.status }

    public func response(from request: Request, context: some RequestContext) -> Response {
        serviceError.response(from: request, context: context)
    }

    var serviceError: ServiceError {
        guard code == .resourcesExhausted else { return .unexpected(self) }
        return ServiceError(
            .serviceUnavailable, code: .overloaded, title: "Please try again",
            "The server is overloaded right now. Please try again in a moment.", headers: [.retryAfter: "5"]
        )
        .said(.errorTryAgainTitle, .errorOverloaded)
        .logged(.error, "out of resources on", cause: message)
    }
}

/// The body of every JSON error.
struct JSONErrorBody: ResponseCodable, Sendable {
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

/// Turns every failure into a response with a body and a `Content-Type`: errors that map
/// themselves (`HTTPResponseError`) answer for themselves; Hummingbird's 404 becomes our page, or
/// 405 with `Allow` on a known path; anything else is a logged 500. It also gives every HTML
/// response the security headers (CSP, nosniff, Referrer-Policy), and answers HEAD without a body.
struct ErrorPagesMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteMethods
    /// The largest request body, named in the 413.
    let maximumBodyBytes: Int
    /// The catalog of pages whose reader's `Accept-Language` matches none (`--default-language`).
    let fallback: Catalog

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
        } catch let error as HTTPError {
            response = routerFailure(error, request: request).response(
                from: request, context: context, fallback: fallback)
        } catch is NIOTooManyBytesError {
            response = ServiceError.tooLarge(limit: maximumBodyBytes).response(
                from: request, context: context, fallback: fallback)
        } catch let error as any ServiceErrorConvertible {
            response = error.serviceError.response(from: request, context: context, fallback: fallback)
        } catch let error as any HTTPResponseError {
            do {
                response = try error.response(from: request, context: context)
            } catch {
                response = ServiceError.unexpected(error).response(from: request, context: context, fallback: fallback)
            }
        } catch {
            response = ServiceError.unexpected(error).response(from: request, context: context, fallback: fallback)
        }
        if let type = response.headers[.contentType], type.hasPrefix("text/html") {
            for field in Self.securityHeaders where response.headers[field.name] == nil {
                response.headers.append(field)
            }
        }
        return request.method == .head ? response.createHeadResponse() : response
    }

    /// Hummingbird's own errors (no route, a bad request head) as our pages.
    func routerFailure(_ error: HTTPError, request: Request) -> ServiceError {
        guard error.status == .notFound else {
            return ServiceError(
                error.status, code: .http(error.status.code), title: error.status.reasonPhrase,
                error.body ?? error.status.reasonPhrase, headers: error.headers)
        }
        if let allowed = routes.allowed(for: request.uri.path), !allowed.contains(request.method) {
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            return ServiceError(
                .methodNotAllowed, code: .methodNotAllowed, title: "Method not allowed",
                "This address answers \(allow), not \(request.method.rawValue).", headers: [.allow: allow]
            ).said(
                .errorMethodNotAllowedTitle, .errorMethodNotAllowed,
                ["allowed": allow, "method": request.method.rawValue])
        }
        let notFound = ServiceError(
            .notFound, code: .notFound, title: "Page not found",
            error.body ?? "There is no page at this address. It may have moved, or the link may be mistyped.")
        return error.body == nil ? notFound.said(.errorPageNotFoundTitle, .errorPageNotFound) : notFound
    }
}
