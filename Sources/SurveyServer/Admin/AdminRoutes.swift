import ChartCache
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PieChart
import SurveyCharts
import Surveys

/// `/admin`: operators sign in, then create, edit, close, reopen, delete and export surveys.
///
/// Every route but the sign-in page needs a session: a browser without one is sent to sign in,
/// a program gets 401. Every POST needs the session's CSRF token and a same-origin request.
struct AdminRoutes: Sendable {
    let store: any SurveyStore
    let pages: Pages
    let authentication: AdminAuthentication
    let site: SiteConfiguration
    let maximumBodyBytes: Int
    /// Closing a survey draws its charts at once.
    let cache: ChartCache
    /// Reports of any survey, live while it is open.
    let chartFiles: SurveyChartFiles
    let logger: Logger

    /// Every admin route that needs a session (all but the sign-in page). They are added only in
    /// the group behind `OperatorSessionMiddleware`, and the auth tests run through this table.
    static let operatorRoutes: [(method: HTTPRequest.Method, path: String)] = [
        (.get, "/admin"), (.get, "/admin/surveys/new"), (.post, "/admin/surveys"), (.get, "/admin/surveys/:id"),
        (.post, "/admin/surveys/:id"), (.post, "/admin/surveys/:id/close"), (.post, "/admin/surveys/:id/reopen"),
        (.get, "/admin/surveys/:id/delete"), (.post, "/admin/surveys/:id/delete"),
        (.get, "/admin/surveys/:id/export.csv"), (.get, "/admin/surveys/:id/export.json"),
        (.get, "/admin/surveys/:id/report.pdf"), (.post, "/admin/logout"),
    ]

