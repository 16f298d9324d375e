import Foundation
import Localization

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

    /// What an edit removes and resets, decided here once (`plan` turns it into steps).
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
                    .invalidEdit, field: .question(q).key("id"), "question \(id) is not part of this survey")
            }
            for (a, answer) in question.answers.enumerated() {
                guard let id = answer.id else { continue }
                guard let home = answerHome[id] else {
                    throw SurveyStoreError(
                        .invalidEdit, field: .answer(a, ofQuestion: q).key("id"),
                        "answer \(id) is not part of this survey")
                }
                if home.question != question.id, home.answer.votes > 0 {
                    throw SurveyStoreError(
                        .invalidEdit, field: .answer(a, ofQuestion: q).key("text"),
                        "“\(home.answer.text)” holds \(home.answer.votes) votes, so it cannot move to another question")
                }
            }
        }
        let kept = Set(entry.questions.flatMap { $0.answers.compactMap(\.id) })
        for question in current.questions {
            for answer in question.answers where !kept.contains(answer.id) && answer.votes > 0 {
                guard let position = entry.questions.firstIndex(where: { $0.id == question.id }) else {
                    // A question the entry leaves out has no place in it: it is named by its id.
                    throw SurveyStoreError(
                        .invalidEdit, field: .removedQuestion(question.id),
                        "its answer “\(answer.text)” holds \(answer.votes) votes, so the question “\(question.text)” "
                            + "cannot be deleted")
                }
                throw SurveyStoreError(
                    .invalidEdit, field: FieldPath.question(position).key("answers"),
                    "“\(answer.text)” holds \(answer.votes) votes, so it cannot be deleted")
            }
        }
        let keptQuestions = Set(entry.questions.compactMap(\.id))
        return Removals(
            answerIDs: current.questions.flatMap { $0.answers.map(\.id).filter { !kept.contains($0) } },
            questionIDs: current.questions.map(\.id).filter { !keptQuestions.contains($0) },
            clearsEarlyClose: entry.opens != current.opens || entry.closes != current.closes)
    }

    /// The steps of an edit, in the order a store applies them inside its transaction: removed
    /// answers, the survey row, every question and answer of the entry in order (updated when it
    /// has an id, inserted when not), then removed questions. The stores only turn each step into SQL.
    /// - Throws: `SurveyStoreError` (`invalidEdit`) from `check`.
    public static func plan(_ current: Survey, becoming entry: SurveyDocument.SurveyEntry) throws -> [SurveyWriteStep] {
        let removals = try check(current, becoming: entry)
        var steps = removals.answerIDs.map(SurveyWriteStep.deleteAnswer)
        steps.append(
            .updateSurvey(
                title: entry.title, opens: entry.opens, closes: entry.closes,
                language: entry.language ?? current.language, clearsEarlyClose: removals.clearsEarlyClose))
        steps += questionSteps(entry)
        // Questions go last: an answer moved out of one has been moved by then, so the delete's
        // cascade cannot take it along.
        steps += removals.questionIDs.map(SurveyWriteStep.deleteQuestion)
        return steps
    }

    /// The steps that create `entry` as a new survey (ids and votes dropped).
    public static func creation(_ entry: SurveyDocument.SurveyEntry) -> [SurveyWriteStep] {
        let entry = entry.withoutIDsAndVotes
        return [
            .insertSurvey(
                title: entry.title, opens: entry.opens, closes: entry.closes, language: entry.language ?? .english)
        ] + questionSteps(entry)
    }

    private static func questionSteps(_ entry: SurveyDocument.SurveyEntry) -> [SurveyWriteStep] {
        var steps: [SurveyWriteStep] = []
        for (q, question) in entry.questions.enumerated() {
            let home: SurveyWriteStep.QuestionReference
            if let id = question.id {
                steps.append(.updateQuestion(id: id, position: q, text: question.text))
                home = .existing(id)
            } else {
                steps.append(.insertQuestion(position: q, text: question.text))
                home = .lastInserted
            }
            for (a, answer) in question.answers.enumerated() {
                if let id = answer.id {
                    steps.append(.updateAnswer(id: id, question: home, position: a, text: answer.text))
                } else {
                    steps.append(.insertAnswer(question: home, position: a, text: answer.text))
                }
            }
        }
        return steps
    }

    /// The dates of a survey closed early today: it ended yesterday, the last whole day of votes,
    /// and opened no later than that. The dates it had are kept, so it can be reopened today.
    public struct EarlyClose: Sendable, Equatable {
        public var closedOn: CalendarDay
        public var opens: CalendarDay
        public var closes: CalendarDay
    }

    /// Closing `survey` now, on `today`: only an open survey can be closed.
    /// - Throws: `SurveyStoreError` (`invalidEdit`, field `closes`) saying why not.
    public static func closeNow(_ survey: Survey, today: CalendarDay) throws -> EarlyClose {
        guard survey.state(on: today) == .open else {
            throw SurveyStoreError(
                .invalidEdit, field: "closes",
                "only an open survey can be closed now; “\(survey.title)” is \(survey.state(on: today).rawValue)")
        }
        let yesterday = today.adding(days: -1)
        return EarlyClose(closedOn: today, opens: min(survey.opens, yesterday), closes: yesterday)
    }
}

