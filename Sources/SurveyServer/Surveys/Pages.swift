import Foundation
import Localization
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
        MustacheContentTypes.register(ScalarHTMLContentType(), named: ScalarHTMLContentType.name)
        var library = MustacheLibrary()
        for (name, text) in Self.templates.merging(Self.adminTemplates, uniquingKeysWith: { first, _ in first }) {
            // Every template, partials too (Mustache gives each partial the default type again).
            library.register(
                try MustacheTemplate(string: "{{% CONTENT_TYPE: \(ScalarHTMLContentType.name)}}" + text), named: name)
        }
        self.library = library
    }

    /// The layout around every page's content, in the page's language and direction.
    struct Layout {
        var title: String
        var content: String
        var lang: String
        var dir: String
        /// More of the head (a results page's share-card meta), already rendered.
        var head: String
    }

    /// `template` rendered with `context` (one of the page structs below), inside the layout.
    /// Admin pages are English; public pages pass their localizer.
    func page(
        _ template: String, title: String, _ context: some Sendable, in localizer: Localizer = .english,
        head: String = ""
    ) -> String {
        let content = library.render(context, withTemplate: template) ?? ""
        return library.render(
            Layout(
                title: title, content: content, lang: localizer.tag.description, dir: localizer.direction, head: head),
            withTemplate: "layout") ?? content
    }

    /// Every plain string of `localizer`'s catalog, for templates: `{{words.home_title}}`.
    static func words(_ localizer: Localizer) -> [String: String] {
        var words: [String: String] = [:]
        for key in CatalogKey.allCases {
            words[key.rawValue.replacingOccurrences(of: ".", with: "_")] = localizer.text(key)
        }
        return words
    }

    /// A survey's day as its language writes it (`30 novembre 2026`).
    static func day(_ day: CalendarDay, _ localizer: Localizer) -> String {
        let (year, month, date) = day.components
        return localizer.formatter.date(year: year, month: month, day: date) ?? day.description
    }

    /// A survey in a home-page list: its title in its own language.
    struct SurveyRow {
        var id: Int64
        var title: String
        var lang: String
        var dir: String
        var when: String
    }

    /// Links to a list's other pages (`pageLinks`), when it has more than one.
    struct PageLinks {
        var label: String
        var position: String
        var previous: String?
        var next: String?
        var words: [String: String]
    }

    struct HomePage {
        var words: [String: String]
        var active: [SurveyRow]
        var completed: [SurveyRow]
        var noActive: Bool
        var noCompleted: Bool
        var noneRecent: String
        var activePages: PageLinks?
        var completedPages: PageLinks?
    }

    /// Days the home page's "Recent results" reaches back.
    static let recentDays = 14

    /// The home page: one page of each list, with links to the pages before and after, in the
    /// reader's language (`Accept-Language`); each title in its survey's.
    func home(active: SurveyPage, completed: SurveyPage, in localizer: Localizer) -> String {
        let words = Self.words(localizer)
        func rows(_ surveys: [SurveySummary], _ key: CatalogKey, day: (SurveySummary) -> CalendarDay) -> [SurveyRow] {
            surveys.map {
                SurveyRow(
                    id: $0.id, title: $0.title, lang: $0.language.description, dir: $0.language.direction,
                    when: localizer.text(key, ["date": Self.day(day($0), localizer)]))
            }
        }
        func link(open: Int, recent: Int) -> String {
            var query: [String] = []
            if open > 1 { query.append("open=\(open)") }
            if recent > 1 { query.append("recent=\(recent)") }
            return query.isEmpty ? "/" : "/?" + query.joined(separator: "&")
        }
        func navigation(_ page: SurveyPage, label: CatalogKey, link: (Int) -> String) -> PageLinks? {
            guard page.count > 1 else { return nil }
            return PageLinks(
                label: localizer.text(label),
                position: localizer.text(
                    .pagesPosition,
                    [
                        "number": localizer.formatter.number(page.number),
                        "count": localizer.formatter.number(page.count),
                    ]),
                previous: page.number > 1 ? link(page.number - 1) : nil,
                next: page.number < page.count ? link(page.number + 1) : nil, words: words)
        }
        return page(
            "home", title: localizer.text(.homeTitle),
            HomePage(
                words: words, active: rows(active.surveys, .homeOpenUntil) { $0.closes },
                completed: rows(completed.surveys, .homeClosed) { $0.closes }, noActive: active.total == 0,
                noCompleted: completed.total == 0,
                noneRecent: localizer.plural(.noneRecent, count: Self.recentDays),
                activePages: navigation(active, label: .homeOpenSurveysPages) {
                    link(open: $0, recent: completed.number)
                },
                completedPages: navigation(completed, label: .homeRecentResultsPages) {
                    link(open: active.number, recent: $0)
                }), in: localizer)
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
            /// Shown but not to be changed (`disabled`): the answers go as `sentChoices`.
            var locked: Bool
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

        var words: [String: String]
        var id: Int64
        var receipt: String
        /// A ballot that may have counted goes again exactly as sent, in hidden fields: under its
        /// receipt, other answers would be another ballot.
        var sentChoices: [Answer]
        var title: String
        var closes: String
        var questions: [Question]
        var error: Problem?
    }

    /// What went wrong with a ballot, said in the survey's language.
    enum BallotProblem: Sendable {
        case unreadable
        case unexpectedField(String)
        case answeredTwice
        case invalidChoice
        case unanswered
        /// The store could not say whether the ballot counted (`reference` is the request's id,
        /// as in the log); sent again with its receipt, it counts once.
        case notConfirmed(reference: String)
        /// The store was busy or unavailable and recorded nothing.
        case notRecorded(reference: String)
    }

    /// The vote form, in the survey's language, carrying `receipt` (a new one for each form
    /// served, so each filled-in form is one ballot however often it is sent). `problem` is shown
    /// (as an alert) only when there is one; `missing` marks the unanswered questions, and
    /// `chosen` keeps the answers already picked. After `notConfirmed` the answers are shown
    /// locked, and sent again as they were.
    func form(
        _ survey: Survey, receipt: BallotReceipt, problem: BallotProblem? = nil, chosen: [Int64: Int64] = [:],
        missing: Set<Int64> = []
    ) -> String {
        let localizer = Localizer(survey.language)
        let unanswered = survey.questions.filter { missing.contains($0.id) }
        func message(_ problem: BallotProblem) -> String {
            switch problem {
            case .unreadable: return localizer.text(.formUnreadable)
            case .unexpectedField(let name):
                return localizer.text(.formUnexpectedField, ["field": String(name.prefix(40))])
            case .answeredTwice: return localizer.text(.formAnsweredTwice)
            case .invalidChoice: return localizer.text(.formInvalidChoice)
            case .unanswered: return localizer.plural(.answerThese, count: unanswered.count)
            case .notConfirmed(let reference):
                return localizer.text(.formNotConfirmed) + " "
                    + localizer.text(.errorReference, ["reference": reference])
            case .notRecorded(let reference):
                return localizer.text(.formNotRecorded) + " "
                    + localizer.text(.errorReference, ["reference": reference])
            }
        }
        var locked = false
        if case .notConfirmed = problem { locked = true }
        let questions = survey.questions.map { question in
            BallotForm.Question(
                questionID: question.id, text: question.text, missing: missing.contains(question.id),
                answers: question.answers.map { answer in
                    BallotForm.Answer(
                        questionID: question.id, answerID: answer.id, text: answer.text,
                        checked: chosen[question.id] == answer.id)
                }, locked: locked)
        }
        return page(
            "form", title: survey.title,
            BallotForm(
                words: Self.words(localizer), id: survey.id, receipt: receipt.text,
                sentChoices: locked ? questions.flatMap { $0.answers.filter(\.checked) } : [], title: survey.title,
                closes: localizer.text(.formOpenUntil, ["date": Self.day(survey.closes, localizer)]),
                questions: questions,
                error: problem.map { problem in
                    BallotForm.Problem(
                        message: message(problem), hasMissing: !unanswered.isEmpty,
                        missingQuestions: unanswered.map { .init(id: $0.id, text: $0.text) })
                }), in: localizer)
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

        /// A winner's name, and the list separator after it (none after the last).
        struct Winner {
            var text: String
            var separator: String
        }

        struct Question {
            var id: Int64
            var text: String
            /// The HTML another site pastes (shown escaped, in a read-only box).
            var embed: String
            /// The 2x default chart, for print.
            var printSource: String
            /// The chart as SVG, at its stable address.
            var vector: String
            var total: String
            var totalShare: String
            var winnersLabel: String
            var winners: [Winner]
            var hasWinners: Bool
            /// The variants shown under a media condition, then the default image.
            var sources: [Chart]
            var image: Chart?
            var alt: String
            var answers: [Answer]
        }

        var words: [String: String]
        var id: Int64
        var title: String
        var dates: String
        var questions: [Question]
    }

    /// What link previews read (Open Graph, Twitter cards) and where oEmbed is.
    struct ResultsHead {
        var title: String
        var description: String
        var locale: String
        /// Absolute addresses, when the site knows its public URL.
        var absolute: Absolute?

        struct Absolute {
            var page: String
            var image: String?
            var imageAlt: String
            var oEmbed: String
        }
    }

    /// A completed survey's results, in its language, with its share card's meta and an embed
    /// snippet per question. Sizing the charts measures their text: call it where blocking work runs.
    func results(_ survey: Survey, publicURL: String? = nil) throws -> String {
        let localizer = Localizer(survey.language)
        let separator = localizer.text(.listSeparator)
        let base = publicURL ?? ""
        let description =
            survey.questions.first.map { $0.text + " " + SurveyDocuments.winnersLine($0, localizer) } ?? survey.title
        let absolute = try publicURL.map { base -> ResultsHead.Absolute in
            let page = base + "/surveys/\(survey.id)"
            var query = URLComponents()
            query.queryItems = [URLQueryItem(name: "url", value: page), URLQueryItem(name: "format", value: "json")]
            return ResultsHead.Absolute(
                page: page, image: try SurveyDocuments.cardName(for: survey).map { base + "/piecharts/" + $0.fileName },
                imageAlt: survey.title + ". " + description,
                oEmbed: base + "/oembed" + (query.percentEncodedQuery.map { "?" + $0 } ?? ""))
        }
        let head =
            library.render(
                ResultsHead(
                    title: survey.title, description: description,
                    locale: survey.language.description.replacingOccurrences(of: "-", with: "_"), absolute: absolute),
                withTemplate: "resultsHead") ?? ""
        return page(
            "results", title: survey.title,
            ResultsPage(
                words: Self.words(localizer), id: survey.id, title: survey.title,
                dates: localizer.text(
                    .resultsDates,
                    ["opens": Self.day(survey.opens, localizer), "closes": Self.day(survey.closes, localizer)]),
                questions: try survey.questions.map { question in
                    let results = try QuestionResults(question, in: survey.language)
                    let shares = results.shares
                    return ResultsPage.Question(
                        id: question.id, text: question.text,
                        embed: try EmbedSnippet(survey: survey, question: question, base: base).html,
                        printSource: results.charts.first { $0.variant.media == nil }?.urls.last?.url ?? "",
                        vector: "/surveys/\(survey.id)/charts/\(question.id).svg",
                        total: localizer.formatter.number(shares.total),
                        totalShare: shares.total > 0 ? localizer.formatter.percent(100) : "",
                        winnersLabel: localizer.plural(.winners, count: shares.winners.count),
                        winners: shares.winners.enumerated().map { index, winner in
                            ResultsPage.Winner(
                                text: winner.text, separator: index == shares.winners.count - 1 ? "" : separator)
                        },
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
                                text: row.answer.text, votes: localizer.formatter.number(row.answer.votes),
                                percent: localizer.share(row.percent, votes: row.answer.votes), winner: row.isWinner)
                        })
                }), in: localizer, head: head)
    }

    struct ThanksPage {
        var words: [String: String]
        /// The message, with its link, already escaped.
        var body: String
    }

    func thanks(_ survey: Survey) -> String {
        let localizer = Localizer(survey.language)
        let parts = localizer.text(.thanksBody).components(separatedBy: "{link}")
        let arguments = ["title": survey.title, "closes": Self.day(survey.closes, localizer)]
        let link = "<a href=\"/surveys/\(survey.id)\">\(HTML.escape(localizer.text(.thanksLink)))</a>"
        let body = parts.map { HTML.escape($0.filling(arguments)) }.joined(separator: link)
        return page(
            "thanks", title: localizer.text(.thanksTitle), ThanksPage(words: Self.words(localizer), body: body),
            in: localizer)
    }

    struct MessagePage {
        var heading: String
        var text: String
        var links: [ServiceError.Link]
    }

    /// A page with a heading, a message and links onward; "Back to the surveys" comes last.
    func message(
        title: String, _ text: String, links: [ServiceError.Link] = [], in localizer: Localizer = .english
    )
        -> String
    {
        let all = links + [ServiceError.Link(href: "/", label: localizer.text(.backToSurveys))]
        return page("message", title: title, MessagePage(heading: title, text: text, links: all), in: localizer)
    }

    static let templates: [String: String] = [
        "layout": """
        <!doctype html>
        <html lang="{{lang}}" dir="{{dir}}">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · SurveyCharts</title>
        <link rel="stylesheet" href="/static/style.css">
        <link rel="icon" href="/favicon.ico" sizes="any">
        {{{head}}}
        </head>
        <body>
        <header><a class="brand" href="/" lang="en" dir="ltr">SurveyCharts</a></header>
        <main>
        {{{content}}}
        </main>
        </body>
        </html>

        """,
        "home": """
        <h1>{{words.home_title}}</h1>
        <section>
        <h2>{{words.home_openNow}}</h2>
        {{#noActive}}<p class="empty">{{words.home_noneOpen}}</p>{{/noActive}}
        <ul class="surveys">
        {{#active}}<li><a href="/surveys/{{id}}" lang="{{lang}}" dir="{{dir}}">{{title}}</a> <span class="dates">{{when}}</span></li>
        {{/active}}
        </ul>
        {{#activePages}}{{> pageLinks}}{{/activePages}}
        </section>
        <section>
        <h2>{{words.home_recentResults}}</h2>
        {{#noCompleted}}<p class="empty">{{noneRecent}}</p>{{/noCompleted}}
        <ul class="surveys">
        {{#completed}}<li><a href="/surveys/{{id}}" lang="{{lang}}" dir="{{dir}}">{{title}}</a> <span class="dates">{{when}}</span></li>
        {{/completed}}
        </ul>
        {{#completedPages}}{{> pageLinks}}{{/completedPages}}
        </section>
        """,
        "pageLinks": """
        <nav class="pages" aria-label="{{label}}">
        {{#previous}}<a href="{{previous}}" rel="prev">{{words.pages_previous}}</a>{{/previous}}
        <span>{{position}}</span>
        {{#next}}<a href="{{next}}" rel="next">{{words.pages_next}}</a>{{/next}}
        </nav>
        """,
        "form": """
        <h1>{{title}}</h1>
        <p class="dates">{{closes}}</p>
        {{#error}}
        <div class="error" role="alert" id="ballot-error">
        <p>{{message}}</p>
        {{#hasMissing}}<ul>{{#missingQuestions}}<li><a href="#question-{{id}}"><bdi>{{text}}</bdi></a></li>{{/missingQuestions}}</ul>{{/hasMissing}}
        </div>
        {{/error}}
        <form method="post" action="/surveys/{{id}}">
        <input type="hidden" name="receipt" value="{{receipt}}" autocomplete="off">
        {{#sentChoices}}<input type="hidden" name="q{{questionID}}" value="{{answerID}}">
        {{/sentChoices}}
        {{#questions}}
        <fieldset id="question-{{questionID}}"{{#missing}} class="missing" aria-describedby="ballot-error"{{/missing}}{{#locked}} disabled{{/locked}}>
        <legend><bdi>{{text}}</bdi>{{#missing}} <span class="required-note">{{words.form_notAnswered}}</span>{{/missing}}</legend>
        {{#answers}}<label><input type="radio" name="q{{questionID}}" value="{{answerID}}"{{#checked}} checked{{/checked}}> <bdi>{{text}}</bdi></label>
        {{/answers}}
        </fieldset>
        {{/questions}}
        <button type="submit">{{words.form_vote}}</button>
        </form>
        """,
        "resultsHead": """
        <meta property="og:type" content="article">
        <meta property="og:title" content="{{title}}">
        <meta property="og:description" content="{{description}}">
        <meta property="og:locale" content="{{locale}}">
        <meta name="twitter:card" content="summary_large_image">
        {{#absolute}}
        <meta property="og:url" content="{{page}}">
        <link rel="canonical" href="{{page}}">
        {{#image}}<meta property="og:image" content="{{image}}">
        <meta property="og:image:width" content="1200">
        <meta property="og:image:height" content="630">
        <meta property="og:image:alt" content="{{imageAlt}}">
        <meta name="twitter:image" content="{{image}}">
        <meta name="twitter:image:alt" content="{{imageAlt}}">
        {{/image}}
        <link rel="alternate" type="application/json+oembed" href="{{oEmbed}}" title="{{title}}">
        {{/absolute}}
        """,
        "results": """
        <h1>{{title}}</h1>
        <p class="dates">{{dates}} · <a href="/surveys/{{id}}/results.json">{{words.results_data}}</a> · <a href="/surveys/{{id}}/report.pdf">{{words.results_report}}</a></p>
        {{#questions}}
        <section class="question">
        <h2><bdi>{{text}}</bdi></h2>
        {{#hasWinners}}<p class="winner">{{winnersLabel}}{{words.common_labelSeparator}}<strong>{{#winners}}<bdi>{{text}}</bdi>{{separator}}{{/winners}}</strong></p>{{/hasWinners}}
        {{^hasWinners}}<p class="winner">{{words.results_noVotes}}</p>{{/hasWinners}}
        <picture>
        <source media="print" srcset="{{printSource}}">
        {{#sources}}<source media="{{media}}" srcset="{{srcset}}" width="{{width}}" height="{{height}}">
        {{/sources}}{{#image}}<img class="chart" src="{{src}}" srcset="{{srcset}}" width="{{width}}" height="{{height}}" alt="{{alt}}">{{/image}}
        </picture>
        <table class="results">
        <caption class="visually-hidden">{{words.results_tableCaption}}</caption>
        <thead><tr><th scope="col">{{words.results_answer}}</th><th scope="col" class="number">{{words.results_votes}}</th><th scope="col" class="number">{{words.results_share}}</th></tr></thead>
        <tbody>
        {{#answers}}<tr{{#winner}} class="winner"{{/winner}}><th scope="row"><bdi>{{text}}</bdi></th><td class="number">{{votes}}</td><td class="number">{{percent}}</td></tr>
        {{/answers}}
        </tbody>
        <tfoot><tr><th scope="row">{{words.results_total}}</th><td class="number">{{total}}</td><td class="number">{{totalShare}}</td></tr></tfoot>
        </table>
        <p class="formats"><a href="{{vector}}">{{words.results_vector}}</a></p>
        <details class="embed">
        <summary>{{words.results_embedTitle}}</summary>
        <label for="embed-{{id}}">{{words.results_embedLabel}}</label>
        <textarea id="embed-{{id}}" readonly rows="5" spellcheck="false" dir="ltr">{{embed}}</textarea>
        </details>
        </section>
        {{/questions}}
        """,
        "thanks": """
        <h1>{{words.thanks_title}}</h1>
        <p>{{{body}}}</p>
        <p><a href="/">{{words.common_backToSurveys}}</a></p>
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

/// HTML escaping, for every template's `{{value}}` and the few strings built as HTML outside a
/// template (a sentence with a link in it): `MarkupText`, by Unicode scalar.
enum HTML {
    /// `text` safe as element content or a quoted attribute value.
    static func escape(_ text: String) -> String { MarkupText.escaped(text) }
}

/// The templates' content type: `HTML.escape` (by scalar) for every `{{value}}`.
struct ScalarHTMLContentType: MustacheContentType {
    static let name = "SCALAR_HTML"
    func escapeText(_ text: String) -> String { HTML.escape(text) }
}
