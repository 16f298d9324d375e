/// One ballot: for each question of a survey, the chosen answer.
public struct Ballot: Sendable, Hashable {
    /// Question id → answer id.
    public var choices: [Int64: Int64]

    /// Creates a ballot.
    public init(choices: [Int64: Int64]) { self.choices = choices }
}

/// What an import wrote.
public struct ImportSummary: Sendable, Hashable {
    /// Rows written.
    public var surveys: Int, questions: Int, answers: Int
}

/// Where surveys live. SQLite now (`SQLiteSurveyStore`); a PostgreSQL store comes next, so the
/// server depends only on this protocol.
///
/// Implementations run their blocking work on their own bounded threads, never on the caller's.
public protocol SurveyStore: Sendable {
    /// Surveys open on `day`, and surveys completed within `recentDays` before it, newest first.
    func homeSurveys(on day: CalendarDay, recentDays: Int) async throws -> (
        active: [SurveySummary], completed: [SurveySummary]
    )

    /// A survey with its questions, answers and votes, or nil.
    func survey(id: Int64) async throws -> Survey?

    /// The survey that holds question `questionID`, or nil.
    func survey(holdingQuestion questionID: Int64) async throws -> Survey?

    /// Records `ballot` for survey `surveyID` in one transaction: every question answered once,
    /// each answer belonging to its question, the survey open on `day`. All or nothing.
    /// - Throws: `SurveyStoreError` (`notFound`, `notOpen`, `invalidBallot`, `database`).
    func record(_ ballot: Ballot, surveyID: Int64, on day: CalendarDay) async throws

    /// Imports `document` in one transaction. Nothing is written when anything is invalid.
    /// - Throws: `SurveyStoreError` (`invalidImport`) naming the JSON path of the first error.
    @discardableResult
    func importDocument(_ document: SurveyDocument) async throws -> ImportSummary

    /// Every survey with every id and vote, in the import format.
    func exportDocument() async throws -> SurveyDocument

    /// Whether there are no surveys at all.
    func isEmpty() async throws -> Bool

    /// The secret called `name`, shared by every process on this store. The first caller's
    /// `candidate` is stored and every later call returns it, so concurrent first uses agree.
    func secret(named name: String, candidate: [UInt8]) async throws -> [UInt8]

    /// Survey summaries whose `closes` day lies in `range` (for the pre-render scheduler).
    func surveys(closingIn range: ClosedRange<CalendarDay>) async throws -> [SurveySummary]
}
