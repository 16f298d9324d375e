import ChartCache
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PieChart
import SurveyCharts
import Surveys

/// Addresses that stay the same while what they show changes: a completed survey's charts, card
/// and report by question and survey (307 to the content-addressed file, cached for a minute), and
/// oEmbed for sites that paste a results link.
struct SharingRoutes: Sendable {
    let store: any SurveyStore
    let site: SiteConfiguration
    let chartFiles: SurveyChartFiles
    /// Naming a chart measures its text: blocking work.
    let pool: BlockingThreadPool

    /// How long a stable address's redirect may be reused: a new name appears only when the file
    /// changes, which a completed survey's never does unless an operator edits it.
    static let redirectCacheControl = "public, max-age=60"

    func addRoutes(to router: Router<SurveyRequestContext>) {
        router.get("/surveys/:id/charts/:file") { _, context in try await chart(context) }
        router.get("/surveys/:id/card.png") { _, context in try await document(.card, context) }
        router.get("/surveys/:id/report.pdf") { _, context in try await document(.report, context) }
        router.get("/oembed") { request, context in try await oEmbed(request, context: context) }
    }

    /// A stable chart address: `<question id>[-narrow][@2x].png` or `<question id>.svg`.
    struct StableChart: Equatable {
        var questionID: Int64
        var variant: QuestionChartVariant
        var scale: Int
        var isSVG: Bool

        init?(_ file: String) {
            var name = Substring(file)
            if name.hasSuffix(".svg") {
                isSVG = true
                name = name.dropLast(4)
            } else if name.hasSuffix(".png") {
                isSVG = false
                name = name.dropLast(4)
            } else {
                return nil
            }
            scale = 1
            if !isSVG, name.hasSuffix("@2x") {
                scale = 2
                name = name.dropLast(3)
            }
            variant = .wide
            if !isSVG, name.hasSuffix("-narrow") {
                variant = .narrow
                name = name.dropLast(7)
            }
            guard let id = SurveyRequestContext.canonicalID(name) else { return nil }
            questionID = id
        }
    }

    /// A completed survey, or the 404 its results page would give.
    private func completedSurvey(_ context: SurveyRequestContext) async throws -> Survey {
        let survey = try await store.publicSurvey(context, today: site.today)
        guard QuestionCharts.mayServe(survey, on: site.today) else {
            throw ServiceError(
                .notFound, code: .notCompleted, title: "Results not published",
                "The results of this survey are published the day after it closes."
            ).said(.errorNoSuchSurveyTitle, .errorNoSuchSurvey)
        }
        return survey
    }

    private func redirect(_ path: String) -> Response {
        Response(
            status: .temporaryRedirect,
            headers: [.location: path, .cacheControl: Self.redirectCacheControl, .contentLength: "0"])
    }

    private func chart(_ context: SurveyRequestContext) async throws -> Response {
        guard let file = context.parameters.get("file"), let wanted = StableChart(file) else {
            throw ServiceError(
                .notFound, code: .notFound, title: "No such chart",
                "A chart's address is /surveys/<survey>/charts/<question>[-narrow][@2x].png or <question>.svg.")
        }
        let survey = try await completedSurvey(context)
        guard let question = survey.questions.first(where: { $0.id == wanted.questionID }) else {
            throw ServiceError(.notFound, code: .notFound, title: "No such chart", "This survey has no such question.")
        }
        let name = try await pool.run { () throws -> ChartName? in
            wanted.isSVG
                ? try SurveyDocuments.svgName(for: question, in: survey.language)
                : try QuestionCharts.names(for: question, in: survey.language).file(
                    wanted.variant, scale: wanted.scale)?
                    .name
        }
        guard let name else { throw ServiceError.noSuchSurvey() }
        return redirect("/piecharts/" + name.fileName)
    }

    private func document(_ kind: SurveyDocumentRequest.Kind, _ context: SurveyRequestContext) async throws -> Response
    {
        let survey = try await completedSurvey(context)
        guard let current = try await chartFiles.currentDocument(kind, of: survey, live: false) else {
            throw ServiceError.noSuchSurvey()
        }
        return redirect("/piecharts/" + current.name.fileName)
    }

    // MARK: oEmbed

    /// The oEmbed answer (oembed.com, version 1.0): `rich` for a results page (its first chart with
    /// a link back), `photo` for a stable chart address.
    struct OEmbed: ResponseEncodable, Sendable {
        var version = "1.0"
        var type: String
        var title: String
        var providerName = "SurveyCharts"
        var providerURL: String
        var width: Int
        var height: Int
        var url: String?
        var html: String?
        var thumbnailURL: String?
        var thumbnailWidth: Int?
        var thumbnailHeight: Int?
        var cacheAge = 60

        enum CodingKeys: String, CodingKey {
            case version, type, title, width, height, url, html
            case providerName = "provider_name"
            case providerURL = "provider_url"
            case thumbnailURL = "thumbnail_url"
            case thumbnailWidth = "thumbnail_width"
            case thumbnailHeight = "thumbnail_height"
            case cacheAge = "cache_age"
        }
    }

