import Foundation

/// An operator who may sign in to `/admin`.
public struct AdminUser: Sendable, Hashable {
    /// The sign-in name.
    public var name: String
    /// When the account was created.
    public var created: Date

    /// Creates a user record.
    public init(name: String, created: Date) {
        self.name = name
        self.created = created
    }

    /// Sign-in names: 1 to 64 letters, digits, dots, dashes and underscores.
    public static func checkName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw SurveyStoreError(
                .invalidEdit, field: "name",
                "must be 1 to 64 letters, digits, dots, dashes or underscores, got \"\(name)\"")
        }
    }
}

/// A signed-in operator's session. The store keeps only a hash of the session id, so a copy of
/// the database does not let anyone in.
public struct AdminSession: Sendable, Hashable {
    /// SHA-256 of the session id, in hex.
    public var idHash: String
    /// Who signed in.
    public var user: String
    /// The token every admin form must send back (CSRF).
    public var csrfToken: String
    /// When the session started and was last used.
    public var created: Date, lastSeen: Date

    /// Creates a session record.
    public init(idHash: String, user: String, csrfToken: String, created: Date, lastSeen: Date) {
        self.idHash = idHash
        self.user = user
        self.csrfToken = csrfToken
        self.created = created
        self.lastSeen = lastSeen
    }
}

/// A survey as the operators' list shows it.
public struct SurveyOverview: Sendable, Hashable {
    /// Id, title and days.
    public var summary: SurveySummary
    /// Ballots cast so far (every ballot answers every question once).
    public var ballots: Int
    /// The day "close now" was used, while it may still be undone (that same day).
    public var closedEarlyOn: CalendarDay?

    /// Creates an overview.
    public init(summary: SurveySummary, ballots: Int, closedEarlyOn: CalendarDay?) {
        self.summary = summary
        self.ballots = ballots
        self.closedEarlyOn = closedEarlyOn
    }
}

/// What an edit may do to a survey that the entry alone cannot tell; every store checks it inside
/// the edit's transaction.
public enum SurveyEditRules {
    /// A survey closed early may be reopened only on the day it was closed, before anyone could
    /// rely on its results.
    /// - Throws: `SurveyStoreError` (`invalidEdit`, field `closes`) saying why not.
    public static func checkReopen(title: String, closedEarlyOn closedOn: String?, today: CalendarDay) throws {
        guard let closedOn else {
            throw SurveyStoreError(
                .invalidEdit, field: "closes", "“\(title)” was not closed early, so there is nothing to undo")
        }
        guard closedOn == today.description else {
            throw SurveyStoreError(
                .invalidEdit, field: "closes",
                "“\(title)” was closed on \(closedOn); it can be reopened only that same day, before anyone could "
                    + "rely on its results. Edit its dates instead")
        }
    }

    /// What an edit removes and resets, decided here once; each store applies it in its own SQL,
    /// removals first, then the survey row, then every question and answer of the entry in order
    /// (updated when it has an id, inserted when not).
    public struct Removals: Sendable, Equatable {
        /// Answers the edit drops (none holds a vote: `check` made sure).
        public var answerIDs: [Int64]
        /// Questions the edit drops, after their answers.
        public var questionIDs: [Int64]
        /// New dates end an early close: the survey runs on the dates it was given.
        public var clearsEarlyClose: Bool
    }

    /// The rules of an edit that the entry alone cannot tell: ids must belong to this survey, and
    /// no answer holding votes may be removed or moved to another question.
    /// - Returns: what the edit removes, for the store to apply.
    /// - Throws: `SurveyStoreError` (`invalidEdit`) naming the field at fault.
    @discardableResult
    public static func check(_ current: Survey, becoming entry: SurveyDocument.SurveyEntry) throws -> Removals {
        var answerHome: [Int64: (question: Int64, answer: Answer)] = [:]
        for question in current.questions {
            for answer in question.answers { answerHome[answer.id] = (question.id, answer) }
        }
        let currentQuestions = Set(current.questions.map(\.id))
        for (q, question) in entry.questions.enumerated() {
            if let id = question.id, !currentQuestions.contains(id) {
                throw SurveyStoreError(
                    .invalidEdit, field: "questions[\(q)].id", "question \(id) is not part of this survey")
            }
            for (a, answer) in question.answers.enumerated() {
                guard let id = answer.id else { continue }
                guard let home = answerHome[id] else {
                    throw SurveyStoreError(
                        .invalidEdit, field: "questions[\(q)].answers[\(a)].id",
                        "answer \(id) is not part of this survey")
                }
                if home.question != question.id, home.answer.votes > 0 {
                    throw SurveyStoreError(
                        .invalidEdit, field: "questions[\(q)].answers[\(a)].text",
                        "“\(home.answer.text)” holds \(home.answer.votes) votes, so it cannot move to another question")
                }
            }
        }
        let kept = Set(entry.questions.flatMap { $0.answers.compactMap(\.id) })
        for (q, question) in current.questions.enumerated() {
            for answer in question.answers where !kept.contains(answer.id) && answer.votes > 0 {
                let position = entry.questions.firstIndex { $0.id == question.id }
                throw SurveyStoreError(
                    .invalidEdit, field: position.map { "questions[\($0)].answers" } ?? "questions[\(q)]",
                    "“\(answer.text)” holds \(answer.votes) votes, so it cannot be deleted")
            }
        }
        let keptQuestions = Set(entry.questions.compactMap(\.id))
        return Removals(
            answerIDs: current.questions.flatMap { $0.answers.map(\.id).filter { !kept.contains($0) } },
            questionIDs: current.questions.map(\.id).filter { !keptQuestions.contains($0) },
            clearsEarlyClose: entry.opens != current.opens || entry.closes != current.closes)
    }

}

/// Everything a site keeps but its sessions, for `migrate-store`: surveys with ids and votes,
/// operators with their password hashes, and the shared secrets (so cookies stay valid).
public struct SiteSnapshot: Sendable, Hashable {
    /// An operator as stored.
    public struct StoredUser: Sendable, Hashable {
        public var name: String
        public var passwordHash: String
        public var created: Date

        public init(name: String, passwordHash: String, created: Date) {
            self.name = name
            self.passwordHash = passwordHash
            self.created = created
        }
    }

    public var document: SurveyDocument
    public var users: [StoredUser]
    /// Secret name → value.
    public var secrets: [String: [UInt8]]

    public init(document: SurveyDocument, users: [StoredUser], secrets: [String: [UInt8]]) {
        self.document = document
        self.users = users
        self.secrets = secrets
    }
}
