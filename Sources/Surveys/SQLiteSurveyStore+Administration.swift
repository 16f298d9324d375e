import Foundation
import GRDB
import Localization

/// Operators, sessions and survey edits on SQLite: each call is one transaction.
extension SQLiteSurveyStore {
    public func addUser(name: String, passwordHash: String, at now: Date) async throws {
        try AdminUser.checkName(name)
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM admin_user WHERE name = ?)", arguments: [name])
                == true
            {
                throw SurveyStoreError(.invalidEdit, field: "name", "a user called \(name) already exists")
            }
            try db.execute(
                sql: "INSERT INTO admin_user (name, password_hash, created) VALUES (?, ?, ?)",
                arguments: [name, passwordHash, now.timeIntervalSince1970])
        }
    }

    public func removeUser(name: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM admin_user WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    public func users() async throws -> [AdminUser] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT name, created FROM admin_user ORDER BY name").map {
                AdminUser(
                    name: try Self.column($0, "name", of: "admin_user"),
                    created: Date(timeIntervalSince1970: try Self.seconds($0, "created", of: "admin_user")))
            }
        }
    }

    public func passwordHash(user name: String) async throws -> String? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT password_hash FROM admin_user WHERE name = ?", arguments: [name])
        }
    }

    public func createSession(_ session: AdminSession) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO admin_session (id_hash, user_name, csrf_token, created, last_seen)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [
                    session.idHash, session.user, session.csrfToken, session.created.timeIntervalSince1970,
                    session.lastSeen.timeIntervalSince1970,
                ])
        }
    }

    public func storedSession(idHash: String) async throws -> AdminSession? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT user_name, csrf_token, created, last_seen FROM admin_session WHERE id_hash = ?",
                arguments: [idHash]
            ).map {
                AdminSession(
                    idHash: idHash, user: try Self.column($0, "user_name", of: "admin_session"),
                    csrfToken: try Self.column($0, "csrf_token", of: "admin_session"),
                    created: Date(timeIntervalSince1970: try Self.seconds($0, "created", of: "admin_session")),
                    lastSeen: Date(timeIntervalSince1970: try Self.seconds($0, "last_seen", of: "admin_session")))
            }
        }
    }

    public func touchSession(idHash: String, at now: Date) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE admin_session SET last_seen = ? WHERE id_hash = ?",
                arguments: [now.timeIntervalSince1970, idHash])
        }
    }

    public func endSession(idHash: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM admin_session WHERE id_hash = ?", arguments: [idHash])
        }
    }

    public func surveyOverviews() async throws -> [SurveyOverview] {
        try await read { db in try Self.overviews(db, "ORDER BY survey.opens DESC, survey.id DESC", []) }
    }

    public func surveyOverview(id: Int64) async throws -> SurveyOverview? {
        try await read { db in try Self.overviews(db, "WHERE survey.id = ?", [id]).first }
    }

    public func createSurvey(_ entry: SurveyDocument.SurveyEntry) async throws -> Int64 {
        try entry.withoutIDsAndVotes.validateAsEdit()
        let steps = SurveyEditRules.creation(entry)
        return try await write { db in try Self.apply(steps, to: nil, db) }
    }

    public func updateSurvey(id: Int64, with entry: SurveyDocument.SurveyEntry) async throws {
        try entry.validateAsEdit()
        try await write { db in
            guard let current = try Self.loadSurvey(db, id: id) else {
                throw SurveyStoreError(.notFound, "survey \(id) does not exist")
            }
            _ = try Self.apply(try SurveyEditRules.plan(current, becoming: entry), to: id, db)
        }
    }

    /// Runs `steps` (`SurveyEditRules`) on survey `id`, or on the survey their first step inserts;
    /// returns the survey's id.
    static func apply(_ steps: [SurveyWriteStep], to id: Int64?, _ db: Database) throws -> Int64 {
        var surveyID = id ?? 0
        var lastQuestion: Int64 = 0
        func question(_ reference: SurveyWriteStep.QuestionReference) -> Int64 {
            if case .existing(let id) = reference { return id }
            return lastQuestion
        }
        for step in steps {
            switch step {
            case .deleteAnswer(let answer):
                try db.execute(sql: "DELETE FROM answer WHERE id = ?", arguments: [answer])
            case .deleteQuestion(let id):
                try db.execute(sql: "DELETE FROM question WHERE id = ?", arguments: [id])
            case .insertSurvey(let title, let opens, let closes, let language):
                try db.execute(
                    sql: "INSERT INTO survey (title, opens, closes, language) VALUES (?, ?, ?, ?)",
                    arguments: [title, opens.description, closes.description, language.description])
                surveyID = db.lastInsertedRowID
            case .updateSurvey(let title, let opens, let closes, let language, let clearsEarlyClose):
                try db.execute(
                    sql: """
                        UPDATE survey SET title = ?, opens = ?, closes = ?, language = ?,
                            closed_early_on = CASE WHEN ? THEN NULL ELSE closed_early_on END
                        WHERE id = ?
                        """,
                    arguments: [
                        title, opens.description, closes.description, language.description, clearsEarlyClose, surveyID,
                    ])
            case .updateQuestion(let id, let position, let text):
                try db.execute(
                    sql: "UPDATE question SET position = ?, text = ? WHERE id = ?", arguments: [position, text, id])
            case .insertQuestion(let position, let text):
                try db.execute(
                    sql: "INSERT INTO question (survey_id, position, text) VALUES (?, ?, ?)",
                    arguments: [surveyID, position, text])
                lastQuestion = db.lastInsertedRowID
            case .updateAnswer(let id, let home, let position, let text):
                try db.execute(
                    sql: "UPDATE answer SET question_id = ?, position = ?, text = ? WHERE id = ?",
                    arguments: [question(home), position, text, id])
            case .insertAnswer(let home, let position, let text):
                try db.execute(
                    sql: "INSERT INTO answer (question_id, position, text) VALUES (?, ?, ?)",
                    arguments: [question(home), position, text])
            }
        }
        return surveyID
    }

    public func closeSurveyNow(id: Int64, today: CalendarDay) async throws {
        try await write { db in
            guard let survey = try Self.loadSurvey(db, id: id, withVotes: false) else {
                throw SurveyStoreError(.notFound, "survey \(id) does not exist")
            }
            let close = try SurveyEditRules.closeNow(survey, today: today)
            try db.execute(
                sql: """
                    UPDATE survey SET opens_before_close = opens, closes_before_close = closes, closed_early_on = ?,
                        opens = ?, closes = ?
                    WHERE id = ?
                    """,
                arguments: [close.closedOn.description, close.opens.description, close.closes.description, id])
        }
    }

    public func reopenSurvey(id: Int64, today: CalendarDay) async throws {
        try await write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT title, closed_early_on, opens_before_close, closes_before_close FROM survey WHERE id = ?",
                    arguments: [id])
            else { throw SurveyStoreError(.notFound, "survey \(id) does not exist") }
            let title: String = try Self.column(row, "title", of: "survey")
            let closedEarlyOn: String? = try Self.column(row, "closed_early_on", of: "survey")
            try SurveyEditRules.checkReopen(title: title, closedEarlyOn: closedEarlyOn, today: today)
            try db.execute(
                sql: """
                    UPDATE survey SET opens = opens_before_close, closes = closes_before_close,
                        closed_early_on = NULL, opens_before_close = NULL, closes_before_close = NULL
                    WHERE id = ?
                    """, arguments: [id])
        }
    }

    public func deleteSurvey(id: Int64) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM survey WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    // MARK: Helpers

    static func overviews(
        _ db: Database, _ clause: String, _ arguments: StatementArguments
    ) throws
        -> [SurveyOverview]
    {
        // Every ballot answers every question once, so each question's votes count the ballots; a
        // question added by an edit counts only later ones, hence the largest.
        try Row.fetchAll(
            db,
            sql: """
                SELECT survey.id, survey.title, survey.opens, survey.closes, survey.closed_early_on, survey.language,
                    COALESCE((SELECT SUM(answer.votes) FROM question JOIN answer ON answer.question_id = question.id
                        WHERE question.survey_id = survey.id GROUP BY question.id
                        ORDER BY SUM(answer.votes) DESC LIMIT 1), 0) AS ballots
                FROM survey \(clause)
                """, arguments: arguments
        ).map { row in
            let closedEarly: String? = try Self.column(row, "closed_early_on", of: "survey")
            return SurveyOverview(
                summary: try Self.summary(row),
                ballots: try Self.count(row, "ballots", of: "survey", place: "the sum of a question's answer.votes"),
                closedEarlyOn: closedEarly.flatMap(CalendarDay.init))
        }
    }
}