    private func oEmbed(_ request: Request, context: SurveyRequestContext) async throws -> Response {
        func refused(_ status: HTTPResponse.Status, _ message: String) -> ServiceError {
            var error = ServiceError(
                status, code: status == .notImplemented ? .http(501) : .notFound, title: "oEmbed", message)
            error.asJSON = true
            return error
        }
        let query = request.uri.queryParameters
        if let format = query.get("format"), format != "json" {
            throw refused(.notImplemented, "only format=json is served")
        }
        guard let target = query.get("url"), let url = URL(string: target), url.query == nil else {
            throw refused(.notFound, "url must be the address of a completed survey's results or of one of its charts")
        }
        // An embed lives on other sites: its addresses must be absolute, so oEmbed needs the site's own.
        guard let base = site.publicURL else {
            throw refused(.notFound, "this site answers oEmbed only when it knows its address (serve --public-url)")
        }
        guard target.hasPrefix(base + "/") else {
            throw refused(.notFound, "url is not an address of this site: \(base)")
        }
        let segments = url.path.split(separator: "/").map(String.init)
        guard segments.count >= 2, segments[0] == "surveys", let id = SurveyRequestContext.canonicalID(segments[1])
        else { throw refused(.notFound, "url is not a completed survey's results on this site") }
        let found = try await chartFiles.survey(id: id)
        guard found.servable, let survey = found.survey else {
            throw refused(.notFound, "url is not a completed survey's results on this site")
        }
        let maximumWidth = query.get("maxwidth").flatMap(Int.init) ?? Int.max
        if segments.count == 4, segments[2] == "charts", let wanted = StableChart(segments[3]), !wanted.isSVG,
            let question = survey.questions.first(where: { $0.id == wanted.questionID })
        {
            let spec = try await pool.run {
                try QuestionCharts.spec(for: question, in: survey.language, variant: wanted.variant)
            }
            guard spec.width <= maximumWidth else { throw refused(.notFound, "no chart is as narrow as maxwidth") }
            return try OEmbed(
                type: "photo", title: question.text, providerURL: base + "/", width: spec.width, height: spec.height,
                url: base + "/surveys/\(survey.id)/charts/\(segments[3])"
            ).response(from: request, context: context)
        }
        guard segments.count == 2, let question = survey.questions.first else {
            throw refused(.notFound, "url is not a completed survey's results or one of its charts")
        }
        let embed = try await pool.run { try EmbedSnippet(survey: survey, question: question, base: base) }
        let narrow = maximumWidth < embed.wide.width
        let chosen = narrow ? embed.narrow : embed.wide
        guard chosen.width <= maximumWidth else { throw refused(.notFound, "no chart is as narrow as maxwidth") }
        let card = try await chartFiles.currentDocument(.card, of: survey, live: false)
        return try OEmbed(
            type: "rich", title: survey.title, providerURL: base + "/", width: chosen.width, height: chosen.height,
            html: narrow ? embed.narrowHTML : embed.html,
            thumbnailURL: card.map { base + "/piecharts/" + $0.name.fileName },
            thumbnailWidth: card == nil ? nil : ShareCard.width, thumbnailHeight: card == nil ? nil : ShareCard.height
        ).response(from: request, context: context)
    }
}

/// The HTML another site pastes to show a question's chart: the `<picture>` of its stable
/// addresses (so it stays current), with its alt text, inside a link back to the results. No
/// script, so it needs nothing of the host page's CSP but images from here.
struct EmbedSnippet: Sendable {
    struct Size: Sendable {
        var width: Int
        var height: Int
    }

    var wide: Size
    var narrow: Size
    /// The `<picture>`: both variants, 1x and 2x.
    var html: String
    /// Only the narrow chart (oEmbed's `maxwidth` under the wide one).
    var narrowHTML: String

    /// Measures chart text: call it where blocking work runs.
    init(survey: Survey, question: Question, base: String) throws {
        let wideSpec = try QuestionCharts.spec(for: question, in: survey.language, variant: .wide)
        let narrowSpec = try QuestionCharts.spec(for: question, in: survey.language, variant: .narrow)
        wide = Size(width: wideSpec.width, height: wideSpec.height)
        narrow = Size(width: narrowSpec.width, height: narrowSpec.height)
        let charts = base + "/surveys/\(survey.id)/charts/\(question.id)"
        let page = base + "/surveys/\(survey.id)"
        let alt = HTML.escape(wideSpec.altText)
        let media = HTML.escape(QuestionChartVariant.narrow.media ?? "")
        let link = "<a href=\"\(page)\" title=\"\(HTML.escape(survey.title))\">"
        html =
            link + "<picture><source media=\"\(media)\" srcset=\"\(charts)-narrow.png 1x, \(charts)-narrow@2x.png 2x\" "
            + "width=\"\(narrow.width)\" height=\"\(narrow.height)\"><img src=\"\(charts).png\" srcset=\"\(charts).png 1x, "
            + "\(charts)@2x.png 2x\" width=\"\(wide.width)\" height=\"\(wide.height)\" alt=\"\(alt)\"></picture></a>"
        narrowHTML =
            link + "<img src=\"\(charts)-narrow.png\" srcset=\"\(charts)-narrow.png 1x, \(charts)-narrow@2x.png 2x\" "
            + "width=\"\(narrow.width)\" height=\"\(narrow.height)\" alt=\"\(alt)\"></a>"
    }
}
