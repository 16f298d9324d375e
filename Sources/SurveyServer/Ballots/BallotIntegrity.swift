import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Surveys

/// How many ballots one browser may cast in a survey (`serve --ballots-per-browser`).
public enum BallotsPerBrowser: String, Sendable, CaseIterable {
    /// One: a successful ballot sets a signed cookie, and a second ballot carrying it gets 409.
    case one
    /// Any number (kiosks, load tests that keep cookies).
    case any
}

/// The rules that keep ballots honest in browsers: no cross-site posts, and one ballot per
/// browser through a signed cookie. Clients that send neither `Origin` nor cookies (curl, load
/// tests) are not limited, so the seed's load test still counts exactly.
struct BallotIntegrity: Sendable {
    /// The name of the store secret that signs "voted" cookies.
    static let secretName = "ballot-cookie-key"

    /// The signing key's bytes (`SymmetricKey` is not `Sendable`; making one per use is cheap).
    let secret: [UInt8]
    let policy: BallotsPerBrowser

    /// Uses `secret` (at least 32 random bytes, shared by every process) to sign cookies.
    init(secret: [UInt8], policy: BallotsPerBrowser) {
        self.secret = secret
        self.policy = policy
    }

    /// 32 bytes from the system's cryptographic generator.
    static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Why a post is refused as cross-site, or nil when it may proceed. A post is cross-site when
    /// `Sec-Fetch-Site` says so, or when `Origin` is `null` or names another host than `Host`.
    static func crossSiteReason(_ request: Request) -> String? {
        if let site = request.headers[.secFetchSite], site.lowercased() == "cross-site" {
            return "the ballot came from another site (Sec-Fetch-Site: cross-site)"
        }
        guard let origin = request.headers[.origin] else { return nil }
        if origin == "null" { return "the ballot came from an opaque origin (Origin: null)" }
        guard let authority = request.head.authority,
            let components = URLComponents(string: origin), let host = components.host,
            components.path.isEmpty || components.path == "/"
        else { return "the ballot's Origin \(origin) cannot be checked" }
        let originAuthority = components.port.map { "\(host):\($0)" } ?? host
        guard originAuthority.lowercased() == authority.lowercased() else {
            return "the ballot came from \(origin), not from this site"
        }
        return nil
    }

    /// The cookie that marks survey `surveyID` as voted in, for this browser.
    static func cookieName(surveyID: Int64) -> String { "voted_\(surveyID)" }

