import ChartCache
import Crypto
import Foundation
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
/// form. Failed sign-ins are throttled per account and per client address.
final class AdminAuthentication: Sendable {
    static let cookieName = "surveycharts_session"

    let store: any SurveyStore
    let pool: BlockingThreadPool
    let logger: Logger
    let idleLimit: Duration
    let trustedProxies: Set<String>
    let throttle: LoginThrottle
    /// A hash to check against when the account does not exist, so that a wrong name takes as long
    /// as a wrong password and names cannot be discovered by timing.
    private let decoyHash: String

    init(
        store: any SurveyStore, pool: BlockingThreadPool, logger: Logger, idleLimit: Duration,
        trustedProxies: Set<String>, throttle: LoginThrottle
    ) {
        self.store = store
        self.pool = pool
        self.logger = logger
        self.idleLimit = idleLimit
        self.trustedProxies = trustedProxies
        self.throttle = throttle
        decoyHash = OperatorPasswords.hash(OperatorPasswords.random())
    }

    /// The outcome of a sign-in attempt.
    enum SignIn {
        case signedIn(cookie: String, session: AdminSession)
        case refused
        case throttled(retryAfter: Int)
    }

    /// Checks `name` and `password` and, when they match, starts a session.
    func signIn(name: String, password: String, request: Request, client: String) async throws -> SignIn {
        let now = Date()
        let keys = ["user:" + name.lowercased(), "address:" + client]
        if let wait = throttle.retryAfter(keys, now: now) {
            logger.warning("admin sign-in throttled for \(name) from \(client): retry in \(wait) s")
            return .throttled(retryAfter: wait)
        }
        let stored = try await store.passwordHash(user: name)
        let decoy = decoyHash
        let matches = try await pool.run {
            OperatorPasswords.verify(password, hash: stored ?? decoy) && stored != nil
        }
        guard matches else {
            throttle.recordFailure(keys, now: now)
            logger.warning("admin sign-in failed for \(name) from \(client)")
            return .refused
        }
        throttle.clear(keys[0])
        let id = Self.randomToken()
        let session = AdminSession(
            idHash: Self.hash(id), user: name, csrfToken: Self.randomToken(), created: now, lastSeen: now)
        try await store.createSession(session)
        logger.notice("admin sign-in: \(name) from \(client)")
        return .signedIn(cookie: cookie(value: id, request: request, client: client), session: session)
    }

    /// The session `request` carries, if it is valid and not idle too long.
    func session(_ request: Request) async throws -> AdminSession? {
        guard let id = request.cookies[Self.cookieName]?.value, !id.isEmpty, id.count <= 100 else { return nil }
        return try await store.session(idHash: Self.hash(id), at: Date(), idleLimit: idleLimit.seconds)
    }

    /// Ends `session` and returns the cookie that removes it from the browser.
    func signOut(_ session: AdminSession, request: Request, client: String) async throws -> String {
        try await store.endSession(idHash: session.idHash)
        logger.notice("admin sign-out: \(session.user) from \(client)")
        return cookie(value: "", request: request, client: client, maxAge: 0)
    }

    /// Whether a form's `token` is `session`'s CSRF token (compared in constant time).
    static func csrfMatches(_ token: String?, _ session: AdminSession) -> Bool {
        guard let token else { return false }
        let (given, expected) = (Array(token.utf8), Array(session.csrfToken.utf8))
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether the request reached us over HTTPS: only a trusted proxy may say so.
    func cameOverHTTPS(_ request: Request, client: String) -> Bool {
        trustedProxies.contains(client) && request.headers[.xForwardedProto]?.lowercased() == "https"
    }

    private func cookie(value: String, request: Request, client: String, maxAge: Int? = nil) -> String {
        var cookie = "\(Self.cookieName)=\(value); Path=/admin; HttpOnly; SameSite=Strict"
        if let maxAge { cookie += "; Max-Age=\(maxAge)" }
        if cameOverHTTPS(request, client: client) { cookie += "; Secure" }
        return cookie
    }

    static func randomToken() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ id: String) -> String {
        SHA256.hash(data: Array(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Failed sign-ins per key (an account, a client address): the sixth within ten minutes, and
/// every later one, waits until the oldest of the five is ten minutes old.
final class LoginThrottle: Sendable {
    let window: TimeInterval
    let allowed: Int
    private let failures = Mutex<[String: [Date]]>([:])

    init(window: TimeInterval = 600, allowed: Int = 5) {
        self.window = window
        self.allowed = allowed
    }

    /// Seconds to wait before trying again, or nil when a try is allowed now.
    func retryAfter(_ keys: [String], now: Date) -> Int? {
        failures.withLock { failures in
            var wait: TimeInterval = 0
            for key in keys {
                let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
                failures[key] = recent.isEmpty ? nil : recent
                if recent.count >= allowed, let oldest = recent.suffix(allowed).first {
                    wait = max(wait, window - now.timeIntervalSince(oldest))
                }
            }
            return wait > 0 ? max(1, Int(wait.rounded(.up))) : nil
        }
    }

    func recordFailure(_ keys: [String], now: Date) {
        failures.withLock { failures in
            for key in keys { failures[key, default: []].append(now) }
            // An attacker cycling names must not grow this without bound.
            if failures.count > 100_000 {
                failures = failures.filter { $0.value.contains { now.timeIntervalSince($0) < window } }
            }
        }
    }

    func clear(_ key: String) { failures.withLock { $0[key] = nil } }
}

extension HTTPField.Name {
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}
