import Foundation
import GRDB
import Localization
import Synchronization

/// The SQLite store: a GRDB `DatabasePool` in WAL mode, so readers never wait for the writer and
/// several processes can share one file.
///
/// GRDB runs every statement on its own bounded dispatch queues (one writer, a few readers),
/// never on the caller's thread or the cooperative pool.
public final class SQLiteSurveyStore: SurveyStore {
    /// Settings; new ones get defaults.
    public struct Configuration: Sendable {
        /// The database file; created when missing.
        public var path: String
        /// How long a write waits for another process's transaction before failing.
        public var busyTimeout: Double
        /// Most concurrent readers.
        public var maximumReaders: Int
        /// How long a ballot may take, queueing and waiting for other processes' locks included,
        /// before it is given up with nothing recorded (`SurveyStoreError.busy`).
        public var ballotDeadline: Duration
        /// Whether a commit waits for the disk (`FULL`, the default: a 303 survives power loss) or
        /// only for the operating system (`NORMAL`, for benchmarks that state the difference).
        public var synchronousFull = true

        /// Creates a configuration for `path`.
        public init(
            path: String, busyTimeout: Double = 10, maximumReaders: Int = 4, ballotDeadline: Duration = .seconds(5)
        ) {
            self.path = path
            self.busyTimeout = busyTimeout
            self.maximumReaders = maximumReaders
            self.ballotDeadline = ballotDeadline
        }
    }

    private let pool: DatabasePool
    private let configuration: Configuration
    public var ballotDeadline: Duration { configuration.ballotDeadline }
    /// The deadline of the write under way, if it has one: the busy handler gives up at it. GRDB
    /// runs one write at a time, so one slot is enough.
    private let writeDeadline: WriteDeadline
    /// Ballots waiting for the next group commit, and whether one is under way.
    private let ballotQueue = Mutex<BallotQueue>(BallotQueue())

    private struct WaitingBallot: Sendable {
        var ballot: Ballot, surveyID: Int64, day: CalendarDay, deadline: ContinuousClock.Instant
    }

    private struct BallotQueue: Sendable {
        var waiting: [(ballot: WaitingBallot, continuation: CheckedContinuation<Void, Error>)] = []
        var committing = false
    }

