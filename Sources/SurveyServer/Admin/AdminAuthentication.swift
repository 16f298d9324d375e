import ChartCache
import Crypto
import Foundation
import HTTPHardening
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOCore
import Surveys
import Synchronization

/// Operators' passwords: bcrypt at cost 12, checked and hashed off the event loops.
public enum OperatorPasswords {
    /// bcrypt's cost: 2^12 rounds, about a quarter of a second here, so guessing is slow.
    public static let cost: UInt8 = 12

    /// Why `password` is not acceptable, or nil. bcrypt reads at most 72 bytes.
    public static func problem(with password: String) -> String? {
        if password.count < 10 { return "must be at least 10 characters long" }
        if password.utf8.count > 72 { return "must be at most 72 bytes long (bcrypt ignores the rest)" }
        if password.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "must not contain control characters"
        }
        return nil
    }

    /// The bcrypt hash of `password` (blocking: call it on a blocking thread).
    public static func hash(_ password: String) -> String { Bcrypt.hash(password, cost: cost) }

    /// Whether `password` matches `hash` (blocking).
    static func verify(_ password: String, hash: String) -> Bool { Bcrypt.verify(password, hash: hash) }

    /// A random password for the demo operator: 16 characters that survive copy and paste.
    public static func random() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet.randomElement(using: &generator)! })
    }
}

/// Sign-in, sessions and CSRF for `/admin`.
///
/// The session cookie holds 256 random bits; the store keeps only their SHA-256, so a copy of the
/// database does not let anyone in. Each session has its own CSRF token, sent back by every admin
/// form.
///
/// Sign-in attempts are throttled in the store (DESIGN "Operators"), so the limit holds across
/// processes: each attempt is reserved, in the same transaction that counts the earlier ones,
/// before its password is checked. A browser that has signed in to an account before carries a
/// signed device cookie for it, and is counted on its own: an attacker's failures slow the
/// account down for unknown clients only, and never lock its operator out.
final class AdminAuthentication: Sendable {
    static let cookieName = "surveycharts_session"
    static let deviceCookieName = "surveycharts_device"

    let store: any SurveyStore
    let passwords: PasswordChecks
    let logger: Logger
    let idleLimit: Duration
    let rule: SignInThrottleRule
    /// Signs device cookies: derived from the store's ballot secret, so every process agrees.
    private let deviceKey: [UInt8]
    /// A hash to check against when the account does not exist, so that a wrong name takes as long
    /// as a wrong password and names cannot be discovered by timing.
    private let decoyHash: String

    init(
        store: any SurveyStore, passwords: PasswordChecks, logger: Logger, idleLimit: Duration, secret: [UInt8],
        rule: SignInThrottleRule = SignInThrottleRule()
    ) {
        self.store = store
        self.passwords = passwords
        self.logger = logger
        self.idleLimit = idleLimit
        self.rule = rule
        deviceKey = Array(
            HMAC<SHA256>.authenticationCode(for: Array("device-cookie".utf8), using: SymmetricKey(data: secret)))
        decoyHash = OperatorPasswords.hash(OperatorPasswords.random())
    }

    /// The outcome of a sign-in attempt.
    enum SignIn {
        case signedIn(cookies: [String], session: AdminSession)
        case refused
        case throttled(retryAfter: Int)
    }

    /// Checks `name` and `password` and, when they match, starts a session.
    /// - Throws: `ServiceError` 503 when too many passwords are being checked already.
    func signIn(
        name: String, password: String, request: Request, client: ClientIdentity, logger: Logger
    ) async throws -> SignIn {
        let now = Date()
        // No operator can have a name outside `AdminUser.checkName`'s alphabet: refused at once,
        // with nothing stored, no password checked and the name not logged.
        guard (try? AdminUser.checkName(name)) != nil else {
            logger.warning("admin sign-in failed for a name no operator can have, from \(client.loggedAddress)")
            return .refused
        }
        // Names are looked up exactly, so they are counted and signed exactly too: `Admin` and
        // `admin` are two accounts with two budgets.
        let account = name
        // A device is known when its cookie is ours for this account and the store still lists it:
        // removing an operator forgets its devices, so an old cookie is an unknown client's.
        var device = deviceID(in: request, account: account)
        if let signed = device, try await !store.knowsDevice(idHash: Self.hash(signed), user: account) {
            device = nil
        }
        // A known device has its own budget; everyone else shares the account's, and their own.
        let keys = device.map { ["device:" + $0] } ?? ["user:" + account, "address:" + client.limitKey]
        // Admitted to the password budget before anything is written: a flood that fills it costs
        // the database nothing. Known devices have places of their own in it.
        let admission = try passwords.admit(knownDevice: device != nil)
        defer { admission.release() }
        let attempt: Int64
        switch try await store.reserveSignIn(keys: keys, at: now, rule: rule) {
        case .throttled(let wait):
            logger.warning(
                "admin sign-in throttled for \(name) from \(client.loggedAddress)\(device == nil ? "" : " (known device)"): retry in \(wait) s"
            )
            return .throttled(retryAfter: wait)
        case .reserved(let id):
            attempt = id
        }
        let matches: Bool
        do {
            let stored = try await store.passwordHash(user: name)
            let decoy = decoyHash
            matches = try await admission.check {
                OperatorPasswords.verify(password, hash: stored ?? decoy) && stored != nil
            }
        } catch {
            try? await store.settleSignIn(attempt: attempt, outcome: .notChecked)
            throw error
        }
        guard matches else {
            try await store.settleSignIn(attempt: attempt, outcome: .failed)
            logger.warning("admin sign-in failed for \(name) from \(client.loggedAddress)")
            return .refused
        }
        try await store.settleSignIn(
            attempt: attempt,
            outcome: .succeeded(clearing: ["user:" + account] + keys.filter { $0.hasPrefix("device:") }))
        let id = Self.randomToken()
        let session = AdminSession(
            idHash: Self.hash(id), user: name, csrfToken: Self.randomToken(), created: now, lastSeen: now)
        try await store.createSession(session)
        let deviceID = device ?? Self.randomToken()
        if device == nil { try await store.rememberDevice(idHash: Self.hash(deviceID), user: account, at: now) }
        logger.notice("admin sign-in: \(name) from \(client.loggedAddress)")
        return .signedIn(
            cookies: [cookie(value: id, client: client), deviceCookie(account: account, id: deviceID, client: client)],
            session: session)
    }

