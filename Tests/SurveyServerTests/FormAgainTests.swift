import Foundation
import Localization
import Surveys
import Testing

@testable import SurveyServer

/// What a voter is given back after a ballot the store could not take: the form, or the message
/// page, and under which receipt (`BallotRoutes.formAgain`).
@Suite("The form again after a ballot the store could not take")
struct FormAgainTests {
    static let survey = Survey(
        id: 7, title: "סקר <b>&</b>", opens: CalendarDay("2026-11-01")!, closes: CalendarDay("2026-12-31")!,
        questions: [
            Question(
                id: 70, text: "איזה?",
                answers: [Answer(id: 700, text: "א", votes: 0), Answer(id: 701, text: "ב", votes: 0)]),
            Question(
                id: 71, text: "מתי?",
                answers: [Answer(id: 710, text: "ג", votes: 0), Answer(id: 711, text: "ד", votes: 0)]),
        ],
        language: try! LanguageTag(parsing: "he"))
    static let choices: [Int64: Int64] = [70: 701, 71: 710]

    static func receipt(_ page: String) -> String? {
        let marker = "<input type=\"hidden\" name=\"receipt\" value=\""
        return page.range(of: marker).map { String(page[$0.upperBound...].prefix(22)) }
    }

    static func formAgain(_ code: SurveyStoreError.Code, fresh: BallotReceipt?) -> ServiceError {
        BallotRoutes.formAgain(
            after: SurveyStoreError(code, "test"), survey, choices: choices, fresh: fresh, pages: .standard,
            id: "ref<&>1")
    }

    @Test(arguments: [SurveyStoreError.Code.busy, .database])
    func nothingRecordedGivesTheFormToChangeAndSendAgain(code: SurveyStoreError.Code) throws {
        let fresh = BallotReceipt.random()
        let failure = Self.formAgain(code, fresh: fresh)
        #expect(failure.status == .serviceUnavailable && failure.headers[.retryAfter] != nil)
        let page = try #require(failure.page)
        #expect(Self.receipt(page) == fresh.text)
        let hebrew = Localizer(catalog: try #require(Catalogs.catalog(for: try LanguageTag(parsing: "he"))))
        #expect(page.contains(hebrew.text(.formNotRecorded)), "in the survey's language")
        #expect(page.contains("ref&lt;&amp;&gt;1") && !page.contains("ref<&>1"), "the reference, escaped")
        #expect(
            page.contains("name=\"q70\" value=\"701\" checked") && page.contains("name=\"q71\" value=\"710\" checked"))
        #expect(page.components(separatedBy: " checked").count == 3)
        #expect(!page.contains(" disabled>") && !page.contains("<input type=\"hidden\" name=\"q7"))
        // A form restored after it was answered (no fresh receipt) gets a new one.
        let restored = try #require(Self.formAgain(code, fresh: nil).page)
        let new = try #require(Self.receipt(restored))
        #expect(new.count == 22 && new != fresh.text)
    }

    @Test func aBallotThatMayHaveCountedGoesAgainAsSentUnderItsReceipt() throws {
        let fresh = BallotReceipt.random()
        let failure = Self.formAgain(.unconfirmed, fresh: fresh)
        #expect(failure.status == .serviceUnavailable && failure.code == .ballotUnconfirmed)
        let page = try #require(failure.page)
        #expect(Self.receipt(page) == fresh.text)
        let hebrew = Localizer(catalog: try #require(Catalogs.catalog(for: try LanguageTag(parsing: "he"))))
        #expect(page.contains(hebrew.text(.formNotConfirmed)))
        #expect(
            page.contains("<input type=\"hidden\" name=\"q70\" value=\"701\">")
                && page.contains("<input type=\"hidden\" name=\"q71\" value=\"710\">"))
        #expect(page.components(separatedBy: " disabled>").count == 3, "both questions locked")
        // Recorded under no receipt of its form: it cannot be sent again safely, so the message
        // page says to wait.
        let keyless = Self.formAgain(.unconfirmed, fresh: nil)
        #expect(keyless.page == nil && keyless.status == .serviceUnavailable)
    }
}
