import ChartCache
import ContentEncoding
import Foundation
import HTTPTypes
import Hummingbird
import Localization
import NIOCore
import StaticFiles
import Surveys

/// The public pages: the home lists, a survey (its form, thanks, or results), and `results.json`.
struct SurveyPageRoutes: Sendable {
    let store: any SurveyStore
    let site: SiteConfiguration
    let pages: Pages
    let ballotIntegrity: BallotIntegrity
    let caches: PageCaches
    /// Where pages that size charts are made: measuring chart text is blocking work.
    let pool: BlockingThreadPool

    func addRoutes(to router: Router<SurveyRequestContext>) {
        router.get("/") { request, _ in try await home(request) }
        router.get("/surveys/:id") { request, context in try await survey(request, context: context) }
        router.get("/surveys/:id/thanks") { _, context in
            Response.html(pages.thanks(try await store.publicSurvey(context, today: site.today)))
        }
        router.get("/surveys/:id/results.json") { request, context in
            let survey = try await store.publicSurvey(context, today: site.today)
            guard survey.state(on: site.today) == .completed else {
                throw ServiceError(
                    .notFound, code: .notCompleted, title: "Results not published",
                    "results are published when the survey closes")
            }
            return try await pool.run { try SurveyResultsDocument(survey) }.response(from: request, context: context)
        }
    }

    /// Surveys per page of each home-page list.
    static let homePageSize = 50

    private func home(_ request: Request) async throws -> Response {
        let open = try Self.pageNumber(request, "open")
        let recent = try Self.pageNumber(request, "recent")
        let today = site.today
        let catalog = Catalogs.negotiate(
            acceptLanguage: request.headers[.acceptLanguage], fallback: site.defaultCatalog)
        // One entry per language: at most as many as there are catalogs, for each day and page.
        let key = "\(today) \(open) \(recent) \(catalog.tag)"
        if let page = caches.home.fresh(key, lifetime: site.pageLifetime) { return Self.negotiated(request, page) }
        let read = ContinuousClock.now
        let home = try await store.homeSurveys(
            on: today, recentDays: Pages.recentDays, activePage: open, completedPage: recent,
            pageSize: Self.homePageSize)
        guard open <= home.active.count, recent <= home.completed.count else {
            throw ServiceError(
                .notFound, code: .noSuchPage, title: "No such page",
                "This list has no page that far; the first page has the newest surveys."
            ).said(.errorBadPageTitle, .errorBadPage)
        }
        let page = try await pool.run { [pages] in
            EncodedBody(
                ByteBuffer(
                    string: pages.home(active: home.active, completed: home.completed, in: Localizer(catalog: catalog))
                ))
        }
        caches.home.store(key, page, bytes: page.heldBytes, made: read)
        return Self.negotiated(request, page)
    }

    /// A page in the language `Accept-Language` chose: shared caches must key it by that header.
    static func negotiated(_ response: Response) -> Response {
        var response = response
        response.headers[.vary] = "Accept-Language"
        return response
    }

    /// A cached page in the language `Accept-Language` chose, gzip-compressed when the client takes
    /// it: shared caches must key it by both headers.
    static func negotiated(_ request: Request, _ page: EncodedBody) -> Response {
        let (body, isGzip) = page.chosen(for: request.headers[.acceptEncoding])
        var response = Response.html(body)
        response.headers[.vary] = "Accept-Language, Accept-Encoding"
        if isGzip { response.headers[.contentEncoding] = "gzip" }
        return response
    }

    private func survey(_ request: Request, context: SurveyRequestContext) async throws -> Response {
        // A fresh rendered page of a completed survey needs no database read.
        if let id = context.surveyID, let cached = caches.results.fresh(id, lifetime: site.pageLifetime),
            cached.survey.state(on: site.today) == .completed
        {
            return resultsResponse(request, cached)
        }
        let survey: Survey
        let read = ContinuousClock.now
        do {
            survey = try await store.publicSurvey(context, today: site.today)
        } catch let error as SurveyStoreError where error.code == .database || error.code == .busy {
            // The database is away: a completed survey's page held in memory, however old, is still
            // its page (stale if error), so published results keep serving through an outage.
            if let id = context.surveyID, let held = caches.results.held(id),
                held.survey.state(on: site.today) == .completed
            {
                return resultsResponse(request, held)
            }
            throw error
        }
        switch survey.state(on: site.today) {
        case .upcoming: throw ServiceError.noSuchSurvey()
        case .open:
            if ballotIntegrity.hasVoted(request, surveyID: survey.id) { return .html(pages.thanks(survey)) }
            var response = Response.html(pages.form(survey, receipt: .random()))
            // Each form carries its own receipt: "back" after voting must fetch a new form, or a
            // second person at a kiosk choosing the same answers would be taken for a resend.
            response.headers[.cacheControl] = "no-store"
            if let token = ballotIntegrity.tokenCookie(request, surveyID: survey.id, secure: context.client.isHTTPS) {
                response.headers[.setCookie] = token
            }
            return response
        case .completed:
            let page = try await caches.results.page(for: survey, read: read, lifetime: site.pageLifetime) {
                try await pool.run { [pages, site] in
                    let text = try pages.results(survey, publicURL: site.publicURL)
                    return (text, EncodedBody(ByteBuffer(string: text)))
                }
            }
            return resultsResponse(request, page)
        }
    }

    /// A completed survey's page never changes: it carries a strong ETag, one for each form.
    private func resultsResponse(_ request: Request, _ page: ResultsPageCache.Page) -> Response {
        let (body, isGzip) = page.body.chosen(for: request.headers[.acceptEncoding])
        let etag = isGzip ? EncodedBody.gzipETag(page.etag) : page.etag
        if let match = request.headers[.ifNoneMatch], StaticFileRules.matchesWeakly(match, etag: etag) {
            return Response(status: .notModified, headers: [.eTag: etag, .vary: "Accept-Encoding"])
        }
        // The headers made at once: this is the hottest page route.
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .xContentTypeOptions: "nosniff", .eTag: etag,
            .vary: "Accept-Encoding",
        ]
        if isGzip { headers[.contentEncoding] = "gzip" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// The page number in query parameter `name` (1 when absent).
    static func pageNumber(_ request: Request, _ name: String) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return 1 }
        guard let number = Int(text), (1...1_000_000).contains(number) else {
            throw ServiceError(
                .badRequest, code: .badPage, title: "Bad request",
                "The page number “\(text)” is not a whole number from 1."
            ).said(.errorBadRequestTitle, .errorBadPageNumber, ["number": String(text.prefix(40))])
        }
        return number
    }
}

/// The rendered pages the public routes reuse, each bounded in entries and bytes, so crawling
/// every page of a large site cannot grow the server.
final class PageCaches: Sendable {
    /// The home page's lists by day and page numbers.
    let home = BoundedCache<String, EncodedBody>(capacity: 256, byteCapacity: 16 << 20)
    /// Completed surveys' results pages.
    let results = ResultsPageCache()

    /// Pages and bytes held, for `/metrics`.
    var held: (count: Int, bytes: Int) {
        (results.pages.count + home.count, results.pages.bytes + home.bytes)
    }
}
