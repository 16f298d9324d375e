import Foundation

/// One ballot: for each question of a survey, the chosen answer.
public struct Ballot: Sendable, Hashable {
    /// Question id → answer id.
    public var choices: [Int64: Int64]
    /// Who cast it, when the browser said (a hash of its signed ballot token): the store records
    /// at most one ballot per browser and survey, in the ballot's own transaction, so two sent at
    /// the same instant cannot both count. Nil for clients that keep no cookies (not limited).
    public var browser: String?
    /// The form's receipt (`BallotReceipt`), when the ballot carried one: the store keeps each
    /// receipt with the ballot it counted, so the same ballot sent again (a proxy retrying on
    /// another process, a person pressing "resend") is answered as recorded and counts nothing.
    public var receipt: BallotReceipt?

    /// Creates a ballot.
    public init(choices: [Int64: Int64], browser: String? = nil, receipt: BallotReceipt? = nil) {
        self.choices = choices
        self.browser = browser
        self.receipt = receipt
    }

    /// What a store keeps for a ballot with a receipt: the receipt and a digest of the choices.
    /// The same form sent again with other choices (a person who went back and changed an
    /// answer) is another ballot, not a resend.
    public var receiptKey: String? {
        guard let receipt else { return nil }
        // FNV-1a over the sorted choices: only the ballot's own sender knows its receipt, so
        // the digest needs to tell choices apart, not to resist forgery.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (question, answer) in choices.sorted(by: { $0.key < $1.key }) {
            for byte in "\(question)=\(answer);".utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        }
        let digest = String(hash, radix: 16)
        return receipt.text + "." + String(repeating: "0", count: 16 - digest.count) + digest
    }

    /// The rules every store checks inside the ballot's transaction: the survey is open on `day`,
    /// and every question is answered once with one of its own answers (answer texts and votes
    /// of `survey` are not needed).
    /// - Throws: `SurveyStoreError` (`notOpen`, `invalidBallot`) naming the question at fault.
    public func check(against survey: Survey, on day: CalendarDay) throws {
        switch survey.state(on: day) {
        case .upcoming:
            throw SurveyStoreError(.notOpen, "\"\(survey.title)\" opens on \(survey.opens); it does not take votes yet")
        case .completed:
            throw SurveyStoreError(.notOpen, "\"\(survey.title)\" closed on \(survey.closes); it takes no more votes")
        case .open: break
        }
        let questions = Dictionary(uniqueKeysWithValues: survey.questions.map { ($0.id, $0) })
        if let stray = choices.keys.sorted().first(where: { questions[$0] == nil }) {
            throw SurveyStoreError(.invalidBallot, field: .ballotQuestion(stray), "is not a question of this survey")
        }
        for question in survey.questions {
            guard let answerID = choices[question.id] else {
                throw SurveyStoreError(
                    .invalidBallot, field: .ballotQuestion(question.id), "needs an answer: \(question.text)")
            }
            guard question.answers.contains(where: { $0.id == answerID }) else {
                throw SurveyStoreError(
                    .invalidBallot, field: .ballotQuestion(question.id),
                    "answer \(answerID) is not an answer to this question")
            }
        }
    }
}

/// A ballot's receipt: 132 random bits the vote form carries (22 base64url characters), the
/// same for every send of one filled-in form. It makes sending a ballot again safe: the store
/// counts a receipt once per survey.
public struct BallotReceipt: Sendable, Hashable {
    /// The receipt as the form carries it.
    public let text: String

    /// The receipt written as `text`, or nil unless it is exactly 22 base64url characters.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 22,
            bytes.allSatisfy({ byte in
                (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            })
        else { return nil }
        self.text = String(text)
    }

    private init(unchecked text: String) { self.text = text }

    /// The receipt of a ballot that came without one, through a trusted proxy that names each
    /// request with an id it sends again when it resends the request (nginx's `$request_id`, 32
    /// random hex digits). Nil for shorter ids: a proxy that counts its requests would reuse them.
    public static func fromProxy(requestID: String) -> BallotReceipt? {
        guard requestID.utf8.count >= 32, requestID.utf8.count <= 128 else { return nil }
        return BallotReceipt(unchecked: "request:" + requestID)
    }