    /// Opens (creating if needed) and migrates the database.
    /// - Throws: `SurveyStoreError` (`database`) with a message that says what to fix.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        let writeDeadline = WriteDeadline()
        self.writeDeadline = writeDeadline
        var config = GRDB.Configuration()
        // With the default (fail at once), 4 processes voting together lost 2425 of 4000 writes.
        // Waits for another process's lock end at the write's own deadline when it has one (a
        // ballot), else after `busyTimeout`. SQLite calls the handler again at once, so it sleeps.
        let pause = 0.002
        config.busyMode = .callback { attempts in
            if let deadline = writeDeadline.current {
                guard ContinuousClock.now < deadline else { return false }
            } else if Double(attempts) * pause >= configuration.busyTimeout {
                return false
            }
            usleep(UInt32(pause * 1_000_000))
            return true
        }
        config.maximumReaderCount = configuration.maximumReaders
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // A 303 promises the ballot survives power loss: with WAL, FULL syncs the log at every
            // commit (NORMAL syncs only at checkpoints, so the last commits could be lost).
            try db.execute(
                sql: configuration.synchronousFull ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: configuration.path, configuration: config)
            // Again on the writer, after the pool is open: GRDB's WAL set-up runs after
            // `prepareDatabase` and sets `synchronous = NORMAL` (found by DurabilityTests, which
            // watch the WAL's fsync before every 303).
            try pool.writeWithoutTransaction { db in
                try db.execute(
                    sql: configuration.synchronousFull ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
            }
            try Self.migrator.migrate(pool)
        } catch {
            throw SurveyStoreError(
                .database,
                "cannot open the database \(configuration.path): \(error); check the path and that this user can write "
                    + "the file and its directory")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: surveys, questions, answers") { db in
            try db.execute(
                sql: """
                    CREATE TABLE survey (
                        id INTEGER PRIMARY KEY,
                        title TEXT NOT NULL,
                        opens TEXT NOT NULL,
                        closes TEXT NOT NULL CHECK (closes >= opens));
                    CREATE INDEX survey_closes ON survey(closes);
                    CREATE TABLE question (
                        id INTEGER PRIMARY KEY,
                        survey_id INTEGER NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        text TEXT NOT NULL);
                    CREATE INDEX question_survey ON question(survey_id, position);
                    CREATE TABLE answer (
                        id INTEGER PRIMARY KEY,
                        question_id INTEGER NOT NULL REFERENCES question(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        text TEXT NOT NULL,
                        votes INTEGER NOT NULL DEFAULT 0 CHECK (votes >= 0));
                    CREATE INDEX answer_question ON answer(question_id, position);
                    """)
        }
        migrator.registerMigration("v2: secrets") { db in
            try db.execute(sql: "CREATE TABLE secret (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
        }
        migrator.registerMigration("v3: operators, sessions, close now") { db in
            try db.execute(
                sql: """
                    CREATE TABLE admin_user (
                        name TEXT PRIMARY KEY,
                        password_hash TEXT NOT NULL,
                        created REAL NOT NULL);
                    CREATE TABLE admin_session (
                        id_hash TEXT PRIMARY KEY,
                        user_name TEXT NOT NULL REFERENCES admin_user(name) ON DELETE CASCADE,
                        csrf_token TEXT NOT NULL,
                        created REAL NOT NULL,
                        last_seen REAL NOT NULL);
                    CREATE INDEX admin_session_user ON admin_session(user_name);
                    ALTER TABLE survey ADD COLUMN closed_early_on TEXT;
                    ALTER TABLE survey ADD COLUMN opens_before_close TEXT;
                    ALTER TABLE survey ADD COLUMN closes_before_close TEXT;
                    """)
        }
        migrator.registerMigration("v4: sign-in attempts") { db in
            // One row per key of each attempt not yet known to have succeeded (SignInThrottleRule).
            try db.execute(
                sql: """
                    CREATE TABLE sign_in_attempt (
                        attempt INTEGER NOT NULL,
                        key TEXT NOT NULL,
                        at REAL NOT NULL);
                    CREATE INDEX sign_in_attempt_key ON sign_in_attempt(key, at);
                    CREATE INDEX sign_in_attempt_at ON sign_in_attempt(at);
                    CREATE INDEX sign_in_attempt_attempt ON sign_in_attempt(attempt);
                    """)
        }
        migrator.registerMigration("v5: one ballot per browser") { db in
            try db.execute(
                sql: """
                    CREATE TABLE browser_ballot (
                        survey_id INTEGER NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
                        browser TEXT NOT NULL,
                        PRIMARY KEY (survey_id, browser)) WITHOUT ROWID
                    """)
        }
        migrator.registerMigration("v6: operators' devices") { db in
            try db.execute(
                sql: """
                    CREATE TABLE admin_device (
                        id_hash TEXT PRIMARY KEY,
                        user_name TEXT NOT NULL REFERENCES admin_user(name) ON DELETE CASCADE,
                        created REAL NOT NULL);
                    CREATE INDEX admin_device_user ON admin_device(user_name);
                    """)
        }
        migrator.registerMigration("v7: a language per survey") { db in
            // Surveys made before languages existed were shown in English.
            try db.execute(sql: "ALTER TABLE survey ADD COLUMN language TEXT NOT NULL DEFAULT 'en'")
        }
        migrator.registerMigration("v8: ballot receipts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE ballot_receipt (
                        survey_id INTEGER NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
                        receipt TEXT NOT NULL,
                        PRIMARY KEY (survey_id, receipt)) WITHOUT ROWID
                    """)
        }
        return migrator
    }

    public func secret(named name: String, candidate: [UInt8]) async throws -> [UInt8] {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO secret (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                arguments: [name, Data(candidate)])
            guard let stored = try Data.fetchOne(db, sql: "SELECT value FROM secret WHERE name = ?", arguments: [name])
            else { throw SurveyStoreError(.database, "the secret \(name) vanished while it was being created") }
            return Array(stored)
        }
    }

    public func homeSurveys(
        on day: CalendarDay, recentDays: Int, activePage: Int, completedPage: Int, pageSize: Int
    ) async throws -> (active: SurveyPage, completed: SurveyPage) {
        try await read { db in
            let today = day.description
            let since = day.adding(days: -recentDays).description
            func page(_ filter: String, _ order: String, _ arguments: [String], _ number: Int) throws -> SurveyPage {
                let total = try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM survey \(filter)", arguments: .init(arguments))
                let surveys = try Self.summaries(
                    db, "\(filter) ORDER BY \(order) LIMIT ? OFFSET ?",
                    StatementArguments(arguments) + [pageSize, SurveyPage.offset(number, pageSize)])
                return SurveyPage(surveys: surveys, total: total ?? 0, number: number, size: pageSize)
            }
            return (
                try page("WHERE opens <= ? AND closes >= ?", "closes, id", [today, today], activePage),
                try page("WHERE closes < ? AND closes >= ?", "closes DESC, id", [today, since], completedPage)
            )
        }
    }

    public func surveys(closingIn range: ClosedRange<CalendarDay>) async throws -> [SurveySummary] {
        try await read { db in
            try Self.summaries(
                db, "WHERE closes >= ? AND closes <= ? ORDER BY closes, id",
                [range.lowerBound.description, range.upperBound.description])
        }
    }

    public func survey(id: Int64) async throws -> Survey? {
        try await read { db in try Self.loadSurvey(db, id: id) }
    }

    public func survey(holdingQuestion questionID: Int64) async throws -> Survey? {
        try await read { db in
            guard
                let surveyID = try Int64.fetchOne(
                    db, sql: "SELECT survey_id FROM question WHERE id = ?", arguments: [questionID])
            else { return nil }
            return try Self.loadSurvey(db, id: surveyID)
        }
    }

    public func isEmpty() async throws -> Bool {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM survey") == 0 }
    }

    /// Records the ballot with others that arrive while a commit is under way: one transaction
    /// and one disk sync for the group (group commit). Each ballot runs in its own savepoint, so
    /// a rejected one writes nothing and fails alone; the others' 303s still wait for the commit.
    public func record(
        _ ballot: Ballot, surveyID: Int64, on day: CalendarDay, by deadline: ContinuousClock.Instant
    ) async throws {
        let waiting = WaitingBallot(ballot: ballot, surveyID: surveyID, day: day, deadline: deadline)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let startsACommit = ballotQueue.withLock { queue in
                queue.waiting.append((waiting, continuation))
                if queue.committing { return false }
                queue.committing = true
                return true
            }
            if startsACommit { commitWaitingBallots() }
        }
    }

    /// Commits every ballot waiting now, in one transaction on GRDB's writer queue, then the ones
    /// that arrived meanwhile, until none wait.
    private func commitWaitingBallots() {
        let group = ballotQueue.withLock { queue in
            let group = queue.waiting
            queue.waiting.removeAll(keepingCapacity: true)
            if group.isEmpty { queue.committing = false }
            return group
        }
        guard !group.isEmpty else { return }
        pool.asyncWriteWithoutTransaction { db in
            let outcomes = self.commit(group.map(\.ballot), db)
            for ((_, continuation), outcome) in zip(group, outcomes) { continuation.resume(with: outcome) }
            self.commitWaitingBallots()
        }
    }

    /// Records `ballots` in one IMMEDIATE transaction; the outcome of each, in order.
    private func commit(_ ballots: [WaitingBallot], _ db: Database) -> [Result<Void, Error>] {
        let missed = SurveyStoreError(
            .busy, "the database stayed locked by another writer until the deadline; nothing was recorded")
        var outcomes = [Result<Void, Error>](repeating: .success(()), count: ballots.count)
        // Waiting for another process's lock lasts while any ballot of the group can still use it.
        writeDeadline.current = ballots.map(\.deadline).max()
        defer { writeDeadline.current = nil }
        do {
            try db.inTransaction(.immediate) {
                // The group sees one snapshot: each survey is loaded once.
                var surveys: [Int64: Survey] = [:]
                for (index, waiting) in ballots.enumerated() {
                    guard ContinuousClock.now < waiting.deadline else {
                        outcomes[index] = .failure(missed)
                        continue
                    }
                    do {
                        try db.inSavepoint {
                            // Validation reads and the increments share the transaction: nothing
                            // can change between the checks and the writes.
                            let survey: Survey
                            if let loaded = surveys[waiting.surveyID] {
                                survey = loaded
                            } else if let loaded = try Self.loadSurvey(db, id: waiting.surveyID, withVotes: false) {
                                survey = loaded
                                surveys[waiting.surveyID] = loaded
                            } else {
                                throw SurveyStoreError(.notFound, "survey \(waiting.surveyID) does not exist")
                            }
                            try waiting.ballot.check(against: survey, on: waiting.day)
                            if let receipt = waiting.ballot.receiptKey {
                                // Before the browser: the same ballot sent again is answered as
                                // recorded, not refused as a second one. A refusal below rolls
                                // the receipt back with the savepoint.
                                try db.cachedStatement(sql: Self.recordReceipt).execute(
                                    arguments: [waiting.surveyID, receipt])
                                guard db.changesCount == 1 else { return .commit }  // counted before
                            }
                            if let browser = waiting.ballot.browser {
                                try db.cachedStatement(sql: Self.recordBrowser).execute(
                                    arguments: [waiting.surveyID, browser])
                                guard db.changesCount == 1 else {
                                    throw SurveyStoreError.alreadyVoted(waiting.surveyID)
                                }
                            }
                            for (questionID, answerID) in waiting.ballot.choices {
                                // One atomic increment per answer: no read-modify-write, so no vote is lost.
                                try db.cachedStatement(sql: Self.countVote).execute(
                                    arguments: [answerID, questionID, questionID])
                                guard db.changesCount == 1 else {
                                    // Rare, so only now the second query that tells why.
                                    let exists = try Bool.fetchOne(
                                        db,
                                        sql: "SELECT EXISTS (SELECT 1 FROM answer WHERE id = ? AND question_id = ?)",
                                        arguments: [answerID, questionID])
                                    if exists == true { throw SurveyStoreError.questionFull(questionID) }
                                    throw SurveyStoreError(
                                        .invalidBallot, field: .ballotQuestion(questionID),
                                        "answer \(answerID) vanished")
                                }
                            }
                            return .commit
                        }
                    } catch let rejected as SurveyStoreError {
                        outcomes[index] = .failure(rejected)
                    }
                }
                return .commit
            }
        } catch {
            // Nothing of the group was recorded: every ballot that had not failed alone fails now.
            let failure: SurveyStoreError
            if let error = error as? DatabaseError, error.resultCode == .SQLITE_BUSY {
                failure = SurveyStoreError(
                    .busy, "the database is locked by another writer: \(error.message ?? "busy")")
            } else {
                failure = SurveyStoreError(.database, "writing the database failed: \(error)")
            }
            for index in outcomes.indices where (try? outcomes[index].get()) != nil {
                outcomes[index] = .failure(failure)
            }
        }
        return outcomes
    }

    static let recordReceipt = "INSERT OR IGNORE INTO ballot_receipt (survey_id, receipt) VALUES (?, ?)"

    static let recordBrowser = "INSERT OR IGNORE INTO browser_ballot (survey_id, browser) VALUES (?, ?)"

    /// One vote for an answer (arguments: answer, question, question), counted only while the
    /// question's answers hold fewer than `Answer.maximumVotes` together. Without that, an answer at
    /// `Int64.max` would overflow into a REAL that no read could decode. `TOTAL` sums in floating
    /// point, so it never fails with "integer overflow"; it is exact up to the cap, and past it
    /// stays past it, so the comparison is exact.
    static let countVote = """
        UPDATE answer SET votes = votes + 1
        WHERE id = ? AND question_id = ?
            AND (SELECT TOTAL(other.votes) FROM answer AS other WHERE other.question_id = ?) < \(Answer.maximumVotes)
        """

    @discardableResult
    public func importDocument(_ document: SurveyDocument) async throws -> ImportSummary {
        try document.validate()
        return try await write { db in try Self.insert(document, db) }
    }

    /// Inserts a validated document (ids kept where given) inside the caller's transaction.
    static func insert(_ document: SurveyDocument, _ db: Database) throws -> ImportSummary {
        let steps = SurveyImportRules.steps(document)
        var (survey, question): (Int64, Int64) = (0, 0)
        for step in steps {
            if let id = step.id,
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(step.table) WHERE id = ?)", arguments: [id])
                    == true
            {
                throw SurveyImportRules.idTaken(step)
            }
            switch step {
            case .survey(let id, let title, let opens, let closes, let language, _):
                try db.execute(
                    sql: "INSERT INTO survey (id, title, opens, closes, language) VALUES (?, ?, ?, ?, ?)",
                    arguments: [id, title, opens.description, closes.description, language.description])
                survey = db.lastInsertedRowID
            case .question(let id, let position, let text, _):
                try db.execute(
                    sql: "INSERT INTO question (id, survey_id, position, text) VALUES (?, ?, ?, ?)",
                    arguments: [id, survey, position, text])
                question = db.lastInsertedRowID
            case .answer(let id, let position, let text, let votes, _):
                try db.execute(
                    sql: "INSERT INTO answer (id, question_id, position, text, votes) VALUES (?, ?, ?, ?, ?)",
                    arguments: [id, question, position, text, votes])
            }
        }
        return SurveyImportRules.summary(steps)
    }

    public func exportDocument() async throws -> SurveyDocument {
        try await read { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM survey ORDER BY id")
            return SurveyDocument(
                surveys: try ids.compactMap { try Self.loadSurvey(db, id: $0) }.map(SurveyDocument.SurveyEntry.init))
        }
    }

    // MARK: Helpers

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as SurveyStoreError {
            throw error
        } catch {
            throw SurveyStoreError(.database, "reading the database failed: \(error)")
        }
    }

    /// Runs `body` in one IMMEDIATE transaction. With a `deadline`, the write is given up, with
    /// nothing written, when it is still queued, waiting for a lock, or not ready to commit by then.
    func write<T: Sendable>(
        deadline: ContinuousClock.Instant? = nil, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        let writeDeadline = self.writeDeadline
        let missed = SurveyStoreError(
            .busy, "the database stayed locked by another writer until the deadline; nothing was recorded")
        do {
            return try await pool.writeWithoutTransaction { db in
                if let deadline, ContinuousClock.now >= deadline { throw missed }
                writeDeadline.current = deadline
                defer { writeDeadline.current = nil }
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    if let deadline, ContinuousClock.now >= deadline { throw missed }
                    return .commit
                }
                return result!
            }
        } catch let error as SurveyStoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw SurveyStoreError(.busy, "the database is locked by another writer: \(error.message ?? "busy")")
        } catch {
            throw SurveyStoreError(.database, "writing the database failed: \(error)")
        }
    }

    static func summaries(
        _ db: Database, _ clause: String, _ arguments: StatementArguments
    ) throws
        -> [SurveySummary]
    {
        try Row.fetchAll(
            db, sql: "SELECT id, title, opens, closes, language FROM survey \(clause)", arguments: arguments
        ).map {
            try Self.summary($0)
        }
    }

    /// The summary in a row of `survey` (columns id, title, opens, closes, language).
    static func summary(_ row: Row) throws -> SurveySummary {
        let id = try Self.integer(row, "id", of: "survey")
        let title: String = try Self.column(row, "title", of: "survey")
        let opens: String = try Self.column(row, "opens", of: "survey")
        let closes: String = try Self.column(row, "closes", of: "survey")
        let language: String = try Self.column(row, "language", of: "survey")
        return SurveySummary(
            id: id, title: title, opens: try Self.day(opens), closes: try Self.day(closes),
            language: try Self.language(language))
    }

    static func language(_ text: String) throws -> LanguageTag {
        do { return try LanguageTag(parsing: text) } catch {
            throw SurveyStoreError(.database, "the database holds an invalid language: \(error)")
        }
    }

    static func day(_ text: String) throws -> CalendarDay {
        guard let day = CalendarDay(text) else {
            throw SurveyStoreError(.database, "the database holds an invalid date \"\(text)\"")
        }
        return day
    }

    static func loadSurvey(_ db: Database, id: Int64, withVotes: Bool = true) throws -> Survey? {
        guard
            // Cached statements: compiling one costs more than running it (GRDB authorizes each
            // column at compile time), and ballots and pages load surveys all the time.
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT id, title, opens, closes, language FROM survey WHERE id = ?"),
                arguments: [id])
        else { return nil }
        let answers = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT answer.id, answer.question_id, answer.text, answer.votes FROM answer
                    JOIN question ON question.id = answer.question_id
                    WHERE question.survey_id = ? ORDER BY answer.question_id, answer.position
                    """), arguments: [id])
        var byQuestion: [Int64: [Answer]] = [:]
        for answer in answers {
            let questionID = try Self.integer(answer, "question_id", of: "answer")
            let answerID = try Self.integer(answer, "id", of: "answer")
            let text: String = try Self.column(answer, "text", of: "answer")
            // A ballot's check needs no votes: one unreadable count does not stop other answers' votes.
            let votes = try withVotes ? Self.count(answer, "votes", of: "answer") : 0
            byQuestion[questionID, default: []].append(Answer(id: answerID, text: text, votes: votes))
        }
        let questions = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT id, text FROM question WHERE survey_id = ? ORDER BY position"),
            arguments: [id]
        ).map { question in
            let questionID = try Self.integer(question, "id", of: "question")
            let text: String = try Self.column(question, "text", of: "question")
            return Question(id: questionID, text: text, answers: byQuestion[questionID] ?? [])
        }
        let header = try Self.summary(row)
        return Survey(
            id: header.id, title: header.title, opens: header.opens, closes: header.closes, questions: questions,
            language: header.language)
    }

    // MARK: Decoding

    // GRDB's `row["…"]` subscripts trap on a value they cannot convert. A file edited by hand,
    // restored from elsewhere, or written by a version that let `votes + 1` overflow into a REAL
    // must fail one request with an error that names the table and column, not kill the server.

    /// The value in `name` of a row of `table`, converted as GRDB converts (TEXT for a `String`,
    /// NULL for an optional's nil).
    /// - Throws: `SurveyStoreError` (`database`) naming the table and column when the value does
    ///   not convert or the column is missing.
    static func column<Value: DatabaseValueConvertible>(
        _ row: Row, _ name: String, of table: String, as type: Value.Type = Value.self
    ) throws -> Value {
        let stored = try storedValue(row, name, of: table)
        guard let value = Value.fromDatabaseValue(stored) else {
            throw invalidValue(stored, in: "\(table).\(name)", expected: "of type \(Value.self)")
        }
        return value
    }

    /// The INTEGER in `name` of a row of `table`. Stricter than GRDB, which would take a REAL and
    /// round it: a REAL in an INTEGER column means a count overflowed or the file was edited.
    /// - Parameter place: what the error calls the value, when not `table.name` (a computed column).
    /// - Throws: `SurveyStoreError` (`database`) naming the table and column.
    static func integer(_ row: Row, _ name: String, of table: String, place: String? = nil) throws -> Int64 {
        let stored = try storedValue(row, name, of: table)
        guard case .int64(let value) = stored.storage else {
            throw invalidValue(stored, in: place ?? "\(table).\(name)", expected: "a whole number")
        }
        return value
    }

    /// The non-negative INTEGER in `name` of a row of `table` (votes, ballots).
    /// - Parameter place: what the error calls the value, when not `table.name` (a computed column).
    /// - Throws: `SurveyStoreError` (`database`) naming the table and column.
    static func count(_ row: Row, _ name: String, of table: String, place: String? = nil) throws -> Int {
        let value = try integer(row, name, of: table, place: place)
        guard value >= 0, let count = Int(exactly: value) else {
            throw invalidValue(value.databaseValue, in: place ?? "\(table).\(name)", expected: "a count from 0")
        }
        return count
    }

    /// The finite number in `name` of a row of `table` (seconds since 1970).
    /// - Throws: `SurveyStoreError` (`database`) naming the table and column.
    static func seconds(_ row: Row, _ name: String, of table: String) throws -> Double {
        let stored = try storedValue(row, name, of: table)
        guard let value = Double.fromDatabaseValue(stored), value.isFinite else {
            throw invalidValue(stored, in: "\(table).\(name)", expected: "a finite number")
        }
        return value
    }

    private static func storedValue(_ row: Row, _ name: String, of table: String) throws -> DatabaseValue {
        do {
            return try row.decode(DatabaseValue.self, forColumn: name)
        } catch {
            throw SurveyStoreError(.database, "reading \(table).\(name) failed: \(error)")
        }
    }

    private static func invalidValue(_ stored: DatabaseValue, in place: String, expected: String) -> SurveyStoreError {
        SurveyStoreError(
            .database,
            "the database holds \(String(describing: stored).prefix(60)) in \(place), which must be \(expected); "
                + "correct that row or restore the file from a backup")
    }
}

/// The deadline of the write under way, read by SQLite's busy handler on the writer's thread.
private final class WriteDeadline: Sendable {
    private let slot = Mutex<ContinuousClock.Instant?>(nil)

    var current: ContinuousClock.Instant? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}
