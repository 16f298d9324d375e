import Foundation
import Localization
import PostgresNIO
import Surveys

/// The `SurveyStore` operations, each as the SQLite store does it (the same rules, in one
/// transaction each), in PostgreSQL's dialect.
extension PostgresSurveyStore {
    public func homeSurveys(
        on day: CalendarDay, recentDays: Int, activePage: Int, completedPage: Int, pageSize: Int
    ) async throws -> (active: SurveyPage, completed: SurveyPage) {
        let today = day.description
        let since = day.adding(days: -recentDays).description
        let (activeOffset, completedOffset) = (
            SurveyPage.offset(activePage, pageSize), SurveyPage.offset(completedPage, pageSize)
        )
        return try await read { [self] connection in
            func count(_ query: PostgresQuery) async throws -> Int {
                for try await total in try await connection.query(query, logger: logger).decode(Int64.self) {
                    return Int(total)
                }
                return 0
            }
            let active = SurveyPage(
                surveys: try await summaries(
                    connection,
                    "SELECT id, title, opens, closes, language FROM survey WHERE opens <= \(today) AND closes >= \(today) ORDER BY closes, id LIMIT \(pageSize) OFFSET \(activeOffset)"
                ),
                total: try await count(
                    "SELECT COUNT(*) FROM survey WHERE opens <= \(today) AND closes >= \(today)"),
                number: activePage, size: pageSize)
            let completed = SurveyPage(
                surveys: try await summaries(
                    connection,
                    "SELECT id, title, opens, closes, language FROM survey WHERE closes < \(today) AND closes >= \(since) ORDER BY closes DESC, id LIMIT \(pageSize) OFFSET \(completedOffset)"
                ),
                total: try await count(
                    "SELECT COUNT(*) FROM survey WHERE closes < \(today) AND closes >= \(since)"),
                number: completedPage, size: pageSize)
            return (active, completed)
        }
    }

    public func surveys(closingIn range: ClosedRange<CalendarDay>) async throws -> [SurveySummary] {
        let (low, high) = (range.lowerBound.description, range.upperBound.description)
        return try await read { [self] connection in
            try await summaries(
                connection,
                "SELECT id, title, opens, closes, language FROM survey WHERE closes >= \(low) AND closes <= \(high) ORDER BY closes, id"
            )
        }
    }

    public func survey(id: Int64) async throws -> Survey? {
        try await read { [self] connection in try await loadSurvey(connection, id: id) }
    }

    public func survey(holdingQuestion questionID: Int64) async throws -> Survey? {
        try await read { [self] connection in
            var surveyID: Int64?
            for try await id in try await connection.query(
                "SELECT survey_id FROM question WHERE id = \(questionID)", logger: logger
            ).decode(Int64.self) {
                surveyID = id
            }
            guard let surveyID else { return nil }
            return try await loadSurvey(connection, id: surveyID)
        }
    }

    /// Records the ballot with the others waiting when a commit starts: one transaction, one
    /// statement and one WAL flush per batch (`PostgresBallotCommits`).
    public func record(
        _ ballot: Ballot, surveyID: Int64, on day: CalendarDay, by deadline: ContinuousClock.Instant
    ) async throws {
        try await ballotCommits.record(ballot, surveyID: surveyID, on: day, deadline: deadline)
    }

    public var ballotDeadline: Duration { configuration.ballotDeadline }

    @discardableResult
    public func importDocument(_ document: SurveyDocument) async throws -> ImportSummary {
        try document.validate()
        return try await transaction { [self] connection in try await insert(document, connection) }
    }

    public func exportDocument() async throws -> SurveyDocument {
        try await read { [self] connection in
            var ids: [Int64] = []
            for try await id in try await connection.query("SELECT id FROM survey ORDER BY id", logger: logger).decode(
                Int64.self)
            {
                ids.append(id)
            }
            var surveys: [SurveyDocument.SurveyEntry] = []
            for id in ids {
                guard let survey = try await loadSurvey(connection, id: id) else { continue }
                surveys.append(SurveyDocument.SurveyEntry(survey))
            }
            return SurveyDocument(surveys: surveys)
        }
    }

    public func isEmpty() async throws -> Bool {
        try await read { [self] connection in
            for try await count in try await connection.query("SELECT COUNT(*) FROM survey", logger: logger).decode(
                Int64.self)
            {
                return count == 0
            }
            return true
        }
    }

