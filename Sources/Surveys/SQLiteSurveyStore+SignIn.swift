import Foundation
import GRDB

/// The sign-in throttle on SQLite: one IMMEDIATE transaction counts and reserves, so the check
/// and the reservation are one critical section for every process on the database file.
extension SQLiteSurveyStore {
    public func reserveSignIn(
        keys: [String], at now: Date, rule: SignInThrottleRule
    ) async throws
        -> SignInReservation
    {
        let seconds = now.timeIntervalSince1970
        let attempt = Int64.random(in: 1...Int64.max)
        return try await write { db in
            try db.execute(
                sql: "DELETE FROM sign_in_attempt WHERE at < ?", arguments: [rule.windowStart(at: seconds)])
            var recent: [[Double]] = []
            for key in keys {
                recent.append(
                    try Double.fetchAll(
                        db, sql: "SELECT at FROM sign_in_attempt WHERE key = ? ORDER BY at DESC LIMIT ?",
                        arguments: [key, rule.allowed]))
            }
            if let wait = rule.retryAfter(recent: recent, now: seconds) { return .throttled(retryAfter: wait) }
            for key in keys {
                try db.execute(
                    sql: "INSERT INTO sign_in_attempt (attempt, key, at) VALUES (?, ?, ?)",
                    arguments: [attempt, key, seconds])
            }
            return .reserved(attempt: attempt)
        }
    }

    public func rememberDevice(idHash: String, user: String, at now: Date) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO admin_device (id_hash, user_name, created) VALUES (?, ?, ?)",
                arguments: [idHash, user, now.timeIntervalSince1970])
        }
    }

    public func knowsDevice(idHash: String, user: String) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM admin_device WHERE id_hash = ? AND user_name = ?)",
                arguments: [idHash, user]) ?? false
        }
    }

    public func settleSignIn(attempt: Int64, outcome: SignInOutcome) async throws {
        // A failure stays as it was reserved: nothing to write.
        if outcome == .failed { return }
        try await write { db in
            switch outcome {
            case .failed:
                return
            case .notChecked:
                try db.execute(sql: "DELETE FROM sign_in_attempt WHERE attempt = ?", arguments: [attempt])
            case .succeeded(let clearing):
                try db.execute(sql: "DELETE FROM sign_in_attempt WHERE attempt = ?", arguments: [attempt])
                for key in clearing {
                    try db.execute(sql: "DELETE FROM sign_in_attempt WHERE key = ?", arguments: [key])
                }
            }
        }
    }
}
