import Foundation
import Mustache
import PieChart
import Surveys

/// The server-rendered pages. Templates are compiled once at start-up; Mustache escapes every
/// `{{value}}`, so survey text can never become markup.
struct Pages: Sendable {
    private let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, text) in Self.templates {
            library.register(try MustacheTemplate(string: text), named: name)
        }
        self.library = library
    }

    private func page(_ template: String, title: String, _ context: [String: Any]) -> String {
        let content = library.render(context, withTemplate: template) ?? ""
        return library.render(["title": title, "content": content], withTemplate: "layout") ?? content
    }

    func home(active: [SurveySummary], completed: [SurveySummary]) -> String {
        func rows(_ surveys: [SurveySummary]) -> [[String: Any]] {
            surveys.map { ["id": $0.id, "title": $0.title, "opens": "\($0.opens)", "closes": "\($0.closes)"] }
        }
        return page(
            "home", title: "Surveys",
            [
                "active": rows(active), "completed": rows(completed), "noActive": active.isEmpty,
                "noCompleted": completed.isEmpty,
            ])
    }

    func form(_ survey: Survey, error: String? = nil, chosen: [Int64: Int64] = [:], missing: Set<Int64> = []) -> String
    {
        page(
            "form", title: survey.title,
            [
                "id": survey.id, "title": survey.title, "closes": "\(survey.closes)", "error": error as Any,
                "questions": survey.questions.map { question -> [String: Any] in
                    [
                        "id": question.id, "text": question.text, "missing": missing.contains(question.id),
                        "answers": question.answers.map { answer -> [String: Any] in
                            ["id": answer.id, "text": answer.text, "checked": chosen[question.id] == answer.id]
                        },
                    ]
                },
            ])
    }

    func results(_ survey: Survey) throws -> String {
        page(
            "results", title: survey.title,
            [
                "title": survey.title, "opens": "\(survey.opens)", "closes": "\(survey.closes)", "id": survey.id,
                "questions": try survey.questions.map { question -> [String: Any] in
                    let results = try QuestionResults(question)
                    return [
                        "text": question.text, "total": ChartText.grouped(results.total),
                        "winnersLabel": results.winners.count > 1 ? "Winners" : "Winner",
                        "winners": results.winners.map(\.text).joined(separator: ", "),
                        "hasWinners": !results.winners.isEmpty, "chart1x": results.chart1x, "chart2x": results.chart2x,
                        "alt": results.altText,
                        "answers": results.rows.map { row -> [String: Any] in
                            [
                                "text": row.answer.text, "votes": ChartText.grouped(row.answer.votes),
                                "percent": row.percent, "winner": row.isWinner,
                            ]
                        },
                    ]
                },
            ])
    }

    func thanks(_ survey: Survey) -> String {
        page("thanks", title: "Thank you", ["id": survey.id, "title": survey.title, "closes": "\(survey.closes)"])
    }

    func message(title: String, _ text: String) -> String {
        page("message", title: title, ["heading": title, "text": text])
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
        </section>
        <section>
        <h2>Recent results</h2>
        {{#noCompleted}}<p class="empty">No survey closed in the last 14 days.</p>{{/noCompleted}}
        <ul class="surveys">
        {{#completed}}<li><a href="/surveys/{{id}}">{{title}}</a> <span class="dates">closed {{closes}}</span></li>
        {{/completed}}
        </ul>
        </section>
        """,
        "form": """
        <h1>{{title}}</h1>
        <p class="dates">Open until {{closes}}.</p>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/surveys/{{id}}">
        {{#questions}}
        <fieldset{{#missing}} class="missing"{{/missing}}>
        <legend>{{text}}</legend>
        {{#answers}}<label><input type="radio" name="q{{id}}" value="{{id}}"{{#checked}} checked{{/checked}} required> {{text}}</label>
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
        <img class="chart" src="{{chart1x}}" srcset="{{chart1x}} 1x, {{chart2x}} 2x" width="640" height="400" alt="{{alt}}">
        <table>
        <thead><tr><th scope="col">Answer</th><th scope="col">Votes</th><th scope="col">%</th></tr></thead>
        <tbody>
        {{#answers}}<tr{{#winner}} class="winner"{{/winner}}><td>{{text}}</td><td>{{votes}}</td><td>{{percent}} %</td></tr>
        {{/answers}}
        </tbody>
        <tfoot><tr><th scope="row">Total</th><td>{{total}}</td><td></td></tr></tfoot>
        </table>
        </section>
        {{/questions}}
        """,
        "thanks": """
        <h1>Thank you</h1>
        <p>Your vote in “{{title}}” is recorded. Results appear here after {{closes}}.</p>
        <p><a href="/">Back to the surveys</a></p>
        """,
        "message": """
        <h1>{{heading}}</h1>
        <p>{{text}}</p>
        <p><a href="/">Back to the surveys</a></p>
        """,
    ]
}

/// A question's results as pages and `results.json` show them: the same numbers as its chart.
struct QuestionResults {
    struct Row {
        var answer: Answer
        var percent: Int
        var isWinner: Bool
    }

    var rows: [Row]
    var winners: [Answer]
    var total: Int
    var chart1x: String, chart2x: String
    var altText: String

    init(_ question: Question) throws {
        let percentages = Percentages.largestRemainder(question.answers.map(\.votes))
        winners = question.winners
        let winnerIDs = Set(winners.map(\.id))
        rows = zip(question.answers, percentages).map {
            Row(answer: $0, percent: $1, isWinner: winnerIDs.contains($0.id))
        }
        total = question.totalVotes
        let names = try ChartService.names(for: question)
        chart1x = "/piecharts/" + names.one.fileName
        chart2x = "/piecharts/" + names.two.fileName
        altText = try ChartService.spec(for: question).altText
    }
}
