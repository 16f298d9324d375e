import ChartCache
import ContentEncoding
import Hummingbird
import NIOCore
import SurveyCharts
import Surveys

/// The body of `results.json` (DESIGN "HTTP"): the shown integer percentages, exact counts, and
/// the chart URLs of each variant.
struct SurveyResultsDocument: ResponseEncodable, Sendable {
    struct QuestionResult: Encodable, Sendable {
        var id: Int64
        var text: String
        var total: Int
        var winners: [Int64]
        /// Each variant's chart under its `resultsKey` (`chart`, `narrowChart`): `{"1x": url, "2x": url}`.
        var charts: [(key: String, urls: [String: String])]
        var answers: [AnswerResult]

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(_ string: String) { stringValue = string }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(id, forKey: Key("id"))
            try container.encode(text, forKey: Key("text"))
            try container.encode(total, forKey: Key("total"))
            try container.encode(winners, forKey: Key("winners"))
            for chart in charts { try container.encode(chart.urls, forKey: Key(chart.key)) }
            try container.encode(answers, forKey: Key("answers"))
        }
    }

    struct AnswerResult: Encodable, Sendable {
        var id: Int64
        var text: String
        var votes: Int
        var percent: Int
    }

    var id: Int64
    var title: String
    var opens: String
    var closes: String
    /// The survey's BCP 47 language tag: of its texts, and of its charts' words.
    var language: String
    var questions: [QuestionResult]

    /// The document of `survey`. Sizing its charts measures text: call it where blocking work runs.
    init(_ survey: Survey) throws {
        id = survey.id
        title = survey.title
        opens = "\(survey.opens)"
        closes = "\(survey.closes)"
        language = survey.language.description
        questions = try survey.questions.map { question in
            let results = try QuestionResults(question, in: survey.language)
            return QuestionResult(
                id: question.id, text: question.text, total: results.shares.total,
                winners: results.shares.winners.map(\.id),
                charts: results.charts.map { chart in
                    (
                        chart.variant.resultsKey,
                        Dictionary(chart.urls.map { ("\($0.scale)x", $0.url) }, uniquingKeysWith: { first, _ in first })
                    )
                },
                answers: results.shares.rows.map {
                    AnswerResult(id: $0.answer.id, text: $0.answer.text, votes: $0.answer.votes, percent: $0.percent)
                })
        }
    }
}

/// Rendered results pages of completed surveys, with their ETags and their gzip forms (made once,
/// when the page is stored): at most `capacity` pages and `byteCapacity` bytes, so crawling every
/// results page of a large site cannot grow the server.
final class ResultsPageCache: Sendable {
    struct Page: Sendable {
        var survey: Survey
        var body: EncodedBody
        var etag: String
    }

    let pages: BoundedCache<Int64, Page>

    init(capacity: Int = 512, byteCapacity: Int = 32 << 20) {
        pages = BoundedCache(capacity: capacity, byteCapacity: byteCapacity)
    }

    /// The page of survey `id` held in memory, however old.
    func held(_ id: Int64) -> Page? { pages.held(id) }

    /// The cached page of survey `id`, if it is younger than `lifetime`.
    func fresh(_ id: Int64, lifetime: Duration) -> Page? { pages.fresh(id, lifetime: lifetime) }

    /// The page for `survey` (read from the store at `read`), rendered by `render` unless a fresh
    /// copy of the same survey exists. Rendering and compressing are `render`'s caller's to place:
    /// `render` runs where blocking work runs, and so does the compression after it.
    func page(
        for survey: Survey, read: ContinuousClock.Instant = .now, lifetime: Duration,
        render: () async throws -> (text: String, body: EncodedBody)
    ) async rethrows
        -> Page
    {
        if let cached = pages.fresh(survey.id, lifetime: lifetime), cached.survey == survey {
            return cached
        }
        let (text, body) = try await render()
        let page = Page(survey: survey, body: body, etag: "\"\(ChartKey(material: Array(text.utf8)).shortHex)\"")
        pages.store(survey.id, page, bytes: body.heldBytes, made: read)
        return page
    }
}
