import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Surveys

/// `POST /surveys/:id`: a ballot, recorded in one transaction, answered 303 only once committed.
struct BallotRoutes: Sendable {
    let store: any SurveyStore
    let pages: Pages
    let ballotIntegrity: BallotIntegrity
    let maximumBodyBytes: Int
    let site: SiteConfiguration
    let logger: Logger
    /// Surveys as ballots last saw them, for a second: the store checks every ballot again
    /// inside its transaction, so this read only shapes the answer, and skipping it keeps a
    /// ballot to one trip to the database.
    let ballotSurveys = BoundedCache<Int64, Survey>(capacity: 1024)

    func addRoutes(to router: Router<SurveyRequestContext>) {
        router.post("/surveys/:id") { request, context in try await vote(request, context: context) }
    }

    /// Runs `body`, given up at `deadline` with the store's `busy` error (nothing was recorded yet).
    static func within<T: Sendable>(
        _ deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                throw SurveyStoreError(.busy, "the survey could not be read before the ballot's deadline")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    func vote(_ request: Request, context: SurveyRequestContext) async throws -> Response {
        if let reason = BallotIntegrity.crossSiteReason(request) {
            logger.notice("refused a ballot for \(request.uri.path): \(reason)")
            throw ServiceError(
                .forbidden, code: .crossSite, title: "Ballot refused",
                "This ballot was sent from another site, so it was not counted. To vote, open the survey on this "
                    + "site and use its form."
            ).said(.errorBallotRefusedTitle, .errorBallotRefused)
        }
        guard let id = context.surveyID else { throw ServiceError.noSuchSurvey() }
        // One deadline for the whole ballot: reading its survey counts against it too.
        let deadline = ContinuousClock.now + store.ballotDeadline
        let survey: Survey
        if let recent = ballotSurveys.fresh(id, lifetime: .seconds(1)) {
            survey = recent
        } else {
            survey = try await Self.within(deadline) { [store] in try await store.anySurvey(context) }
            ballotSurveys.store(survey.id, survey)
        }
        var request = request
        let body = try await request.collectBody(upTo: maximumBodyBytes)
        let today = site.today
        guard survey.state(on: today) == .open else { throw ServiceError.notTakingVotes(survey, today: today) }
        if ballotIntegrity.hasVoted(request, surveyID: survey.id) { throw ServiceError.alreadyVoted(survey) }
        guard let fields = FormDecoding.fields(String(buffer: body)) else {
            return badBallot(survey, .unreadable, chosen: [:], missing: [])
        }
        var choices: [Int64: Int64] = [:]
        var formReceipt: BallotReceipt?
        for (name, value) in fields {
            if name == "receipt" {
                guard formReceipt == nil, let given = BallotReceipt(value) else {
                    return badBallot(survey, .unexpectedField(name), chosen: choices, missing: [])
                }
                formReceipt = given
                continue
            }
            guard name.hasPrefix("q"), let question = Int64(name.dropFirst()), let answer = Int64(value) else {
                return badBallot(survey, .unexpectedField(name), chosen: choices, missing: [])
            }
            guard choices[question] == nil else {
                return badBallot(survey, .answeredTwice, chosen: [:], missing: [])
            }
            choices[question] = answer
        }
        // A receipt this browser was already answered for is a new ballot on a restored form. A
        // ballot without a (new) receipt is keyed by nginx's request id, which nginx sends again
        // with a ballot it resends to another process.
        let sent = ballotIntegrity.sentReceipts(request, surveyID: survey.id)
        let fresh = formReceipt.flatMap { sent.contains($0) ? nil : $0 }
        let receipt = fresh ?? context.client.proxyRequestID.flatMap { BallotReceipt.fromProxy(requestID: $0) }
        do {
            let browser = ballotIntegrity.browser(request, surveyID: survey.id)
            try await store.record(
                Ballot(choices: choices, browser: browser, receipt: receipt), surveyID: survey.id, on: today,
                by: deadline)
        } catch let error as SurveyStoreError where error.code == .invalidBallot {
            let missing = Set(survey.questions.map(\.id).filter { choices[$0] == nil })
            return badBallot(
                survey, missing.isEmpty ? .invalidChoice : .unanswered, chosen: choices, missing: missing,
                receipt: formReceipt)
        } catch let error as SurveyStoreError where error.code == .alreadyVoted {
            throw ServiceError.alreadyVoted(survey)
        } catch let error as SurveyStoreError where error.code == .notOpen {
            throw ServiceError.notTakingVotes(survey, today: site.today)
        } catch let error as SurveyStoreError where error.code == .notFound {
            throw ServiceError.noSuchSurvey()  // deleted since `ballotSurveys` saw it
        } catch let error as SurveyStoreError where [.busy, .database, .unconfirmed].contains(error.code) {
            throw Self.formAgain(after: error, survey, choices: choices, fresh: fresh, pages: pages, id: context.id)
        }
        var response = Response(
            status: .seeOther, headers: [.location: "/surveys/\(survey.id)/thanks", .contentLength: "0"])
        if let cookie = ballotIntegrity.votedCookie(surveyID: survey.id, secure: context.client.isHTTPS) {
            response.headers.append(HTTPField(name: .setCookie, value: cookie))
        }
        if let formReceipt {
            response.headers.append(
                HTTPField(
                    name: .setCookie,
                    value: ballotIntegrity.sentCookie(
                        sent, adding: formReceipt, surveyID: survey.id, secure: context.client.isHTTPS)))
        }
        return response
    }

    /// The store's failure, answered (503, logged as ever) with the form again, filled in, so the
    /// voter loses no answer. A ballot that may have counted keeps the receipt it was recorded
    /// under, so that sending it again counts it once; one the store did not record gets a receipt
    /// not yet answered for. An unconfirmed ballot recorded under no receipt of the form's (a form
    /// restored after it was answered, a client without receipts) cannot be sent again safely: it
    /// gets the message page, which says to wait before voting again.
    static func formAgain(
        after error: SurveyStoreError, _ survey: Survey, choices: [Int64: Int64], fresh: BallotReceipt?, pages: Pages,
        id: String
    ) -> ServiceError {
        var failure = error.serviceError
        if error.code == .unconfirmed {
            guard let fresh else { return failure }
            failure.page = pages.form(survey, receipt: fresh, problem: .notConfirmed(reference: id), chosen: choices)
        } else {
            failure.page = pages.form(
                survey, receipt: fresh ?? .random(), problem: .notRecorded(reference: id), chosen: choices)
        }
        return failure
    }

    /// The form again, with the problem shown. After the store refused the ballot it keeps the
    /// form's receipt (nothing was counted under it), so the corrected form is still the one
    /// ballot; forms refused before the store saw them get a new one.
    private func badBallot(
        _ survey: Survey, _ problem: Pages.BallotProblem, chosen: [Int64: Int64], missing: Set<Int64>,
        receipt: BallotReceipt? = nil
    ) -> Response {
        var response = Response.html(
            pages.form(survey, receipt: receipt ?? .random(), problem: problem, chosen: chosen, missing: missing),
            status: .badRequest)
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
