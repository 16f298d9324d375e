import Localization

/// An answer to a question, with its votes.
public struct Answer: Sendable, Hashable, Codable {
    /// Stable id, unique across all questions.
    public var id: Int64
    /// The answer text.
    public var text: String
    /// Votes recorded so far.
    public var votes: Int

    /// Creates an answer.
    public init(id: Int64, text: String, votes: Int) {
        self.id = id
        self.text = text
        self.votes = votes
    }

    /// Most votes a question's answers may hold together (so each answer, too): 2^53 − 1.
    ///
    /// The largest whole number a `Double` (and so a JSON reader in JavaScript) holds exactly, and
    /// the largest total a chart draws (PieChart's `ChartSpec.Limits.maximumValue`, which Surveys
    /// cannot import). It also keeps every sum of a question's votes far from `Int64.max`, past
    /// which SQLite would store a count as a REAL. Imports refuse more; ballots stop at it.
    public static let maximumVotes = 9_007_199_254_740_991
}

extension SurveyStoreError {
    /// The ballot error when question `questionID` already counts `Answer.maximumVotes` votes, so
    /// nothing of the ballot was recorded (HTTP 400, like every `invalidBallot`).
    /// The ballot error when this browser's ballot for survey `surveyID` is already recorded.
    public static func alreadyVoted(
        _ surveyID: Int64, fileID: String = #fileID, line: Int = #line
    )
        -> SurveyStoreError
    {
        SurveyStoreError(
            .alreadyVoted, "this browser has already cast a ballot in survey \(surveyID); nothing was recorded",
            fileID: fileID, line: line)
    }

    public static func questionFull(
        _ questionID: Int64, fileID: String = #fileID, line: Int = #line
    ) -> SurveyStoreError {
        SurveyStoreError(
            .invalidBallot, field: .ballotQuestion(questionID),
            "cannot take more votes: its answers already count \(Answer.maximumVotes), the most a question can hold; "
                + "nothing was recorded", fileID: fileID, line: line)
    }
}

/// A question of a survey, with its answers in their given order.
public struct Question: Sendable, Hashable, Codable {
    /// Stable id, unique across all surveys.
    public var id: Int64
    /// The question text.
    public var text: String
    /// The answers, in the order they were given.
    public var answers: [Answer]

    /// Creates a question.
    public init(id: Int64, text: String, answers: [Answer]) {
        self.id = id
        self.text = text
        self.answers = answers
    }

    /// Votes across all answers, saturating at `Int.max` (and `Int.min`) instead of trapping: an
    /// answer built by hand may hold any `Int`, though stores keep the sum at most
    /// `Answer.maximumVotes`.
    public var totalVotes: Int {
        answers.reduce(0) { total, answer in
            let (sum, overflow) = total.addingReportingOverflow(answer.votes)
            return overflow ? (answer.votes < 0 ? Int.min : Int.max) : sum
        }
    }

    /// The answers with the most votes; empty when nobody has voted.
    public var winners: [Answer] {
        let highest = answers.map(\.votes).max() ?? 0
        return highest == 0 ? [] : answers.filter { $0.votes == highest }
    }
}

/// Where a survey is in its life on a given day.
public enum SurveyState: String, Sendable, Hashable {
    /// Before `opens`: invisible to voters.
    case upcoming
    /// From `opens` through `closes`: takes votes; results hidden.
    case open
    /// From the day after `closes`: results shown, no votes.
    case completed
}

/// A survey: a title, the days it is open, and its questions.
public struct Survey: Sendable, Hashable, Codable {
    /// Stable id.
    public var id: Int64
    /// The title.
    public var title: String
    /// The first day it takes votes.
    public var opens: CalendarDay
    /// The last day it takes votes.
    public var closes: CalendarDay
    /// The questions, in order.
    public var questions: [Question]
    /// The language of its text and of every page and chart around it.
    public var language: LanguageTag

    /// Creates a survey.
    public init(
        id: Int64, title: String, opens: CalendarDay, closes: CalendarDay, questions: [Question],
        language: LanguageTag = .english
    ) {
        self.id = id
        self.title = title
        self.opens = opens
        self.closes = closes
        self.questions = questions
        self.language = language
    }

    /// The survey's state on `day`.
    public func state(on day: CalendarDay) -> SurveyState {
        day < opens ? .upcoming : (day <= closes ? .open : .completed)
    }
}

/// A survey without its questions, for lists.
public struct SurveySummary: Sendable, Hashable {
    /// Stable id.
    public var id: Int64
    /// The title.
    public var title: String
    /// The first and last day it takes votes.
    public var opens: CalendarDay, closes: CalendarDay
    /// The language of its title.
    public var language: LanguageTag

    /// Creates a summary.
    public init(id: Int64, title: String, opens: CalendarDay, closes: CalendarDay, language: LanguageTag = .english) {
        self.id = id
        self.title = title
        self.opens = opens
        self.closes = closes
        self.language = language
    }
}

/// One page of a list of surveys.
public struct SurveyPage: Sendable, Hashable {
    /// The surveys on this page.
    public var surveys: [SurveySummary]
    /// Surveys in the whole list.
    public var total: Int
    /// This page's number, from 1.
    public var number: Int
    /// Most surveys on a page.
    public var size: Int

    /// Creates a page.
    public init(surveys: [SurveySummary], total: Int, number: Int, size: Int) {
        self.surveys = surveys
        self.total = total
        self.number = number
        self.size = size
    }

    /// Pages in the whole list (at least 1, even when it is empty). Rounds up by division rather
    /// than `total + size - 1`, which could overflow; a size below 1 counts as one page.
    public var count: Int {
        guard size > 0, total > 0 else { return 1 }
        return total / size + (total % size == 0 ? 0 : 1)
    }

    /// Rows to skip to reach `page` (1-based) of `size`; `Int.max` (past every row) when the
    /// product does not fit, so a huge page number finds an empty page instead of trapping.
    public static func offset(_ page: Int, _ size: Int) -> Int {
        guard page > 1, size > 0 else { return 0 }
        let (offset, overflow) = (page - 1).multipliedReportingOverflow(by: size)
        return overflow ? Int.max : offset
    }
}