    public func secret(named name: String, candidate: [UInt8]) async throws -> [UInt8] {
        try await transaction { [self] connection in
            try await connection.query(
                "INSERT INTO secret (name, value) VALUES (\(name), \(Data(candidate))) ON CONFLICT (name) DO NOTHING",
                logger: logger)
            for try await value in try await connection.query(
                "SELECT value FROM secret WHERE name = \(name)", logger: logger
            ).decode(Data.self) {
                return Array(value)
            }
            throw SurveyStoreError(.database, "the secret \(name) vanished while it was being created")
        }
    }

    // MARK: Operators

    public func addUser(name: String, passwordHash: String, at now: Date) async throws {
        try AdminUser.checkName(name)
        try await transaction { [self] connection in
            let rows = try await connection.query(
                "INSERT INTO admin_user (name, password_hash, created) VALUES (\(name), \(passwordHash), \(now.timeIntervalSince1970)) ON CONFLICT (name) DO NOTHING RETURNING name",
                logger: logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            guard inserted else {
                throw SurveyStoreError(.invalidEdit, field: "name", "a user called \(name) already exists")
            }
        }
    }

    public func removeUser(name: String) async throws -> Bool {
        try await transaction { [self] connection in
            var removed = false
            for try await _ in try await connection.query(
                "DELETE FROM admin_user WHERE name = \(name) RETURNING name", logger: logger)
            {
                removed = true
            }
            return removed
        }
    }

    public func users() async throws -> [AdminUser] {
        try await read { [self] connection in
            var users: [AdminUser] = []
            for try await (name, created) in try await connection.query(
                "SELECT name, created FROM admin_user ORDER BY name", logger: logger
            ).decode((String, Double).self) {
                users.append(AdminUser(name: name, created: Date(timeIntervalSince1970: created)))
            }
            return users
        }
    }

    public func passwordHash(user name: String) async throws -> String? {
        try await read { [self] connection in
            for try await hash in try await connection.query(
                "SELECT password_hash FROM admin_user WHERE name = \(name)", logger: logger
            ).decode(String.self) {
                return hash
            }
            return nil
        }
    }

    public func createSession(_ session: AdminSession) async throws {
        try await transaction { [self] connection in
            try await connection.query(
                """
                INSERT INTO admin_session (id_hash, user_name, csrf_token, created, last_seen)
                VALUES (\(session.idHash), \(session.user), \(session.csrfToken), \(session.created.timeIntervalSince1970), \(session.lastSeen.timeIntervalSince1970))
                """, logger: logger)
        }
    }

    public func storedSession(idHash: String) async throws -> AdminSession? {
        try await read { [self] connection -> AdminSession? in
            for try await (user, token, created, lastSeen) in try await connection.query(
                "SELECT user_name, csrf_token, created, last_seen FROM admin_session WHERE id_hash = \(idHash)",
                logger: logger
            ).decode((String, String, Double, Double).self) {
                return AdminSession(
                    idHash: idHash, user: user, csrfToken: token, created: Date(timeIntervalSince1970: created),
                    lastSeen: Date(timeIntervalSince1970: lastSeen))
            }
            return nil
        }
    }

    public func touchSession(idHash: String, at now: Date) async throws {
        let seen = now.timeIntervalSince1970
        try await transaction { [self] connection in
            try await connection.query(
                "UPDATE admin_session SET last_seen = \(seen) WHERE id_hash = \(idHash)", logger: logger)
        }
    }

    public func endSession(idHash: String) async throws {
        try await transaction { [self] connection in
            try await connection.query("DELETE FROM admin_session WHERE id_hash = \(idHash)", logger: logger)
        }
    }

    // MARK: Editing surveys

    public func surveyOverviews() async throws -> [SurveyOverview] {
        try await read { [self] connection in
            try await overviews(connection, "ORDER BY survey.opens DESC, survey.id DESC", id: nil)
        }
    }

    public func surveyOverview(id: Int64) async throws -> SurveyOverview? {
        try await read { [self] connection in try await overviews(connection, "", id: id).first }
    }

    public func createSurvey(_ entry: SurveyDocument.SurveyEntry) async throws -> Int64 {
        try entry.withoutIDsAndVotes.validateAsEdit()
        let steps = SurveyEditRules.creation(entry)
        return try await transaction { [self] connection in try await apply(steps, to: nil, connection) }
    }

    public func updateSurvey(id: Int64, with entry: SurveyDocument.SurveyEntry) async throws {
        try entry.validateAsEdit()
        try await transaction { [self] connection in
            // Lock the survey's row: two operators saving at once apply one after the other.
            for try await _ in try await connection.query(
                "SELECT id FROM survey WHERE id = \(id) FOR UPDATE", logger: logger)
            {}
            guard let current = try await loadSurvey(connection, id: id) else {
                throw SurveyStoreError(.notFound, "survey \(id) does not exist")
            }
            _ = try await apply(try SurveyEditRules.plan(current, becoming: entry), to: id, connection)
        }
    }

    /// Runs `steps` (`SurveyEditRules`) on survey `id`, or on the survey their first step inserts;
    /// returns the survey's id.
    func apply(_ steps: [SurveyWriteStep], to id: Int64?, _ connection: PostgresConnection) async throws -> Int64 {
        var surveyID = id ?? 0
        var lastQuestion: Int64 = 0
        func question(_ reference: SurveyWriteStep.QuestionReference) -> Int64 {
            if case .existing(let id) = reference { return id }
            return lastQuestion
        }
        for step in steps {
            switch step {
            case .deleteAnswer(let answer):
                try await connection.query("DELETE FROM answer WHERE id = \(answer)", logger: logger)
            case .deleteQuestion(let id):
                try await connection.query("DELETE FROM question WHERE id = \(id)", logger: logger)
            case .insertSurvey(let title, let opens, let closes, let language):
                surveyID = try await insertReturningID(
                    connection,
                    "INSERT INTO survey (title, opens, closes, language) VALUES (\(title), \(opens.description), \(closes.description), \(language.description)) RETURNING id"
                )
            case .updateSurvey(let title, let opens, let closes, let language, let clearsEarlyClose):
                try await connection.query(
                    """
                    UPDATE survey SET title = \(title), opens = \(opens.description), closes = \(closes.description),
                        language = \(language.description),
                        closed_early_on = CASE WHEN \(clearsEarlyClose) THEN NULL ELSE closed_early_on END
                    WHERE id = \(surveyID)
                    """, logger: logger)
            case .updateQuestion(let id, let position, let text):
                try await connection.query(
                    "UPDATE question SET position = \(position), text = \(text) WHERE id = \(id)", logger: logger)
            case .insertQuestion(let position, let text):
                lastQuestion = try await insertReturningID(
                    connection,
                    "INSERT INTO question (survey_id, position, text) VALUES (\(surveyID), \(position), \(text)) RETURNING id"
                )
            case .updateAnswer(let id, let home, let position, let text):
                try await connection.query(
                    "UPDATE answer SET question_id = \(question(home)), position = \(position), text = \(text) WHERE id = \(id)",
                    logger: logger)
            case .insertAnswer(let home, let position, let text):
                try await connection.query(
                    "INSERT INTO answer (question_id, position, text) VALUES (\(question(home)), \(position), \(text))",
                    logger: logger)
            }
        }
        return surveyID
    }

    public func closeSurveyNow(id: Int64, today: CalendarDay) async throws {
        try await transaction { [self] connection in
            // Lock the row first: an edit committed meanwhile would otherwise lose its dates.
            for try await _ in try await connection.query(
                "SELECT id FROM survey WHERE id = \(id) FOR UPDATE", logger: logger)
            {}
            guard let survey = try await loadSurvey(connection, id: id, withVotes: false) else {
                throw SurveyStoreError(.notFound, "survey \(id) does not exist")
            }
            let close = try SurveyEditRules.closeNow(survey, today: today)
            try await connection.query(
                """
                UPDATE survey SET opens_before_close = opens, closes_before_close = closes,
                    closed_early_on = \(close.closedOn.description), opens = \(close.opens.description),
                    closes = \(close.closes.description)
                WHERE id = \(id)
                """, logger: logger)
        }
    }

    public func reopenSurvey(id: Int64, today: CalendarDay) async throws {
        try await transaction { [self] connection in
            var found: (String, String?)?
            for try await row in try await connection.query(
                "SELECT title, closed_early_on FROM survey WHERE id = \(id) FOR UPDATE", logger: logger
            ).decode((String, String?).self) {
                found = row
            }
            guard let (title, closedOn) = found else {
                throw SurveyStoreError(.notFound, "survey \(id) does not exist")
            }
            try SurveyEditRules.checkReopen(title: title, closedEarlyOn: closedOn, today: today)
            try await connection.query(
                """
                UPDATE survey SET opens = opens_before_close, closes = closes_before_close,
                    closed_early_on = NULL, opens_before_close = NULL, closes_before_close = NULL
                WHERE id = \(id)
                """, logger: logger)
        }
    }

    public func deleteSurvey(id: Int64) async throws -> Bool {
        try await transaction { [self] connection in
            var deleted = false
            for try await _ in try await connection.query(
                "DELETE FROM survey WHERE id = \(id) RETURNING id", logger: logger)
            {
                deleted = true
            }
            return deleted
        }
    }

    func overviews(_ connection: PostgresConnection, _ order: String, id: Int64?) async throws -> [SurveyOverview] {
        // As in SQLite: each question's votes count the ballots; the largest, for questions added later.
        let select = """
            SELECT survey.id, survey.title, survey.opens, survey.closes, survey.closed_early_on, survey.language,
                COALESCE((SELECT SUM(answer.votes) FROM question JOIN answer ON answer.question_id = question.id
                    WHERE question.survey_id = survey.id GROUP BY question.id
                    ORDER BY SUM(answer.votes) DESC LIMIT 1), 0)::BIGINT AS ballots
            FROM survey
            """
        let query: PostgresQuery =
            id.map { "\(unescaped: select) WHERE survey.id = \($0)" } ?? PostgresQuery(unsafeSQL: select + " " + order)
        var result: [SurveyOverview] = []
        for try await (surveyID, title, opens, closes, closedEarly, language, ballots) in try await connection.query(
            query, logger: logger
        ).decode((Int64, String, String, String, String?, String, Int64).self) {
            result.append(
                SurveyOverview(
                    summary: SurveySummary(
                        id: surveyID, title: title, opens: try Self.day(opens), closes: try Self.day(closes),
                        language: try Self.language(language)),
                    ballots: Int(ballots), closedEarlyOn: closedEarly.flatMap(CalendarDay.init)))
        }
        return result
    }

    // MARK: Moving a site

    public func exportSite() async throws -> SiteSnapshot {
        let document = try await exportDocument()
        return try await read { [self] connection in
            var users: [SiteSnapshot.StoredUser] = []
            for try await (name, hash, created) in try await connection.query(
                "SELECT name, password_hash, created FROM admin_user ORDER BY name", logger: logger
            ).decode((String, String, Double).self) {
                users.append(.init(name: name, passwordHash: hash, created: Date(timeIntervalSince1970: created)))
            }
            var secrets: [String: [UInt8]] = [:]
            for try await (name, value) in try await connection.query("SELECT name, value FROM secret", logger: logger)
                .decode((String, Data).self)
            {
                secrets[name] = Array(value)
            }
            return SiteSnapshot(document: document, users: users, secrets: secrets)
        }
    }

    public func importSite(_ snapshot: SiteSnapshot) async throws {
        try snapshot.document.validate()
        try await transaction { [self] connection in
            var counts: (Int64, Int64) = (0, 0)
            for try await row in try await connection.query(
                "SELECT (SELECT COUNT(*) FROM survey), (SELECT COUNT(*) FROM admin_user)", logger: logger
            ).decode((Int64, Int64).self) {
                counts = row
            }
            guard counts == (0, 0) else {
                throw SurveyStoreError(
                    .invalidImport,
                    "the target already holds \(counts.0) surveys and \(counts.1) operators; migrate into an empty store"
                )
            }
            _ = try await insert(snapshot.document, connection)
            for user in snapshot.users {
                try await connection.query(
                    "INSERT INTO admin_user (name, password_hash, created) VALUES (\(user.name), \(user.passwordHash), \(user.created.timeIntervalSince1970))",
                    logger: logger)
            }
            for (name, value) in snapshot.secrets {
                try await connection.query(
                    "INSERT INTO secret (name, value) VALUES (\(name), \(Data(value))) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    logger: logger)
            }
        }
    }
}