/// One write of a survey edit or creation, as `SurveyEditRules` decided it; each store turns it
/// into one SQL statement.
public enum SurveyWriteStep: Sendable, Equatable {
    /// Which question an answer belongs to.
    public enum QuestionReference: Sendable, Equatable {
        /// A question that exists, by id.
        case existing(Int64)
        /// The question the last `insertQuestion` step made.
        case lastInserted
    }

    case deleteAnswer(Int64)
    case deleteQuestion(Int64)
    /// A new survey row; the later steps' questions go in it.
    case insertSurvey(title: String, opens: CalendarDay, closes: CalendarDay, language: LanguageTag)
    /// The edited survey's row; new dates end an early close.
    case updateSurvey(
        title: String, opens: CalendarDay, closes: CalendarDay, language: LanguageTag, clearsEarlyClose: Bool)
    case updateQuestion(id: Int64, position: Int, text: String)
    case insertQuestion(position: Int, text: String)
    case updateAnswer(id: Int64, question: QuestionReference, position: Int, text: String)
    case insertAnswer(question: QuestionReference, position: Int, text: String)
}

/// How long an operator's session lasts, decided once for every store.
public enum AdminSessionRules {
    /// Moving a session's idle clock is a write; once a minute is precise enough for hours of limit.
    public static let touchInterval: TimeInterval = 60
}

extension SurveyStore {
    /// The session whose id hashes to `idHash`, if it was used within `idleLimit` of `now`; an
    /// older one is ended. Using a session moves its idle clock (at most once a minute).
    public func session(idHash: String, at now: Date, idleLimit: TimeInterval) async throws -> AdminSession? {
        guard var session = try await storedSession(idHash: idHash) else { return nil }
        if now.timeIntervalSince(session.lastSeen) > idleLimit {
            try await endSession(idHash: idHash)
            return nil
        }
        if now.timeIntervalSince(session.lastSeen) > AdminSessionRules.touchInterval {
            try await touchSession(idHash: idHash, at: now)
            session.lastSeen = now
        }
        return session
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

/// One row an import writes, in order, as `SurveyImportRules` decided it; each store turns it
/// into its SQL, first checking that a given id is free.
public enum SurveyImportStep: Sendable, Equatable {
    /// A survey; the questions after it go in it.
    case survey(
        id: Int64?, title: String, opens: CalendarDay, closes: CalendarDay, language: LanguageTag, path: FieldPath)
    /// A question of the last survey; the answers after it go in it.
    case question(id: Int64?, position: Int, text: String, path: FieldPath)
    /// An answer of the last question.
    case answer(id: Int64?, position: Int, text: String, votes: Int, path: FieldPath)

    /// The table the row goes in.
    public var table: String {
        switch self {
        case .survey: return "survey"
        case .question: return "question"
        case .answer: return "answer"
        }
    }

    /// The id the document gives the row, if any.
    public var id: Int64? {
        switch self {
        case .survey(let id, _, _, _, _, _), .question(let id, _, _, _), .answer(let id, _, _, _, _): return id
        }
    }

    /// The row's place in the document, for errors (`surveys[0].questions[1]`).
    public var path: FieldPath {
        switch self {
        case .survey(_, _, _, _, _, let path), .question(_, _, _, let path), .answer(_, _, _, _, let path): return path
        }
    }
}

/// How an import document becomes rows, decided once for every store.
public enum SurveyImportRules {
    /// The rows of a validated `document`, parents before children.
    public static func steps(_ document: SurveyDocument) -> [SurveyImportStep] {
        var steps: [SurveyImportStep] = []
        for (s, survey) in document.surveys.enumerated() {
            let path = FieldPath("surveys").index(s)
            steps.append(
                .survey(
                    id: survey.id, title: survey.title, opens: survey.opens, closes: survey.closes,
                    language: survey.language ?? .english, path: path))
            for (q, question) in survey.questions.enumerated() {
                let questionPath = path.key("questions").index(q)
                steps.append(.question(id: question.id, position: q, text: question.text, path: questionPath))
                for (a, answer) in question.answers.enumerated() {
                    steps.append(
                        .answer(
                            id: answer.id, position: a, text: answer.text, votes: answer.votes ?? 0,
                            path: questionPath.key("answers").index(a)))
                }
            }
        }
        return steps
    }

    /// What the import wrote, counted from its steps.
    public static func summary(_ steps: [SurveyImportStep]) -> ImportSummary {
        var summary = ImportSummary(surveys: 0, questions: 0, answers: 0)
        for step in steps {
            switch step {
            case .survey: summary.surveys += 1
            case .question: summary.questions += 1
            case .answer: summary.answers += 1
            }
        }
        return summary
    }

    /// The error for a row whose given id is taken: the whole import is refused.
    public static func idTaken(_ step: SurveyImportStep) -> SurveyStoreError {
        SurveyStoreError(
            .invalidImport, field: step.path.key("id"),
            "\(step.table) \(step.id.map(String.init) ?? "?") already exists; omit the id to get a new one")
    }
}
