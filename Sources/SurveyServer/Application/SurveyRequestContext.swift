import Foundation
import Hummingbird
import NIOCore
import Surveys

/// The request context: Hummingbird's, plus who the client is (for logs and per-client limits).
public struct SurveyRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connected peer's address: the client, or a proxy in front of it.
    public let remoteAddress: SocketAddress?
    /// The client, as `ClientIdentityMiddleware` proved it (the peer until then).
    public var client: ClientIdentity
    /// What `OperatorSessionMiddleware` proved on the admin routes; nil elsewhere. One reference,
    /// so the context every request copies through its middleware stays small.
    var operatorProof: OperatorProof?
    /// How `ResponseEncodable` bodies (results.json, JSON errors) are written.
    public var responseEncoder: SurveyJSONEncoder { SurveyJSONEncoder() }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        client = ClientIdentity(
            peer: IPAddress(remoteAddress), headers: [:], proxies: TrustedProxies(), madeRequestID: "-")
    }

    /// The operator `OperatorSessionMiddleware` proved; only admin routes behind it call this.
    func requireOperator() throws -> AdminSession {
        guard let operatorProof else {
            throw ServiceError.unexpected(AdminRouteWithoutSession())
        }
        return operatorProof.session
    }

    /// A checked admin form's fields (same origin, the session's CSRF token); empty but for POSTs.
    var operatorForm: [(name: String, value: String)] { operatorProof?.form ?? [] }
}

/// The signed-in operator, and for a POST its checked form (the body has been read).
final class OperatorProof: Sendable {
    let session: AdminSession
    let form: [(name: String, value: String)]

    init(session: AdminSession, form: [(name: String, value: String)]) {
        self.session = session
        self.form = form
    }
}

/// An admin route was added outside the group that checks sessions: a bug of ours, a 500.
struct AdminRouteWithoutSession: Error, CustomStringConvertible {
    var description: String { "an admin route ran without OperatorSessionMiddleware" }
}

/// Every JSON body the service sends: sorted keys (stable bytes for caches and diffs), URLs with
/// their slashes as they are, `Content-Type: application/json` and `nosniff`.
public struct SurveyJSONEncoder: ResponseEncoder {
    /// Encodes `value` as a 200 response; callers change the status of errors.
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: .ok, headers: [.contentType: "application/json", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
