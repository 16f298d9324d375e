import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Surveys

/// Guards every admin route but the sign-in page, and puts what it proved on the context: the
/// operator's session, and for a POST its checked form (`SurveyRequestContext.operatorProof`).
///
/// The session is checked first, so a request without one learns nothing else: a browser is sent
/// to sign in, a program gets 401. A POST must then come from this site and carry the session's
/// CSRF token, else 403 and nothing changes.
struct OperatorSessionMiddleware: RouterMiddleware {
    let authentication: AdminAuthentication
    let maximumBodyBytes: Int
    let logger: Logger

    func handle(
        _ request: Request, context: SurveyRequestContext,
        next: (Request, SurveyRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        var request = request
        let session = try await operatorSession(request)
        if request.method == .post {
            if let reason = BallotIntegrity.crossSiteReason(request) {
                logger.warning("admin post refused for \(session.user) from \(context.client.loggedAddress): \(reason)")
                throw Self.forgedForm
            }
            let body = try await request.collectBody(upTo: maximumBodyBytes)
            guard let fields = FormDecoding.fields(String(buffer: body)) else {
                throw ServiceError(
                    .badRequest, code: .badForm, title: "Bad request", "The form data could not be read.")
            }
            let tokens = fields.filter { $0.name == "csrf" }
            guard tokens.count == 1, AdminAuthentication.csrfMatches(tokens[0].value, session) else {
                logger.warning("admin post without a valid CSRF token for \(session.user) on \(request.uri.path)")
                throw Self.forgedForm
            }
            context.operatorProof = OperatorProof(session: session, form: fields)
        } else {
            context.operatorProof = OperatorProof(session: session, form: [])
        }
        return try await next(request, context)
    }

    /// The operator's session, or the error that sends a browser to sign in (401 for programs).
    private func operatorSession(_ request: Request) async throws -> AdminSession {
        if let session = try await authentication.session(request) { return session }
        let accept = request.headers[.accept] ?? ""
        if accept.contains("text/html") {
            let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            let target =
                "/admin/login?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            throw ServiceError(
                .seeOther, code: .loginRequired, title: "Please sign in", "Sign in to manage surveys.",
                links: [.init(href: target, label: "Sign in")], headers: [.location: target, .cacheControl: "no-store"])
        }
        var error = ServiceError(
            .unauthorized, code: .loginRequired, title: "Please sign in",
            "This needs an operator's session; sign in at /admin/login.",
            headers: [.wwwAuthenticate: "Cookie realm=\"surveycharts-admin\"", .cacheControl: "no-store"])
        error.asJSON = true
        throw error
    }

    static let forgedForm = ServiceError(
        .forbidden, code: .csrf, title: "Form refused",
        "This form was not sent from this site's admin pages, or it is from an earlier sign-in. Nothing was "
            + "changed. Reload the page and try again.",
        links: [.init(href: "/admin", label: "Back to the admin pages")])
}
