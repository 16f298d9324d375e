import Foundation
import Localization
import PieChart
import SurveyCharts
import Surveys

/// The operators' pages, rendered with the public pages' layout and style. Each page's template
/// reads one context struct below; a key the template names and the struct lacks renders empty,
/// so the names are kept beside the template that reads them.
extension Pages {
    struct AdminLoginPage {
        var next: String
        var name: String
        var error: String?
    }

    func adminLogin(next: String?, name: String = "", error: String? = nil) -> String {
        page("adminLogin", title: "Sign in", AdminLoginPage(next: next ?? "", name: name, error: error))
    }

    /// One row of the survey list.
    struct AdminSurveyRow {
        var id: Int64
        var title: String
        var opens: String
        var closes: String
        var ballots: String
        var status: String
    }

    struct AdminListPage {
        var user: String
        var csrf: String
        var notice: String?
        var noSurveys: Bool
        var surveys: [AdminSurveyRow]
    }

    func adminList(_ surveys: [SurveyOverview], today: CalendarDay, session: AdminSession, notice: String?) -> String {
        page(
            "adminList", title: "Admin · Surveys",
            AdminListPage(
                user: session.user, csrf: session.csrfToken, notice: notice, noSurveys: surveys.isEmpty,
                surveys: surveys.map { overview in
                    let summary = overview.summary
                    return AdminSurveyRow(
                        id: summary.id, title: summary.title, opens: "\(summary.opens)", closes: "\(summary.closes)",
                        ballots: ChartText.grouped(overview.ballots),
                        status: Self.status(summary.opens, summary.closes, today))
                }))
    }

    struct AdminNewPage {
        var user: String
        var csrf: String
        var form: SurveyFormContext
    }

    func adminNew(_ form: SurveyForm, session: AdminSession, error: SurveyForm.FieldError? = nil) -> String {
        page(
            "adminNew", title: "Admin · New survey",
            AdminNewPage(
                user: session.user, csrf: session.csrfToken,
                form: SurveyFormContext(form, action: "/admin/surveys", save: "Create survey", error: error)))
    }

    /// One question's counts, as operators see them (live while the survey is open).
    struct AdminCounts {
        struct Row {
            var text: String
            var votes: String
            var percent: String
        }

        var text: String
        var total: String
        var answers: [Row]
    }

    struct AdminSurveyPage {
        var user: String
        var csrf: String
        var id: Int64
        var title: String
        var opens: String
        var closes: String
        var status: String
        var ballots: String
        var notice: String?
        var actionError: String?
        var countsHeading: String
        var counts: [AdminCounts]
        var canClose: Bool
        var canReopen: Bool
        var isCompleted: Bool
        var form: SurveyFormContext
    }

    func adminSurvey(
        _ survey: Survey, overview: SurveyOverview, form: SurveyForm, today: CalendarDay, session: AdminSession,
        notice: String? = nil, formError: SurveyForm.FieldError? = nil, actionError: String? = nil
    ) -> String {
        let state = survey.state(on: today)
        let counts = survey.questions.map { question in
            let shares = QuestionShares(question)
            return AdminCounts(
                text: question.text, total: ChartText.grouped(shares.total),
                answers: shares.rows.map { row in
                    AdminCounts.Row(
                        text: row.answer.text, votes: ChartText.grouped(row.answer.votes),
                        percent: ChartText.percent(row.percent, votes: row.answer.votes))
                })
        }
        let countsHeading: String
        switch state {
        case .upcoming: countsHeading = "Counts (voting has not started)"
        case .open: countsHeading = "Live counts (only operators see them until the survey closes)"
        case .completed: countsHeading = "Final counts (public)"
        }
        return page(
            "adminSurvey", title: "Admin · \(survey.title)",
            AdminSurveyPage(
                user: session.user, csrf: session.csrfToken, id: survey.id, title: survey.title,
                opens: "\(survey.opens)", closes: "\(survey.closes)",
                status: Self.status(survey.opens, survey.closes, today),
                ballots: Self.count(overview.ballots, "ballot"), notice: notice, actionError: actionError,
                countsHeading: countsHeading, counts: counts, canClose: state == .open,
                canReopen: overview.closedEarlyOn == today, isCompleted: state == .completed,
                form: SurveyFormContext(
                    form, action: "/admin/surveys/\(survey.id)", save: "Save changes", error: formError)))
    }