    /// A new receipt from the system's cryptographic generator.
    public static func random() -> BallotReceipt {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var generator = SystemRandomNumberGenerator()
        // 22 characters of 6 bits: 132 bits, at least the 128 the design asks for.
        let characters = (0..<22).map { _ in alphabet[Int.random(in: 0..<64, using: &generator)] }
        return BallotReceipt(String(decoding: characters, as: UTF8.self))!
    }
}

/// Whether a store's database answers, for load balancers and operators.
public struct StoreHealth: Sendable, Equatable {
    /// Whether the database answered the probe.
    public var reachable: Bool
    /// Why not, when it did not.
    public var problem: String?
    /// Times the database could not be reached since the store was opened.
    public var failures: Int

    /// Creates a report.
    public init(reachable: Bool, problem: String? = nil, failures: Int = 0) {
        self.reachable = reachable
        self.problem = problem
        self.failures = failures
    }
}

extension SurveyStore {
    /// Records `ballot` within the store's ballot deadline from now.
    public func record(_ ballot: Ballot, surveyID: Int64, on day: CalendarDay) async throws {
        try await record(ballot, surveyID: surveyID, on: day, by: .now + ballotDeadline)
    }

    /// A store on a local file is reachable while the process runs.
    public func health(within: Duration) async -> StoreHealth { StoreHealth(reachable: true) }

    /// A local file is never unreachable.
    public var databaseFailures: Int { 0 }
}

/// What an import wrote.
public struct ImportSummary: Sendable, Hashable {
    /// Rows written.
    public var surveys: Int, questions: Int, answers: Int

    /// Creates a summary.
    public init(surveys: Int, questions: Int, answers: Int) {
        self.surveys = surveys
        self.questions = questions
        self.answers = answers
    }
}

/// Where surveys live: `SQLiteSurveyStore` here, `PostgresSurveyStore` in SurveysPostgres. The
/// server depends only on this protocol. The rules (which edit is allowed, how long a session
/// lasts, how an import becomes rows) live in Surveys (`SurveyEditRules`, `AdminSessionRules`,
/// `SurveyImportRules`); the stores only turn their steps into SQL.
///
/// Implementations run their blocking work on their own bounded threads, never on the caller's.
public protocol SurveyStore: Sendable {
    /// One page of the surveys open on `day` (closing soonest first) and one page of those
    /// completed within `recentDays` before it (newest first), `pageSize` each at most, with
    /// the totals: the home page costs the same however large the site grows.
    func homeSurveys(
        on day: CalendarDay, recentDays: Int, activePage: Int, completedPage: Int, pageSize: Int
    ) async throws -> (active: SurveyPage, completed: SurveyPage)

    /// A survey with its questions, answers and votes, or nil.
    func survey(id: Int64) async throws -> Survey?

    /// The survey that holds question `questionID`, or nil.
    func survey(holdingQuestion questionID: Int64) async throws -> Survey?

    /// Records `ballot` for survey `surveyID` in one transaction: every question answered once,
    /// each answer belonging to its question, the survey open on `day`. All or nothing.
    /// Given up at `deadline` (the ballot's, counted from when its request arrived): `busy`,
    /// nothing recorded, or `unconfirmed` once its commit was sent.
    /// - Throws: `SurveyStoreError` (`notFound`, `notOpen`, `invalidBallot`, `busy`, `unconfirmed`, `database`).
    func record(
        _ ballot: Ballot, surveyID: Int64, on day: CalendarDay, by deadline: ContinuousClock.Instant)
        async throws

    /// How long a ballot may take (`--ballot-deadline`).
    var ballotDeadline: Duration { get }

    /// Imports `document` in one transaction. Nothing is written when anything is invalid.
    /// - Throws: `SurveyStoreError` (`invalidImport`) naming the JSON path of the first error.
    @discardableResult
    func importDocument(_ document: SurveyDocument) async throws -> ImportSummary

    /// Every survey with every id and vote, in the import format.
    func exportDocument() async throws -> SurveyDocument

    /// Whether there are no surveys at all.
    func isEmpty() async throws -> Bool

    /// Whether the database answers now (at most `within`), and how many times it has failed to
    /// since the store was opened: for `/readyz` and `/metrics`. SQLite's file is always there.
    func health(within: Duration) async -> StoreHealth

    /// Times the database could not be reached since the store was opened, without asking it.
    var databaseFailures: Int { get }

