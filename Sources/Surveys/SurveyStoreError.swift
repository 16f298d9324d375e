/// Why a store operation failed, with what the caller can do about it.
public struct SurveyStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable codes; the server maps them to HTTP statuses.
    public enum Code: String, Sendable {
        /// No such survey or question (HTTP 404).
        case notFound = "not_found"
        /// The ballot is incomplete or inconsistent (HTTP 400); nothing was recorded.
        case invalidBallot = "invalid_ballot"
        /// The survey is not taking votes today (HTTP 409); nothing was recorded.
        case notOpen = "not_open"
        /// An import document is invalid; nothing was imported.
        case invalidImport = "invalid_import"
        /// An operator's edit breaks a rule (HTTP 400); nothing was changed. `field` names the form
        /// field or path at fault.
        case invalidEdit = "invalid_edit"
        /// The database stayed locked by another writer past the deadline (HTTP 503); nothing was
        /// written, and trying again shortly may succeed.
        case busy
        /// This browser's ballot for the survey is already recorded (HTTP 409); nothing was
        /// recorded this time. The store decides it inside the ballot's transaction.
        case alreadyVoted = "already_voted"
        /// The database failed or could not be opened.
        case database
        /// The database went away (or stayed silent past the deadline) after the ballot's commit
        /// was sent: the ballot may or may not be recorded (HTTP 503). Only a ballot can end so.
        case unconfirmed
    }

    /// What kind of failure.
    public var code: Code
    /// The path at fault (`surveys[0].questions[1].text`), if any.
    public var path: FieldPath?
    /// `path` as text, for messages and JSON bodies.
    public var field: String? { path?.description }
    /// What is wrong and how to fix it.
    public var message: String
    /// Where in our sources the failure was detected.
    public var location: String

    /// Creates an error; `location` defaults to the caller's file and line.
    public init(
        _ code: Code, field: FieldPath? = nil, _ message: String, fileID: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.path = field
        self.message = message
        self.location = "\(fileID):\(line)"
    }

    public var description: String { field.map { "\($0): \(message)" } ?? message }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.path == rhs.path && lhs.message == rhs.message
    }
}
