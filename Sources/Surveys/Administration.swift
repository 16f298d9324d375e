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
