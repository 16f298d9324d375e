import Foundation
import Mustache
import PieChart
import SurveyCharts
import Surveys

/// The server-rendered pages. Templates are compiled once at start-up; Mustache escapes every
/// `{{value}}`, so survey text can never become markup.
struct Pages: Sendable {
    private let library: MustacheLibrary

    /// The pages, compiled once per process. The templates are part of the source, so one that
    /// does not compile is a bug, caught by every test that loads a page.
    static let standard: Pages = {
        do { return try Pages() } catch { fatalError("a built-in page template does not compile: \(error)") }
    }()

    private init() throws {
        var library = MustacheLibrary()
        for (name, text) in Self.templates.merging(Self.adminTemplates, uniquingKeysWith: { first, _ in first }) {
            library.register(try MustacheTemplate(string: text), named: name)
        }
        self.library = library
    }

    /// The layout around every page's content.
    struct Layout {
        var title: String
        var content: String
    }

    /// `template` rendered with `context` (one of the page structs below), inside the layout.
    func page(_ template: String, title: String, _ context: some Sendable) -> String {
        let content = library.render(context, withTemplate: template) ?? ""
        return library.render(Layout(title: title, content: content), withTemplate: "layout") ?? content
    }

    /// A survey in a home-page list.
    struct SurveyRow {
        var id: Int64
        var title: String
        var opens: String
        var closes: String
    }

    /// Links to a list's other pages (`pageLinks`), when it has more than one.
    struct PageLinks {
        var label: String
        var number: Int
        var count: Int
        var previous: String?
        var next: String?
    }

    struct HomePage {
        var active: [SurveyRow]
        var completed: [SurveyRow]
        var noActive: Bool
        var noCompleted: Bool
        var activePages: PageLinks?
        var completedPages: PageLinks?
    }

    /// The home page: one page of each list, with links to the pages before and after.
    func home(active: SurveyPage, completed: SurveyPage) -> String {
        func rows(_ surveys: [SurveySummary]) -> [SurveyRow] {
            surveys.map { SurveyRow(id: $0.id, title: $0.title, opens: "\($0.opens)", closes: "\($0.closes)") }
        }
        func link(open: Int, recent: Int) -> String {
            var query: [String] = []
            if open > 1 { query.append("open=\(open)") }
            if recent > 1 { query.append("recent=\(recent)") }
            return query.isEmpty ? "/" : "/?" + query.joined(separator: "&")
        }
        func navigation(_ page: SurveyPage, label: String, link: (Int) -> String) -> PageLinks? {
            guard page.count > 1 else { return nil }
            return PageLinks(
                label: label, number: page.number, count: page.count,
                previous: page.number > 1 ? link(page.number - 1) : nil,
                next: page.number < page.count ? link(page.number + 1) : nil)
        }
        return page(
            "home", title: "Surveys",
            HomePage(
                active: rows(active.surveys), completed: rows(completed.surveys), noActive: active.total == 0,
                noCompleted: completed.total == 0,
                activePages: navigation(active, label: "Open surveys") { link(open: $0, recent: completed.number) },
                completedPages: navigation(completed, label: "Recent results") {
                    link(open: active.number, recent: $0)
                }))
    }

    struct BallotForm {
        struct Answer {
            var questionID: Int64
            var answerID: Int64
            var text: String
            var checked: Bool
        }

        struct Question {
            var questionID: Int64
            var text: String
            var missing: Bool
            var answers: [Answer]
        }

        /// The alert above the form, with links to the questions left unanswered.
        struct Problem {
            struct Unanswered {
                var id: Int64
                var text: String
            }

            var message: String
            var hasMissing: Bool
            var missingQuestions: [Unanswered]
        }

        var id: Int64
        var title: String
        var closes: String
        var questions: [Question]
        var error: Problem?
    }