extension SQLiteSurveyStore {
    public func exportSite() async throws -> SiteSnapshot {
        let document = try await exportDocument()
        return try await read { db in
            let users = try Row.fetchAll(db, sql: "SELECT name, password_hash, created FROM admin_user ORDER BY name")
                .map {
                    SiteSnapshot.StoredUser(
                        name: try Self.column($0, "name", of: "admin_user"),
                        passwordHash: try Self.column($0, "password_hash", of: "admin_user"),
                        created: Date(timeIntervalSince1970: try Self.seconds($0, "created", of: "admin_user")))
                }
            var secrets: [String: [UInt8]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, value FROM secret") {
                let name: String = try Self.column(row, "name", of: "secret")
                let value: Data = try Self.column(row, "value", of: "secret")
                secrets[name] = Array(value)
            }
            return SiteSnapshot(document: document, users: users, secrets: secrets)
        }
    }

    public func importSite(_ snapshot: SiteSnapshot) async throws {
        try snapshot.document.validate()
        try await write { db in
            let surveys = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM survey") ?? 0
            let users = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM admin_user") ?? 0
            guard surveys == 0, users == 0 else {
                throw SurveyStoreError(
                    .invalidImport,
                    "the target already holds \(surveys) surveys and \(users) operators; migrate into an empty store")
            }
            _ = try Self.insert(snapshot.document, db)
            for user in snapshot.users {
                try db.execute(
                    sql: "INSERT INTO admin_user (name, password_hash, created) VALUES (?, ?, ?)",
                    arguments: [user.name, user.passwordHash, user.created.timeIntervalSince1970])
            }
            for (name, value) in snapshot.secrets {
                try db.execute(
                    sql:
                        "INSERT INTO secret (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    arguments: [name, Data(value)])
            }
        }
    }
}
