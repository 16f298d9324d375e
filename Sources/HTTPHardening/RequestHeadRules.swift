import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// RFC 9112 rules Hummingbird leaves to us, applied to each HTTP/1 request head before it is
/// converted to `HTTPRequest` (which keeps only one `Host`):
/// - an HTTP/1.1 request without `Host`, or with more than one, gets 400 and the connection closes;
/// - `Expect: 100-continue` gets its interim `100 Continue`, unless the announced body is larger
///   than the server accepts (the handler then answers 413 without waiting for it).
public final class RequestHeadRulesHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    let maximumBodyBytes: Int
    /// Set while a refused request's remaining parts are dropped.
    private var refusing = false

    public init(maximumBodyBytes: Int) { self.maximumBodyBytes = maximumBodyBytes }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let hosts = head.headers["Host"]
            if head.version.major == 1 && head.version.minor >= 1 && hosts.count != 1 {
                refuse(
                    context: context, version: head.version, status: .badRequest,
                    hosts.isEmpty
                        ? "HTTP/1.1 requests need a Host header.\n"
                        : "A request must not carry more than one Host header.\n")
                return
            }
            if head.headers["Expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                if let length = head.headers["Content-Length"].first.flatMap(Int.init), length > maximumBodyBytes {
                    refuse(
                        context: context, version: head.version, status: .payloadTooLarge,
                        "The request body is larger than \(maximumBodyBytes) bytes.\n")
                    return
                }
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
            context.fireChannelRead(data)
        case .body, .end:
            if !refusing { context.fireChannelRead(data) }
        }
    }

    private func refuse(
        context: ChannelHandlerContext, version: HTTPVersion, status: HTTPResponseStatus, _ message: String
    ) {
        refusing = true
        let body = context.channel.allocator.buffer(string: message)
        let headers: HTTPHeaders = [
            "Content-Type": "text/plain; charset=utf-8", "Content-Length": String(body.readableBytes),
            "Connection": "close", "X-Content-Type-Options": "nosniff",
        ]
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Hummingbird adds extra handlers after its HTTP/1 → HTTP types codec; this placeholder
    /// puts the rules in front of that codec, where the raw HTTP/1 head is still visible, and
    /// then only passes parts through.
    public final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        public typealias InboundIn = NIOAny
        let maximumBodyBytes: Int

        public init(maximumBodyBytes: Int) { self.maximumBodyBytes = maximumBodyBytes }

        public func handlerAdded(context: ChannelHandlerContext) {
            let operations = context.pipeline.syncOperations
            let rules = RequestHeadRulesHandler(maximumBodyBytes: maximumBodyBytes)
            if let codec = try? operations.context(handlerType: HTTP1ToHTTPServerCodec.self) {
                try? operations.addHandler(rules, position: .before(codec.handler))
            }
        }
    }
}