    /// Whether `request` carries a valid "voted" cookie for survey `surveyID`. A forged or
    /// tampered cookie counts as none.
    func hasVoted(_ request: Request, surveyID: Int64) -> Bool {
        guard policy == .one, let value = request.cookies[Self.cookieName(surveyID: surveyID)]?.value else {
            return false
        }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let nonce = Self.base64URLDecoded(parts[0]), nonce.count == 16,
            let mac = Self.base64URLDecoded(parts[1])
        else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: Self.message(surveyID, nonce), using: SymmetricKey(data: secret))
    }

    /// The `Set-Cookie` value recorded after a successful ballot, or nil when the policy is `any`.
    func votedCookie(surveyID: Int64, secure: Bool) -> String? {
        guard policy == .one else { return nil }
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let mac = HMAC<SHA256>.authenticationCode(for: Self.message(surveyID, nonce), using: SymmetricKey(data: secret))
        let value = Self.base64URL(nonce) + "." + Self.base64URL(Array(mac))
        // Path-scoped, so a browser sends it only to the survey it belongs to; 400 days is the
        // longest lifetime browsers keep.
        return "\(Self.cookieName(surveyID: surveyID))=\(value); Path=/surveys/\(surveyID); Max-Age=34560000; "
            + "HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "")
    }

    private static func message(_ surveyID: Int64, _ nonce: [UInt8]) -> [UInt8] {
        Array("surveycharts voted \(surveyID) ".utf8) + nonce
    }

    // MARK: Receipts this browser was answered for

    /// The cookie that lists the receipts of the last ballots this browser was answered 303 for.
    static func sentCookieName(surveyID: Int64) -> String { "sent_\(surveyID)" }

    /// How many receipts the "sent" cookie keeps.
    static let sentReceiptsKept = 8

    /// The receipts `request`'s browser was told were counted (newest last). A form posted again
    /// with one of them is not a resend (the browser had its answer): it is the next person at a
    /// kiosk, on a form the browser restored from its back/forward cache. Malformed: none.
    func sentReceipts(_ request: Request, surveyID: Int64) -> [BallotReceipt] {
        guard let value = request.cookies[Self.sentCookieName(surveyID: surveyID)]?.value else { return [] }
        let receipts = value.split(separator: ".", omittingEmptySubsequences: false).compactMap { BallotReceipt($0) }
        return receipts.count <= Self.sentReceiptsKept ? receipts : []
    }

    /// The "sent" cookie after a 303 for `receipt`.
    func sentCookie(_ previous: [BallotReceipt], adding receipt: BallotReceipt, surveyID: Int64, secure: Bool) -> String
    {
        let kept = (previous.filter { $0 != receipt } + [receipt]).suffix(Self.sentReceiptsKept)
        return "\(Self.sentCookieName(surveyID: surveyID))=\(kept.map(\.text).joined(separator: ".")); "
            + "Path=/surveys/\(surveyID); Max-Age=86400; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "")
    }

    // MARK: The ballot token: one ballot per browser, decided by the store

    /// The cookie the vote form sets: this browser's signed, random ballot token for the survey.
    static func tokenCookieName(surveyID: Int64) -> String { "ballot_\(surveyID)" }

    /// Who the store records the ballot as: a hash of the browser's valid ballot token, or nil
    /// (no token, a forged one, or the `any` policy). The store keeps one ballot per browser in
    /// the ballot's transaction, so two posted at the same instant cannot both count.
    func browser(_ request: Request, surveyID: Int64) -> String? {
        guard policy == .one, let value = request.cookies[Self.tokenCookieName(surveyID: surveyID)]?.value,
            let nonce = verified(value, message: { Self.tokenMessage(surveyID, $0) })
        else { return nil }
        return SHA256.hash(data: nonce).map { String(format: "%02x", $0) }.joined()
    }

    /// The `Set-Cookie` for the vote form when the browser holds no valid ballot token yet (nil
    /// when it has one, so two tabs of one browser share one token).
    func tokenCookie(_ request: Request, surveyID: Int64, secure: Bool) -> String? {
        guard policy == .one, browser(request, surveyID: surveyID) == nil else { return nil }
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Self.tokenMessage(surveyID, nonce), using: SymmetricKey(data: secret))
        return "\(Self.tokenCookieName(surveyID: surveyID))=\(Self.base64URL(nonce)).\(Self.base64URL(Array(mac))); "
            + "Path=/surveys/\(surveyID); Max-Age=34560000; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "")
    }

    private static func tokenMessage(_ surveyID: Int64, _ nonce: [UInt8]) -> [UInt8] {
        Array("surveycharts ballot \(surveyID) ".utf8) + nonce
    }

    /// The 16-byte nonce of `value` (`nonce.mac`, base64url) when its MAC over `message` is ours.
    private func verified(_ value: String, message: ([UInt8]) -> [UInt8]) -> [UInt8]? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard value.utf8.count <= 100, parts.count == 2, let nonce = Self.base64URLDecoded(parts[0]),
            nonce.count == 16, let mac = Self.base64URLDecoded(parts[1]),
            HMAC<SHA256>.isValidAuthenticationCode(
                mac, authenticating: message(nonce), using: SymmetricKey(data: secret))
        else { return nil }
        return nonce
    }

    /// Base64url without padding (RFC 4648 §5), written out: Foundation's encoder plus three
    /// `replacingOccurrences` cost a tenth of a ballot.
    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0...chunk.count {
                encoded.append(alphabet[Int(value >> (18 - 6 * UInt32(position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    static func base64URLDecoded(_ text: Substring) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            return nil
        }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
