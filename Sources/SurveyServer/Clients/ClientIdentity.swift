import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// An IPv4 or IPv6 address as its bytes (4 or 16). IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
/// are their IPv4 address, so one client has one form.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public let bytes: [UInt8]

    /// Parses the textual form of an address (no port, no brackets, no zone); nil for anything else.
    public init?(_ text: some StringProtocol) {
        let text = String(text)
        guard !text.isEmpty, text.utf8.count <= 45, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return nil
        }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            let all = withUnsafeBytes(of: &v6) { Array($0) }
            bytes =
                all.prefix(10).allSatisfy { $0 == 0 } && all[10] == 0xFF && all[11] == 0xFF ? Array(all[12...]) : all
        } else {
            return nil
        }
    }

    /// The address of a connected peer, if it has one (a Unix socket has none).
    public init?(_ address: SocketAddress?) {
        guard let text = address?.ipAddress else { return nil }
        self.init(text)
    }

    /// Whether this is an IPv4 address.
    public var isIPv4: Bool { bytes.count == 4 }

    /// The address as `inet_ntop` writes it.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = bytes.withUnsafeBytes { raw in
            inet_ntop(isIPv4 ? AF_INET : AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        guard written != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What per-client limits count: an IPv4 address, or an IPv6 address's /64, which one
    /// subscriber usually holds whole (so it cannot pose as 2^64 clients).
    public var limitKey: String {
        guard !isIPv4 else { return description }
        var network = bytes
        for index in 8..<16 { network[index] = 0 }
        return "\(IPAddress(unchecked: network))/64"
    }

    private init(unchecked bytes: [UInt8]) { self.bytes = bytes }
}

/// An address range in CIDR notation (`10.0.0.0/8`, `fd00::/8`), or one address.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the range.
    public let address: IPAddress
    /// How many leading bits every address in the range shares with `address`.
    public let prefixLength: Int

    /// Parses `address` or `address/length`; nil when either part is malformed or the length is
    /// longer than the address.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let bits = address.bytes.count * 8
        var length = bits
        if parts.count == 2 {
            guard parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(parts[1]),
                value <= bits
            else { return nil }
            length = value
        }
        self.address = address
        prefixLength = length
    }

    /// Whether `candidate` is in the range (an IPv4 address is never in an IPv6 range).
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        var remaining = prefixLength
        for (ours, theirs) in zip(address.bytes, candidate.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if ours & mask != theirs & mask { return false }
            remaining -= 8
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// The reverse proxies whose forwarding headers are believed (`--trusted-proxy`).
public struct TrustedProxies: Sendable, Hashable {
    /// The ranges; empty trusts no one, so forwarding headers are ignored.
    public var networks: [IPNetwork]

    /// Trusts `networks`.
    public init(_ networks: [IPNetwork] = []) { self.networks = networks }

    /// Parses addresses and CIDR ranges, separated by commas or given one per element.
    /// - Throws: `StartupError` naming the entry that is not an address or a range.
    public init(parsing entries: [String]) throws {
        var networks: [IPNetwork] = []
        for entry in entries.flatMap({ $0.split(separator: ",") }) {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard let network = IPNetwork(trimmed) else {
                throw StartupError(
                    "--trusted-proxy: \"\(trimmed)\" is not an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8"
                )
            }
            networks.append(network)
        }
        self.networks = networks
    }

    /// Whether `address` is one of the trusted proxies.
    public func trusts(_ address: IPAddress) -> Bool { networks.contains { $0.contains(address) } }

    /// The client behind `peer`: from a trusted peer, the right-most address in
    /// `X-Forwarded-For` that is not itself trusted (as nginx's realip module does with
    /// `real_ip_recursive on`); from anyone else, the peer itself.
    public func client(peer: IPAddress?, forwardedFor: [String]) -> IPAddress? {
        guard var client = peer, trusts(client) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
        for hop in hops.reversed() {
            // A hop that is not an address ends the chain: nothing left of it can be believed.
            guard let address = IPAddress(hop.trimmingCharacters(in: .whitespaces)) else { break }
            client = address
            if !trusts(address) { break }
        }
        return client
    }
}

/// Who sent a request, as proven by the connection and the trusted proxies in front of it; the
/// access log, every per-client limit and the `Secure` cookie flags use it.
public struct ClientIdentity: Sendable, Hashable {
    /// The client's address, nil only when the connection has none.
    public var address: IPAddress?
    /// Whether the client reached the site over HTTPS: only a trusted proxy may say so.
    public var isHTTPS: Bool
    /// The request's id: a trusted proxy's `X-Request-Id`, else one made here.
    public var requestID: String
    /// The id a trusted proxy gave the request, when it did: the same on each send of the request
    /// (nginx sends its `$request_id` again when it resends a ballot to another process).
    public var proxyRequestID: String?

    /// The address as logged, or `-`.
    public var loggedAddress: String { address.map(\.description) ?? "-" }

    /// The key per-client limits count under (an IPv6 client's /64).
    public var limitKey: String { address?.limitKey ?? "unknown" }

    /// The identity of a request that arrived from `peer` with `headers`.
    public init(peer: IPAddress?, headers: HTTPFields, proxies: TrustedProxies, madeRequestID: String) {
        let trusted = peer.map(proxies.trusts) ?? false
        address = proxies.client(peer: peer, forwardedFor: headers[values: .xForwardedFor])
        isHTTPS = trusted && headers[.xForwardedProto]?.lowercased() == "https"
        if trusted, let given = headers[.xRequestID], Self.isAcceptableRequestID(given) {
            requestID = given
            proxyRequestID = given
        } else {
            requestID = madeRequestID
        }
    }

    /// A request id from a proxy is kept only when it is short, printable and unquotable: it goes
    /// into log lines and pages.
    static func isAcceptableRequestID(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }
}

/// Puts the request's `ClientIdentity` on the context, and its id into the request's logger, so
/// every later middleware, handler and error line sees the same client and id.
struct ClientIdentityMiddleware: RouterMiddleware {
    let proxies: TrustedProxies

    func handle(
        _ request: Request, context: SurveyRequestContext,
        next: (Request, SurveyRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let identity = ClientIdentity(
            peer: IPAddress(context.remoteAddress), headers: request.headers, proxies: proxies,
            madeRequestID: context.id)
        context.client = identity
        context.logger[metadataKey: "hb.request.id"] = .string(identity.requestID)
        return try await next(request, context)
    }
}