    /// The vote form. `error` is shown (as an alert) only when there is one; `missing` marks the
    /// unanswered questions, and `chosen` keeps the answers already picked.
    func form(
        _ survey: Survey, error: String? = nil, chosen: [Int64: Int64] = [:],
        missing: Set<Int64> = []
    ) -> String {
        let unanswered = survey.questions.filter { missing.contains($0.id) }
        return page(
            "form", title: survey.title,
            BallotForm(
                id: survey.id, title: survey.title, closes: "\(survey.closes)",
                questions: survey.questions.map { question in
                    BallotForm.Question(
                        questionID: question.id, text: question.text, missing: missing.contains(question.id),
                        answers: question.answers.map { answer in
                            BallotForm.Answer(
                                questionID: question.id, answerID: answer.id, text: answer.text,
                                checked: chosen[question.id] == answer.id)
                        })
                },
                error: error.map { message in
                    BallotForm.Problem(
                        message: message, hasMissing: !unanswered.isEmpty,
                        missingQuestions: unanswered.map { .init(id: $0.id, text: $0.text) })
                }))
    }

    struct ResultsPage {
        /// One variant's chart as a `<source>` (or, for the default, the `<img>`).
        struct Chart {
            var media: String
            var src: String
            var srcset: String
            var width: Int
            var height: Int
            /// The chart's text alternative (the same for every variant).
            var alt: String

            init(_ chart: QuestionResults.Chart, alt: String) {
                media = chart.variant.media ?? ""
                src = chart.url
                srcset = chart.srcset
                width = chart.width
                height = chart.height
                self.alt = alt
            }
        }

        struct Answer {
            var text: String
            var votes: String
            var percent: String
            var winner: Bool
        }

        struct Question {
            var text: String
            var total: String
            var totalShare: String
            var winnersLabel: String
            var winners: String
            var hasWinners: Bool
            /// The variants shown under a media condition, then the default image.
            var sources: [Chart]
            var image: Chart?
            var alt: String
            var answers: [Answer]
        }

        var id: Int64
        var title: String
        var opens: String
        var closes: String
        var questions: [Question]
    }

    func results(_ survey: Survey) throws -> String {
        page(
            "results", title: survey.title,
            ResultsPage(
                id: survey.id, title: survey.title, opens: "\(survey.opens)", closes: "\(survey.closes)",
                questions: try survey.questions.map { question in
                    let results = try QuestionResults(question)
                    let shares = results.shares
                    return ResultsPage.Question(
                        text: question.text, total: ChartText.grouped(shares.total),
                        totalShare: shares.total > 0 ? "100%" : "",
                        winnersLabel: shares.winners.count > 1 ? "Winners" : "Winner",
                        winners: shares.winners.map(\.text).joined(separator: ", "),
                        hasWinners: !shares.winners.isEmpty,
                        sources: results.charts.filter { $0.variant.media != nil }.map {
                            ResultsPage.Chart($0, alt: results.altText)
                        },
                        image: results.charts.first { $0.variant.media == nil }.map {
                            ResultsPage.Chart($0, alt: results.altText)
                        },
                        alt: results.altText,
                        answers: shares.rows.map { row in
                            ResultsPage.Answer(
                                text: row.answer.text, votes: ChartText.grouped(row.answer.votes),
                                percent: ChartText.percent(row.percent, votes: row.answer.votes), winner: row.isWinner)
                        })
                }))
    }

    struct ThanksPage {
        var id: Int64
        var title: String
        var closes: String
    }

    func thanks(_ survey: Survey) -> String {
        page("thanks", title: "Thank you", ThanksPage(id: survey.id, title: survey.title, closes: "\(survey.closes)"))
    }

    struct MessagePage {
        var heading: String
        var text: String
        var links: [ServiceError.Link]
    }

    /// A page with a heading, a message and links onward; "Back to the surveys" comes last.
    func message(title: String, _ text: String, links: [ServiceError.Link] = []) -> String {
        let all = links + [ServiceError.Link(href: "/", label: "Back to the surveys")]
        return page("message", title: title, MessagePage(heading: title, text: text, links: all))
    }