    /// The device id in `request`'s device cookie, if the cookie is ours and names `account`.
    func deviceID(in request: Request, account: String) -> String? {
        guard let value = request.cookies[Self.deviceCookieName]?.value, value.utf8.count <= 200 else { return nil }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count == 43, let mac = Self.base64URLDecoded(String(parts[1])) else {
            return nil
        }
        let id = String(parts[0])
        guard
            HMAC<SHA256>.isValidAuthenticationCode(
                mac, authenticating: Self.deviceMessage(account: account, id: id), using: SymmetricKey(data: deviceKey))
        else { return nil }
        return id
    }

    /// A year-long cookie that marks this browser as one that signed in to `account`.
    private func deviceCookie(account: String, id: String, client: ClientIdentity) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Self.deviceMessage(account: account, id: id), using: SymmetricKey(data: deviceKey))
        var cookie = "\(Self.deviceCookieName)=\(id).\(Self.base64URL(Array(mac))); Path=/admin/login; HttpOnly; "
        cookie += "SameSite=Strict; Max-Age=31536000"
        if client.isHTTPS { cookie += "; Secure" }
        return cookie
    }

    private static func deviceMessage(account: String, id: String) -> [UInt8] { Array("\(id)|\(account)".utf8) }

    /// The session `request` carries, if it is valid and not idle too long.
    func session(_ request: Request) async throws -> AdminSession? {
        guard let id = request.cookies[Self.cookieName]?.value, !id.isEmpty, id.count <= 100 else { return nil }
        return try await store.session(idHash: Self.hash(id), at: Date(), idleLimit: idleLimit.seconds)
    }

    /// Ends `session` and returns the cookie that removes it from the browser.
    func signOut(_ session: AdminSession, client: ClientIdentity) async throws -> String {
        try await store.endSession(idHash: session.idHash)
        logger.notice("admin sign-out: \(session.user) from \(client.loggedAddress)")
        return cookie(value: "", client: client, maxAge: 0)
    }

    /// Whether a form's `token` is `session`'s CSRF token (compared in constant time).
    static func csrfMatches(_ token: String?, _ session: AdminSession) -> Bool {
        guard let token else { return false }
        let (given, expected) = (Array(token.utf8), Array(session.csrfToken.utf8))
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private func cookie(value: String, client: ClientIdentity, maxAge: Int? = nil) -> String {
        var cookie = "\(Self.cookieName)=\(value); Path=/admin; HttpOnly; SameSite=Strict"
        if let maxAge { cookie += "; Max-Age=\(maxAge)" }
        if client.isHTTPS { cookie += "; Secure" }
        return cookie
    }

    /// 256 random bits, base64url without padding (43 characters).
    static func randomToken() -> String { base64URL(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }) }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecoded(_ text: String) -> Data? {
        guard text.utf8.count <= 100 else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        return Data(base64Encoded: standard)
    }

    static func hash(_ id: String) -> String {
        SHA256.hash(data: Array(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Password hashing's own small budget: bcrypt at cost 12 takes a quarter of a second of a core,
/// so a burst of sign-ins must neither wait on nor hold the blocking pool that serves static
/// files, charts and pre-render. `concurrent` checks run on threads of their own, at most
/// `queued` more wait, and beyond that a sign-in is answered 503 at once. `reservedForKnownDevices`
/// more places are kept for browsers that signed in before, so a flood from unknown clients
/// cannot keep an operator's device out.
final class PasswordChecks: Sendable {
    /// A place in the budget, taken before the attempt is reserved in the store.
    struct Admission: Sendable {
        fileprivate let owner: PasswordChecks

        /// Runs `check` on a password thread.
        func check(_ check: @escaping @Sendable () -> Bool) async throws -> Bool { try await owner.pool.run(check) }

        /// Gives the place back.
        func release() { owner.admitted.subtract(1, ordering: .releasing) }
    }

    fileprivate let pool: BlockingThreadPool
    fileprivate let admitted = Atomic<Int>(0)
    let limit: Int, knownDeviceLimit: Int

    init(concurrent: Int = 2, queued: Int = 8, reservedForKnownDevices: Int = 4) {
        pool = BlockingThreadPool(threadCount: max(1, concurrent), name: "passwords")
        limit = max(1, concurrent) + max(0, queued)
        knownDeviceLimit = limit + max(0, reservedForKnownDevices)
    }

    /// A place in the budget.
    /// - Throws: `ServiceError` 503 with `Retry-After` when the budget is spent.
    func admit(knownDevice: Bool) throws -> Admission {
        guard admitted.add(1, ordering: .acquiring).newValue <= (knownDevice ? knownDeviceLimit : limit) else {
            admitted.subtract(1, ordering: .releasing)
            throw ServiceError(
                .serviceUnavailable, code: .busy, title: "Please try again",
                "Too many sign-ins are being checked right now. Wait a few seconds and sign in again.",
                headers: [.retryAfter: "2"])
        }
        return Admission(owner: self)
    }

    /// Stops the threads once the server has stopped.
    func shutdown() { pool.shutdown() }
}