    struct AdminDeletePage {
        var user: String
        var csrf: String
        var id: Int64
        var title: String
        var ballots: String
        var error: String?
    }

    func adminDelete(_ survey: Survey, ballots: Int, session: AdminSession, error: String? = nil) -> String {
        page(
            "adminDelete", title: "Admin · Delete \(survey.title)",
            AdminDeletePage(
                user: session.user, csrf: session.csrfToken, id: survey.id, title: survey.title,
                ballots: Self.count(ballots, "ballot"), error: error))
    }

    /// “1 ballot”, “1,204 ballots”.
    static func count(_ number: Int, _ noun: String) -> String {
        "\(ChartText.grouped(number)) \(noun)\(number == 1 ? "" : "s")"
    }

    static func status(_ opens: CalendarDay, _ closes: CalendarDay, _ today: CalendarDay) -> String {
        today < opens ? "upcoming" : today <= closes ? "open" : "closed"
    }

    /// The survey form (`adminSurveyForm`) as typed, with the field at fault marked.
    struct SurveyFormContext {
        struct Answer {
            var q: Int
            var index: Int
            var number: Int
            var id: String
            var text: String
            var order: String
            var hasVotes: Bool
            var votes: String
            var textInvalid: Bool
            var orderInvalid: Bool
        }

        struct Question {
            var index: Int
            var number: Int
            var id: String
            var text: String
            var order: String
            var invalid: Bool
            var textInvalid: Bool
            var orderInvalid: Bool
            var answers: [Answer]
        }

        var action: String
        var saveLabel: String
        var error: String?
        var title: String
        var language: String
        /// A catalog, as a suggestion of the language field.
        struct LanguageOption {
            var tag: String
            var name: String
        }

        /// The catalogs, for the language field's suggestions.
        var languages: [LanguageOption]
        var opens: String
        var closes: String
        var titleInvalid: Bool
        var languageInvalid: Bool
        var opensInvalid: Bool
        var closesInvalid: Bool
        var questions: [Question]

        init(_ form: SurveyForm, action: String, save: String, error: SurveyForm.FieldError?) {
            let invalid = error?.field
            self.action = action
            saveLabel = save
            self.error = error?.message
            title = form.title
            language = form.language
            languages = Catalogs.all.map { LanguageOption(tag: $0.tag.description, name: $0.name) }
            opens = form.opens
            closes = form.closes
            titleInvalid = invalid == .title
            languageInvalid = invalid == .language
            opensInvalid = invalid == .opens
            closesInvalid = invalid == .closes
            questions = form.questions.enumerated().map { q, question in
                Question(
                    index: q, number: q + 1, id: question.id.map(String.init) ?? "", text: question.text,
                    order: question.order, invalid: invalid?.isInQuestion(q) == true,
                    textInvalid: invalid == .questionText(q), orderInvalid: invalid == .questionOrder(q),
                    answers: question.answers.enumerated().map { a, answer in
                        Answer(
                            q: q, index: a, number: a + 1, id: answer.id.map(String.init) ?? "", text: answer.text,
                            order: answer.order, hasVotes: answer.votes > 0, votes: Pages.count(answer.votes, "vote"),
                            textInvalid: invalid == .answerText(question: q, answer: a),
                            orderInvalid: invalid == .answerOrder(question: q, answer: a))
                    })
            }
        }
    }