    static let templates: [String: String] = [
        "layout": """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · SurveyCharts</title>
        <link rel="stylesheet" href="/static/style.css">
        <link rel="icon" href="/favicon.ico" sizes="any">
        </head>
        <body>
        <header><a class="brand" href="/">SurveyCharts</a></header>
        <main>
        {{{content}}}
        </main>
        </body>
        </html>

        """,
        "home": """
        <h1>Surveys</h1>
        <section>
        <h2>Open now</h2>
        {{#noActive}}<p class="empty">No survey is open today.</p>{{/noActive}}
        <ul class="surveys">
        {{#active}}<li><a href="/surveys/{{id}}">{{title}}</a> <span class="dates">open until {{closes}}</span></li>
        {{/active}}
        </ul>
        {{#activePages}}{{> pageLinks}}{{/activePages}}
        </section>
        <section>
        <h2>Recent results</h2>
        {{#noCompleted}}<p class="empty">No survey closed in the last 14 days.</p>{{/noCompleted}}
        <ul class="surveys">
        {{#completed}}<li><a href="/surveys/{{id}}">{{title}}</a> <span class="dates">closed {{closes}}</span></li>
        {{/completed}}
        </ul>
        {{#completedPages}}{{> pageLinks}}{{/completedPages}}
        </section>
        """,
        "pageLinks": """
        <nav class="pages" aria-label="{{label}}, pages">
        {{#previous}}<a href="{{previous}}" rel="prev">Previous</a>{{/previous}}
        <span>Page {{number}} of {{count}}</span>
        {{#next}}<a href="{{next}}" rel="next">Next</a>{{/next}}
        </nav>
        """,
        "form": """
        <h1>{{title}}</h1>
        <p class="dates">Open until {{closes}}.</p>
        {{#error}}
        <div class="error" role="alert" id="ballot-error">
        <p>{{message}}</p>
        {{#hasMissing}}<ul>{{#missingQuestions}}<li><a href="#question-{{id}}">{{text}}</a></li>{{/missingQuestions}}</ul>{{/hasMissing}}
        </div>
        {{/error}}
        <form method="post" action="/surveys/{{id}}">
        {{#questions}}
        <fieldset id="question-{{questionID}}"{{#missing}} class="missing" aria-describedby="ballot-error"{{/missing}}>
        <legend>{{text}}{{#missing}} <span class="required-note">(not answered)</span>{{/missing}}</legend>
        {{#answers}}<label><input type="radio" name="q{{questionID}}" value="{{answerID}}"{{#checked}} checked{{/checked}}> {{text}}</label>
        {{/answers}}
        </fieldset>
        {{/questions}}
        <button type="submit">Vote</button>
        </form>
        """,
        "results": """
        <h1>{{title}}</h1>
        <p class="dates">Results · open {{opens}} to {{closes}} · <a href="/surveys/{{id}}/results.json">JSON</a></p>
        {{#questions}}
        <section class="question">
        <h2>{{text}}</h2>
        {{#hasWinners}}<p class="winner">{{winnersLabel}}: <strong>{{winners}}</strong></p>{{/hasWinners}}
        {{^hasWinners}}<p class="winner">No votes yet</p>{{/hasWinners}}
        <picture>
        {{#sources}}<source media="{{media}}" srcset="{{srcset}}" width="{{width}}" height="{{height}}">
        {{/sources}}{{#image}}<img class="chart" src="{{src}}" srcset="{{srcset}}" width="{{width}}" height="{{height}}" alt="{{alt}}">{{/image}}
        </picture>
        <table class="results">
        <caption class="visually-hidden">Votes for each answer</caption>
        <thead><tr><th scope="col">Answer</th><th scope="col" class="number">Votes</th><th scope="col" class="number">Share</th></tr></thead>
        <tbody>
        {{#answers}}<tr{{#winner}} class="winner"{{/winner}}><th scope="row">{{text}}</th><td class="number">{{votes}}</td><td class="number">{{percent}}</td></tr>
        {{/answers}}
        </tbody>
        <tfoot><tr><th scope="row">Total</th><td class="number">{{total}}</td><td class="number">{{totalShare}}</td></tr></tfoot>
        </table>
        </section>
        {{/questions}}
        """,
        "thanks": """
        <h1>Thank you</h1>
        <p>Your vote in “{{title}}” is recorded. Voting closes at the end of {{closes}}; the results appear on
        <a href="/surveys/{{id}}">the survey's page</a> the day after.</p>
        <p><a href="/">Back to the surveys</a></p>
        """,
        "message": """
        <h1>{{heading}}</h1>
        <p>{{text}}</p>
        <ul class="links">
        {{#links}}<li><a href="{{href}}">{{label}}</a></li>
        {{/links}}
        </ul>
        """,
    ]
}