    /// The secret called `name`, shared by every process on this store. The first caller's
    /// `candidate` is stored and every later call returns it, so concurrent first uses agree.
    func secret(named name: String, candidate: [UInt8]) async throws -> [UInt8]

    /// Survey summaries whose `closes` day lies in `range` (for the pre-render scheduler).
    func surveys(closingIn range: ClosedRange<CalendarDay>) async throws -> [SurveySummary]

    // MARK: Operators

    /// Adds an operator with a bcrypt `passwordHash`.
    /// - Throws: `SurveyStoreError` (`invalidEdit`, field `name`) when the name is taken or malformed.
    func addUser(name: String, passwordHash: String, at now: Date) async throws

    /// Removes an operator and ends their sessions; false when there was none.
    func removeUser(name: String) async throws -> Bool

    /// Every operator, by name.
    func users() async throws -> [AdminUser]

    /// The bcrypt hash of `name`'s password, or nil when there is no such user.
    func passwordHash(user name: String) async throws -> String?

    /// Stores a new session.
    func createSession(_ session: AdminSession) async throws

    /// The stored session whose id hashes to `idHash`, however old (`session(idHash:at:idleLimit:)`
    /// applies the idle rule).
    func storedSession(idHash: String) async throws -> AdminSession?

    /// Moves a session's idle clock to `now`.
    func touchSession(idHash: String, at now: Date) async throws

    /// Ends a session (logout).
    func endSession(idHash: String) async throws

    /// Reserves a sign-in attempt under every one of `keys` (an account, a client, a device) in
    /// one transaction that also counts them, so concurrent attempts, in this process or any other
    /// on the store, can never pass `rule` together. Attempts older than the window are removed.
    func reserveSignIn(keys: [String], at now: Date, rule: SignInThrottleRule) async throws -> SignInReservation

    /// Records how a reserved attempt ended.
    func settleSignIn(attempt: Int64, outcome: SignInOutcome) async throws

    /// Records that a browser (the SHA-256 of its device id) signed in to operator `user`. Its
    /// devices go with the operator: removing the operator forgets them.
    func rememberDevice(idHash: String, user: String, at now: Date) async throws

    /// Whether the browser whose device id hashes to `idHash` has signed in to `user`.
    func knowsDevice(idHash: String, user: String) async throws -> Bool

    // MARK: Editing surveys

    /// Every survey with its ballots so far, newest first.
    func surveyOverviews() async throws -> [SurveyOverview]

    /// The overview of one survey, or nil.
    func surveyOverview(id: Int64) async throws -> SurveyOverview?

    /// Creates a survey from `entry` (ids and votes in it are ignored) in one transaction.
    /// - Returns: the new survey's id.
    /// - Throws: `SurveyStoreError` (`invalidEdit`) naming the field at fault; nothing is stored.
    func createSurvey(_ entry: SurveyDocument.SurveyEntry) async throws -> Int64

    /// Replaces survey `id`'s title, days, questions and answers with `entry`, in one transaction.
    /// Entries with ids keep their rows (and votes); entries without get new ones. An answer that
    /// holds votes cannot be removed or moved to another question. Votes in `entry` are ignored.
    /// - Throws: `SurveyStoreError` (`notFound`, or `invalidEdit` naming the field); nothing changes.
    func updateSurvey(id: Int64, with entry: SurveyDocument.SurveyEntry) async throws

    /// Closes an open survey now: its last day becomes yesterday, so it is completed `today`.
    /// - Throws: `SurveyStoreError` (`notFound`, or `invalidEdit` when it is not open).
    func closeSurveyNow(id: Int64, today: CalendarDay) async throws

    /// Undoes `closeSurveyNow`, on the day it was used only (later, voters may have read results).
    /// - Throws: `SurveyStoreError` (`notFound`, or `invalidEdit` when it cannot be undone).
    func reopenSurvey(id: Int64, today: CalendarDay) async throws

    /// Deletes a survey with its questions, answers and votes; false when there was none.
    func deleteSurvey(id: Int64) async throws -> Bool

    // MARK: Moving a site

    /// Everything the store holds but sessions.
    func exportSite() async throws -> SiteSnapshot

    /// Loads `snapshot`, ids and all, into this store in one transaction. The store must hold no
    /// survey and no operator.
    /// - Throws: `SurveyStoreError` (`invalidImport` when the store is not empty); nothing is written.
    func importSite(_ snapshot: SiteSnapshot) async throws
}