    static let adminTemplates: [String: String] = [
        "adminNavigation": """
        <nav class="admin-nav" aria-label="Administration">
        <a href="/admin">All surveys</a>
        <a href="/admin/surveys/new">New survey</a>
        <form method="post" action="/admin/logout" class="inline">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit" class="link">Sign out {{user}}</button>
        </form>
        </nav>
        """,
        "adminLogin": """
        <h1>Operators: sign in</h1>
        {{#error}}<div class="error" role="alert" id="login-error"><p>{{error}}</p></div>{{/error}}
        <form method="post" action="/admin/login" class="admin-form narrow">
        <input type="hidden" name="next" value="{{next}}">
        <label for="name">Name</label>
        <input id="name" name="name" autocomplete="username" maxlength="64" value="{{name}}"{{#error}} aria-describedby="login-error"{{/error}}>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password"{{#error}} aria-describedby="login-error"{{/error}}>
        <div class="buttons"><button type="submit">Sign in</button></div>
        </form>
        """,
        "adminList": """
        {{> adminNavigation}}
        <h1>Surveys</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#noSurveys}}<p class="empty">No surveys yet. <a href="/admin/surveys/new">Create the first one</a>.</p>{{/noSurveys}}
        {{^noSurveys}}
        <div class="table-scroll">
        <table class="admin-list">
        <thead><tr><th scope="col">Survey</th><th scope="col">Status</th><th scope="col">Opens</th><th scope="col">Closes</th><th scope="col" class="number">Ballots</th><th scope="col">Public</th></tr></thead>
        <tbody>
        {{#surveys}}<tr><th scope="row"><a href="/admin/surveys/{{id}}"><bdi>{{title}}</bdi></a></th><td><span class="status status-{{status}}">{{status}}</span></td><td>{{opens}}</td><td>{{closes}}</td><td class="number">{{ballots}}</td><td><a href="/surveys/{{id}}" aria-label="Public page of {{title}}">page</a></td></tr>
        {{/surveys}}
        </tbody>
        </table>
        </div>
        {{/noSurveys}}
        """,
        "adminNew": """
        {{> adminNavigation}}
        <h1>New survey</h1>
        {{#form}}{{> adminSurveyForm}}{{/form}}
        """,
        "adminSurvey": """
        {{> adminNavigation}}
        <h1><bdi>{{title}}</bdi></h1>
        <p class="dates"><span class="status status-{{status}}">{{status}}</span> · opens {{opens}} · closes {{closes}} · {{ballots}} · <a href="/surveys/{{id}}">public page</a></p>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#actionError}}<div class="error" role="alert"><p>{{actionError}}</p></div>{{/actionError}}
        <section aria-labelledby="counts-heading">
        <h2 id="counts-heading">{{countsHeading}}</h2>
        {{#counts}}
        <table class="results counts">
        <caption><bdi>{{text}}</bdi></caption>
        <thead><tr><th scope="col">Answer</th><th scope="col" class="number">Votes</th><th scope="col" class="number">Share</th></tr></thead>
        <tbody>
        {{#answers}}<tr><th scope="row"><bdi>{{text}}</bdi></th><td class="number">{{votes}}</td><td class="number">{{percent}}</td></tr>
        {{/answers}}
        </tbody>
        <tfoot><tr><th scope="row">Total</th><td class="number">{{total}}</td><td></td></tr></tfoot>
        </table>
        {{/counts}}
        </section>
        <section aria-labelledby="actions-heading">
        <h2 id="actions-heading">Actions</h2>
        <div class="actions">
        {{#canClose}}<form method="post" action="/admin/surveys/{{id}}/close" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Close now</button></form>{{/canClose}}
        {{#canReopen}}<form method="post" action="/admin/surveys/{{id}}/reopen" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Reopen (undo close)</button></form>{{/canReopen}}
        <a class="button secondary" href="/admin/surveys/{{id}}/export.csv">Export CSV</a>
        <a class="button secondary" href="/admin/surveys/{{id}}/export.json">Export JSON</a>
        <a class="button secondary" href="/admin/surveys/{{id}}/report.pdf">Report (PDF)</a>
        <a class="button danger" href="/admin/surveys/{{id}}/delete">Delete…</a>
        </div>
        {{#canClose}}<p class="hint">Close now makes yesterday the last day of voting: the results and charts become public at once. It can be undone today only.</p>{{/canClose}}
        </section>
        <section aria-labelledby="edit-heading">
        <h2 id="edit-heading">Edit</h2>
        {{#form}}{{> adminSurveyForm}}{{/form}}
        </section>
        """,
        "adminSurveyForm": """
        <form method="post" action="{{action}}" class="admin-form" novalidate>
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{#error}}<div class="error" role="alert" id="form-error"><p>{{error}}</p></div>{{/error}}
        <label for="title">Title</label>
        <input id="title" name="title" value="{{title}}" maxlength="300" dir="auto"{{#titleInvalid}} aria-invalid="true" aria-describedby="form-error"{{/titleInvalid}}>
        <label for="language">Language (of the survey's texts and of its pages and charts: a tag such as en, zh-Hans, ar-EG)</label>
        <input id="language" name="language" value="{{language}}" maxlength="15" list="languages" autocomplete="off" spellcheck="false"{{#languageInvalid}} aria-invalid="true" aria-describedby="form-error"{{/languageInvalid}}>
        <datalist id="languages">{{#languages}}<option value="{{tag}}">{{name}}</option>{{/languages}}</datalist>
        <div class="row">
        <div><label for="opens">Opens (first day of voting)</label>
        <input id="opens" name="opens" type="date" value="{{opens}}"{{#opensInvalid}} aria-invalid="true" aria-describedby="form-error"{{/opensInvalid}}></div>
        <div><label for="closes">Closes (last day of voting)</label>
        <input id="closes" name="closes" type="date" value="{{closes}}"{{#closesInvalid}} aria-invalid="true" aria-describedby="form-error"{{/closesInvalid}}></div>
        </div>
        <p class="hint">Blank rows are ignored. To delete an answer, clear its text; to delete a question, clear its text and its answers. The order numbers sort questions and answers. An answer that holds votes cannot be deleted.</p>
        {{#questions}}
        <fieldset id="q{{index}}"{{#invalid}} class="missing"{{/invalid}}>
        <legend>Question {{number}}</legend>
        <input type="hidden" name="q{{index}}.id" value="{{id}}">
        <div class="row">
        <div class="grow"><label for="q{{index}}-text">Question</label>
        <input id="q{{index}}-text" name="q{{index}}.text" value="{{text}}" maxlength="300" dir="auto"{{#textInvalid}} aria-invalid="true" aria-describedby="form-error"{{/textInvalid}}></div>
        <div class="order"><label for="q{{index}}-order">Order</label>
        <input id="q{{index}}-order" name="q{{index}}.order" value="{{order}}" inputmode="numeric" maxlength="5"{{#orderInvalid}} aria-invalid="true" aria-describedby="form-error"{{/orderInvalid}}></div>
        </div>
        <ol class="answers">
        {{#answers}}<li class="row"><input type="hidden" name="q{{q}}.a{{index}}.id" value="{{id}}">
        <div class="grow"><label for="q{{q}}-a{{index}}-text">Answer {{number}}{{#hasVotes}} <span class="votes">({{votes}})</span>{{/hasVotes}}</label>
        <input id="q{{q}}-a{{index}}-text" name="q{{q}}.a{{index}}.text" value="{{text}}" maxlength="300" dir="auto"{{#textInvalid}} aria-invalid="true" aria-describedby="form-error"{{/textInvalid}}></div>
        <div class="order"><label for="q{{q}}-a{{index}}-order">Order</label>
        <input id="q{{q}}-a{{index}}-order" name="q{{q}}.a{{index}}.order" value="{{order}}" inputmode="numeric" maxlength="5"{{#orderInvalid}} aria-invalid="true" aria-describedby="form-error"{{/orderInvalid}}></div>
        </li>
        {{/answers}}
        </ol>
        </fieldset>
        {{/questions}}
        <div class="buttons"><button type="submit" name="action" value="save">{{saveLabel}}</button>
        <button type="submit" name="action" value="more" class="secondary">Add more rows</button></div>
        </form>
        """,
        "adminDelete": """
        {{> adminNavigation}}
        <h1>Delete “<bdi>{{title}}</bdi>”</h1>
        <p>This deletes the survey with its questions and its {{ballots}}. It cannot be undone: export it first if it may be needed.</p>
        {{#error}}<div class="error" role="alert" id="delete-error"><p>{{error}}</p></div>{{/error}}
        <form method="post" action="/admin/surveys/{{id}}/delete" class="admin-form narrow">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="confirm">Type the survey's title to confirm</label>
        <input id="confirm" name="confirm" autocomplete="off"{{#error}} aria-invalid="true" aria-describedby="delete-error"{{/error}}>
        <div class="buttons"><button type="submit" class="danger">Delete this survey</button> <a href="/admin/surveys/{{id}}">Cancel</a></div>
        </form>
        """,
    ]
}
