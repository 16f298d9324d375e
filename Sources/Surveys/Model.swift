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

    /// Votes across all answers.
    public var totalVotes: Int { answers.reduce(0) { $0 + $1.votes } }

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

    /// Creates a survey.
    public init(id: Int64, title: String, opens: CalendarDay, closes: CalendarDay, questions: [Question]) {
        self.id = id
        self.title = title
        self.opens = opens
        self.closes = closes
        self.questions = questions
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

    /// Creates a summary.
    public init(id: Int64, title: String, opens: CalendarDay, closes: CalendarDay) {
        self.id = id
        self.title = title
        self.opens = opens
        self.closes = closes
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

    /// Pages in the whole list (at least 1, even when it is empty).
    public var count: Int { max(1, (total + size - 1) / size) }

    /// Rows to skip to reach `page` (1-based) of `size`.
    public static func offset(_ page: Int, _ size: Int) -> Int { max(0, page - 1) * size }
}
