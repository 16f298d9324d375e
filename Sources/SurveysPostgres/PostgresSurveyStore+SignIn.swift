import Foundation
import PostgresNIO
import Surveys

/// The sign-in throttle on PostgreSQL: a transaction-scoped advisory lock makes the count and the
/// reservation one critical section for every process on the database.
extension PostgresSurveyStore {
    /// The advisory lock that serializes sign-in reservations (migrations use 7281501).
    static let signInLock = 7_281_502

    public func reserveSignIn(
        keys: [String], at now: Date, rule: SignInThrottleRule
    ) async throws
        -> SignInReservation
    {
        let seconds = now.timeIntervalSince1970
        let attempt = Int64.random(in: 1...Int64.max)
        let (windowStart, allowed) = (rule.windowStart(at: seconds), rule.allowed)
        return try await transaction { [self] connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.signInLock))", logger: logger)
            try await connection.query("DELETE FROM sign_in_attempt WHERE at < \(windowStart)", logger: logger)
            var recent: [[Double]] = []
            for key in keys {
                var times: [Double] = []
                for try await at in try await connection.query(
                    "SELECT at FROM sign_in_attempt WHERE key = \(key) ORDER BY at DESC LIMIT \(allowed)",
                    logger: logger
                ).decode(Double.self) {
                    times.append(at)
                }
                recent.append(times)
            }
            if let wait = rule.retryAfter(recent: recent, now: seconds) { return .throttled(retryAfter: wait) }
            for key in keys {
                try await connection.query(
                    "INSERT INTO sign_in_attempt (attempt, key, at) VALUES (\(attempt), \(key), \(seconds))",
                    logger: logger)
            }
            return .reserved(attempt: attempt)
        }
    }

    public func rememberDevice(idHash: String, user: String, at now: Date) async throws {
        let created = now.timeIntervalSince1970
        try await transaction { [self] connection in
            try await connection.query(
                """
                INSERT INTO admin_device (id_hash, user_name, created) VALUES (\(idHash), \(user), \(created))
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
    }

    public func knowsDevice(idHash: String, user: String) async throws -> Bool {
        try await read { [self] connection in
            for try await _ in try await connection.query(
                "SELECT 1 FROM admin_device WHERE id_hash = \(idHash) AND user_name = \(user)", logger: logger)
            {
                return true
            }
            return false
        }
    }

    public func settleSignIn(attempt: Int64, outcome: SignInOutcome) async throws {
        let clearing: [String]
        switch outcome {
        case .failed: return
        case .notChecked: clearing = []
        case .succeeded(let keys): clearing = keys
        }
        try await transaction { [self] connection in
            try await connection.query("DELETE FROM sign_in_attempt WHERE attempt = \(attempt)", logger: logger)
            for key in clearing {
                try await connection.query("DELETE FROM sign_in_attempt WHERE key = \(key)", logger: logger)
            }
        }
    }
}