    func addRoutes(to router: Router<SurveyRequestContext>) {
        router.get("/admin/login") { request, _ in
            if try await authentication.session(request) != nil { return redirect(to: "/admin") }
            return adminHTML(pages.adminLogin(next: Self.safeNext(request.uri.queryParameters.get("next"))))
        }
        router.post("/admin/login") { request, context in
            try await signIn(request, context: context)
        }
        let operators = router.group().add(
            middleware: OperatorSessionMiddleware(
                authentication: authentication, maximumBodyBytes: maximumBodyBytes, logger: logger))
        func route(
            _ method: HTTPRequest.Method, _ path: String,
            _ handler: @escaping @Sendable (Request, SurveyRequestContext) async throws -> Response
        ) {
            precondition(
                Self.operatorRoutes.contains { $0.method == method && $0.path == path },
                "\(method) \(path) is missing from AdminRoutes.operatorRoutes, which the auth tests cover")
            operators.on(RouterPath(path), method: method, use: handler)
        }
        route(.post, "/admin/logout") { request, context in
            let session = try context.requireOperator()
            var response = redirect(to: "/admin/login")
            response.headers[.setCookie] = try await authentication.signOut(session, client: context.client)
            return response
        }
        route(.get, "/admin") { request, context in
            let session = try context.requireOperator()
            let surveys = try await store.surveyOverviews()
            return adminHTML(
                pages.adminList(
                    surveys, today: site.today, session: session,
                    notice: Self.notice(request.uri.queryParameters.get("done"))))
        }
        route(.get, "/admin/surveys/new") { request, context in
            let session = try context.requireOperator()
            return adminHTML(
                pages.adminNew(SurveyForm.blank(today: site.today, language: site.defaultLanguage), session: session))
        }
        route(.post, "/admin/surveys") { request, context in
            let (session, fields) = (try context.requireOperator(), context.operatorForm)
            var form: SurveyForm
            do {
                form = try SurveyForm(fields: fields)
            } catch let error as SurveyForm.FieldError {
                return adminHTML(
                    pages.adminNew(
                        SurveyForm.blank(today: site.today, language: site.defaultLanguage), session: session,
                        error: error),
                    status: .badRequest)
            }
            if Self.action(fields) == "more" {
                form.addBlankRows(questions: 1, answersPerQuestion: 4)
                return adminHTML(pages.adminNew(form, session: session))
            }
            do {
                var (entry, origins) = try form.entry()
                entry.language = entry.language ?? site.defaultLanguage
                do {
                    let id = try await store.createSurvey(entry)
                    logger.notice("admin: \(session.user) created survey \(id) “\(entry.title)”")
                    return redirect(to: "/admin/surveys/\(id)?done=created")
                } catch let error as SurveyStoreError where error.code == .invalidEdit {
                    throw form.fieldError(error, origins: origins)
                }
            } catch let error as SurveyForm.FieldError {
                return adminHTML(pages.adminNew(form, session: session, error: error), status: .badRequest)
            }
        }
        route(.get, "/admin/surveys/:id") { request, context in
            let session = try context.requireOperator()
            let (survey, overview) = try await adminSurvey(context)
            return adminHTML(
                pages.adminSurvey(
                    survey, overview: overview, form: SurveyForm(survey), today: site.today, session: session,
                    notice: Self.notice(request.uri.queryParameters.get("done"))))
        }
        route(.post, "/admin/surveys/:id") { request, context in
            try await saveSurvey(request, context: context)
        }
        route(.post, "/admin/surveys/:id/close") { request, context in
            let session = try context.requireOperator()
            let (survey, _) = try await adminSurvey(context)
            do {
                try await store.closeSurveyNow(id: survey.id, today: site.today)
            } catch let error as SurveyStoreError where error.code == .invalidEdit {
                return try await surveyPage(context, session: session, actionError: error.message)
            }
            logger.notice("admin: \(session.user) closed survey \(survey.id) now")
            // Its results are public from this moment: draw its charts before anyone asks.
            if let closed = try await store.survey(id: survey.id) {
                let report = await Prerenderer(cache: cache).run(surveys: [closed])
                logger.info("prerender: survey \(survey.id) closed by \(session.user): \(report.summary)")
            }
            return redirect(to: "/admin/surveys/\(survey.id)?done=closed")
        }
        route(.post, "/admin/surveys/:id/reopen") { request, context in
            let session = try context.requireOperator()
            let (survey, _) = try await adminSurvey(context)
            do {
                try await store.reopenSurvey(id: survey.id, today: site.today)
            } catch let error as SurveyStoreError where error.code == .invalidEdit {
                return try await surveyPage(context, session: session, actionError: error.message)
            }
            logger.notice("admin: \(session.user) reopened survey \(survey.id)")
            return redirect(to: "/admin/surveys/\(survey.id)?done=reopened")
        }
        route(.get, "/admin/surveys/:id/delete") { request, context in
            let session = try context.requireOperator()
            let (survey, overview) = try await adminSurvey(context)
            return adminHTML(pages.adminDelete(survey, ballots: overview.ballots, session: session))
        }
        route(.post, "/admin/surveys/:id/delete") { request, context in
            let (session, fields) = (try context.requireOperator(), context.operatorForm)
            let (survey, overview) = try await adminSurvey(context)
            let typed = fields.first { $0.name == "confirm" }?.value ?? ""
            guard typed.trimmingCharacters(in: .whitespacesAndNewlines) == survey.title else {
                let error =
                    typed.isEmpty
                    ? "Type the survey's title to confirm; nothing was deleted."
                    : "“\(typed)” is not this survey's title; nothing was deleted."
                return adminHTML(
                    pages.adminDelete(survey, ballots: overview.ballots, session: session, error: error),
                    status: .badRequest)
            }
            _ = try await store.deleteSurvey(id: survey.id)
            logger.notice("admin: \(session.user) deleted survey \(survey.id) “\(survey.title)”")
            return redirect(to: "/admin?done=deleted")
        }
        route(.get, "/admin/surveys/:id/export.csv") { request, context in
            _ = try context.requireOperator()
            let (survey, _) = try await adminSurvey(context)
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8; header=present", .xContentTypeOptions: "nosniff",
                    .contentDisposition: "attachment; filename=\"survey-\(survey.id).csv\"", .cacheControl: "no-store",
                ],
                body: .init(byteBuffer: ByteBuffer(string: SurveyCSV.document(survey))))
        }
        route(.get, "/admin/surveys/:id/report.pdf") { request, context in
            _ = try context.requireOperator()
            let (survey, _) = try await adminSurvey(context)
            // Until the results are published, the report's counts are live, and it says so. A live
            // report is drawn for this operator only: never stored where the public chart
            // directory (or nginx, serving it from disk) could hand it out.
            let live = survey.state(on: site.today) != .completed
            let bytes: [UInt8]
            if live {
                bytes = try await chartFiles.liveReport(of: survey)
            } else if let report = try await chartFiles.documentFile(.report, of: survey, live: false) {
                bytes = report.bytes
            } else {
                throw ServiceError.noSuchSurvey()
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/pdf", .xContentTypeOptions: "nosniff",
                    .contentDisposition: "inline; filename=\"survey-\(survey.id)\(live ? "-live" : "").pdf\"",
                    .cacheControl: "no-store",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        route(.get, "/admin/surveys/:id/export.json") { request, context in
            _ = try context.requireOperator()
            let (survey, _) = try await adminSurvey(context)
            // The import format, as `surveycharts export` writes it (pretty, sorted), to download.
            let document = SurveyDocument(surveys: [SurveyDocument.SurveyEntry(survey)])
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/json", .xContentTypeOptions: "nosniff",
                    .contentDisposition: "attachment; filename=\"survey-\(survey.id).json\"", .cacheControl: "no-store",
                ],
                body: .init(byteBuffer: ByteBuffer(data: try document.encoded())))
        }
    }

    // MARK: Handlers

    private func signIn(_ request: Request, context: SurveyRequestContext) async throws -> Response {
        if let reason = BallotIntegrity.crossSiteReason(request) {
            logger.warning("admin sign-in refused from \(client(context)): \(reason)")
            throw ServiceError(
                .forbidden, code: .crossSite, title: "Sign-in refused",
                "This sign-in was sent from another site. Open the sign-in page on this site and try again.")
        }
        var request = request
        let body = try await request.collectBody(upTo: maximumBodyBytes)
        guard let fields = FormDecoding.fields(String(buffer: body)) else {
            throw ServiceError(.badRequest, code: .badForm, title: "Bad request", "The form data could not be read.")
        }
        let name = fields.first { $0.name == "name" }?.value.trimmingCharacters(in: .whitespaces) ?? ""
        let password = fields.first { $0.name == "password" }?.value ?? ""
        let next = Self.safeNext(fields.first { $0.name == "next" }?.value)
        guard !name.isEmpty, !password.isEmpty, name.utf8.count <= 64, password.utf8.count <= 1024 else {
            return adminHTML(
                pages.adminLogin(
                    next: next, name: String(name.utf8.prefix(64)) ?? "", error: "Enter your name and password."),
                status: .badRequest)
        }
        switch try await authentication.signIn(
            name: name, password: password, request: request, client: context.client, logger: context.logger)
        {
        case .signedIn(let cookies, _):
            var response = redirect(to: next ?? "/admin")
            for cookie in cookies { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
            return response
        case .refused:
            return adminHTML(
                pages.adminLogin(next: next, name: name, error: "That name and password do not match an operator."),
                status: .unauthorized)
        case .throttled(let wait):
            var response = adminHTML(
                pages.adminLogin(
                    next: next, name: name,
                    error:
                        "Too many failed sign-ins for this account or from this address. Try again in "
                        + "\(Self.minutes(wait))."),
                status: .tooManyRequests)
            response.headers[.retryAfter] = String(wait)
            return response
        }
    }

    private func saveSurvey(_ request: Request, context: SurveyRequestContext) async throws -> Response {
        let (session, fields) = (try context.requireOperator(), context.operatorForm)
        let (survey, overview) = try await adminSurvey(context)
        let votes = Dictionary(
            survey.questions.flatMap { $0.answers.map { ($0.id, $0.votes) } }, uniquingKeysWith: { first, _ in first })
        func page(_ form: SurveyForm, error: SurveyForm.FieldError? = nil) -> Response {
            adminHTML(
                pages.adminSurvey(
                    survey, overview: overview, form: form, today: site.today, session: session,
                    formError: error),
                status: error == nil ? .ok : .badRequest)
        }
        var form: SurveyForm
        do {
            form = try SurveyForm(fields: fields, votes: votes)
        } catch let error as SurveyForm.FieldError {
            return page(SurveyForm(survey), error: error)
        }
        if Self.action(fields) == "more" {
            form.addBlankRows(questions: 1, answersPerQuestion: 4)
            return page(form)
        }
        do {
            let (entry, origins) = try form.entry()
            do {
                try await store.updateSurvey(id: survey.id, with: entry)
            } catch let error as SurveyStoreError where error.code == .invalidEdit {
                throw form.fieldError(error, origins: origins)
            }
        } catch let error as SurveyForm.FieldError {
            return page(form, error: error)
        }
        logger.notice("admin: \(session.user) edited survey \(survey.id)")
        return redirect(to: "/admin/surveys/\(survey.id)?done=saved")
    }

    private func surveyPage(
        _ context: SurveyRequestContext, session: AdminSession, actionError: String
    ) async throws
        -> Response
    {
        let (survey, overview) = try await adminSurvey(context)
        return adminHTML(
            pages.adminSurvey(
                survey, overview: overview, form: SurveyForm(survey), today: site.today, session: session,
                actionError: actionError),
            status: .conflict)
    }

    private func adminSurvey(_ context: SurveyRequestContext) async throws -> (Survey, SurveyOverview) {
        guard let id = context.surveyID, let survey = try await store.survey(id: id),
            let overview = try await store.surveyOverview(id: id)
        else { throw ServiceError.noSuchSurvey() }
        return (survey, overview)
    }

    // MARK: Helpers

    private func client(_ context: SurveyRequestContext) -> String { context.client.loggedAddress }

    /// Admin pages are private and change with every edit: never stored by a cache.
    func adminHTML(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
        var response = Response.html(page, status: status)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func redirect(to location: String) -> Response {
        Response(
            status: .seeOther, headers: [.location: location, .contentLength: "0", .cacheControl: "no-store"])
    }

    private static func action(_ fields: [(name: String, value: String)]) -> String {
        fields.first { $0.name == "action" }?.value ?? "save"
    }

    /// Only paths under /admin may follow a sign-in: anything else could send the operator away.
    static func safeNext(_ next: String?) -> String? {
        guard let next, next.hasPrefix("/admin"), !next.hasPrefix("/admin/login"), !next.contains("//"),
            !next.contains("\\"), next.count < 500
        else { return nil }
        return next
    }

    private static func notice(_ done: String?) -> String? {
        switch done {
        case "created": return "The survey is created."
        case "saved": return "Your changes are saved."
        case "closed": return "The survey is closed; its results and charts are public now."
        case "reopened": return "The survey is open again; its results are hidden until it closes."
        case "deleted": return "The survey is deleted."
        default: return nil
        }
    }

    private static func minutes(_ seconds: Int) -> String {
        seconds < 60 ? "\(seconds) seconds" : "\((seconds + 59) / 60) minutes"
    }
}

/// A survey's results as CSV: one row per answer (survey, question, answer, votes, percent),
/// UTF-8 with a byte-order mark so spreadsheets read it as UTF-8, CRLF, RFC 4180 quoting.
enum SurveyCSV {
    static func document(_ survey: Survey) -> String {
        var text = "\u{FEFF}survey,question,answer,votes,percent\r\n"
        for question in survey.questions {
            for row in QuestionShares(question).rows {
                text +=
                    [survey.title, question.text, row.answer.text, String(row.answer.votes), String(row.percent)]
                    .map(field).joined(separator: ",") + "\r\n"
            }
        }
        return text
    }

    /// One field: quoted when it holds a comma, a quote or a line break (quotes doubled). A text
    /// that a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe.
    static func field(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        // Scalars, not Characters: "\r\n" is one Character, equal to neither "\r" nor "\n".
        guard value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else {
            return value
        }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
