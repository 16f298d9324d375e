import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// How long a connection may keep the server waiting (`serve --header-timeout` and friends).
/// Connections that break one are closed and counted in `/metrics`.
public struct ConnectionTimeouts: Sendable, CustomStringConvertible {
    /// From the first byte of a request (or from accepting the connection) to its complete head.
    public var header: Duration = .seconds(10)
    /// The longest gap between two pieces of a request body.
    public var bodyIdle: Duration = .seconds(10)
    /// The slowest average a body may arrive at, once it has taken longer than `bodyIdle`.
    public var bodyMinimumBytesPerSecond = 1024
    /// How long a connection may sit idle between a response and the next request.
    public var keepAliveIdle: Duration = .seconds(60)
    /// How long a response may stay stuck because the client reads nothing.
    public var writeStall: Duration = .seconds(30)

    /// The defaults above.
    public init() {}

    public var description: String {
        "header \(header.seconds) s, body idle \(bodyIdle.seconds) s (at least \(bodyMinimumBytesPerSecond) B/s), "
            + "keep-alive \(keepAliveIdle.seconds) s, write stall \(writeStall.seconds) s"
    }
}

extension Duration {
    /// Whole and fractional seconds, for messages.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Closes connections that keep the server waiting: slow or stalled request heads (slowloris),
/// stalled or trickling bodies, idle keep-alive connections, and clients that stop reading.
///
/// It sits after the HTTP codec, where request boundaries are known, and puts a small
/// `ByteArrivalWatcher` in front of the codec to learn when a request starts arriving: the codec
/// says nothing until a head is complete. All state lives on the channel's event loop.
public final class ConnectionDeadlinesHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    /// Why a connection was closed, the label of `surveycharts_connections_timed_out_total`.
    public enum Reason: String, Sendable {
        case header, body
        case keepAlive = "keep_alive"
        case writeStall = "write_stall"
    }

    private enum Reading {
        /// Between requests: nothing of the next one has arrived.
        case awaitingRequest(since: NIODeadline, firstOnConnection: Bool)
        /// Bytes of a head have arrived, but not all of it.
        case readingHead(started: NIODeadline)
        /// A head with a body was read; its body is arriving.
        case readingBody(started: NIODeadline, lastPiece: NIODeadline, bytes: Int)
        /// The request is complete; the server is answering.
        case answering
    }

    private let timeouts: ConnectionTimeouts
    private let onTimeout: @Sendable (Reason) -> Void
    private var reading: Reading = .awaitingRequest(since: .now(), firstOnConnection: true)
    /// Requests whose response has not ended yet.
    private var unanswered = 0
    private var unwritableSince: NIODeadline?
    private var check: Scheduled<Void>?
    /// When `check` runs. A later deadline keeps it (it re-evaluates and re-arms when it runs), so a
    /// busy connection schedules a timer about once per timeout period, not on every request.
    private var checkAt: NIODeadline?

    public init(timeouts: ConnectionTimeouts, onTimeout: @escaping @Sendable (Reason) -> Void) {
        self.timeouts = timeouts
        self.onTimeout = onTimeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        // The loop's clock, not the wall clock: tests move an embedded loop's time.
        reading = .awaitingRequest(since: context.eventLoop.now, firstOnConnection: true)
        let watcher = ByteArrivalWatcher { [weak self] in self?.bytesArrived(context: context) }
        try? context.pipeline.syncOperations.addHandler(watcher, position: .first)
        rearm(context: context)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        checkAt = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        checkAt = nil
        context.fireChannelInactive()
    }

    /// The first bytes of a request start its header clock; later bytes feed the body clock.
    private func bytesArrived(context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        switch reading {
        case .awaitingRequest:
            reading = .readingHead(started: now)
            rearm(context: context)
        case .readingBody(let started, _, let bytes):
            reading = .readingBody(started: started, lastPiece: now, bytes: bytes)
        case .readingHead, .answering:
            break
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = context.eventLoop.now
        switch unwrapInboundIn(data) {
        case .head(let request):
            unanswered += 1
            let hasBody =
                (request.headerFields[.contentLength].flatMap(Int.init) ?? 0) > 0
                || request.headerFields[.transferEncoding] != nil
            reading = hasBody ? .readingBody(started: now, lastPiece: now, bytes: 0) : .answering
            rearm(context: context)
        case .body(let piece):
            if case .readingBody(let started, _, let bytes) = reading {
                reading = .readingBody(started: started, lastPiece: now, bytes: bytes + piece.readableBytes)
            }
        case .end:
            reading = .answering
            rearm(context: context)
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unanswered = max(0, unanswered - 1)
            if unanswered == 0, case .answering = reading {
                reading = .awaitingRequest(since: context.eventLoop.now, firstOnConnection: false)
            }
            rearm(context: context)
        }
        context.write(data, promise: promise)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        unwritableSince = context.channel.isWritable ? nil : context.eventLoop.now
        rearm(context: context)
        context.fireChannelWritabilityChanged()
    }

    /// The earliest moment a rule could be broken, and the rule. Runs a few times per request:
    /// no allocation.
    private func nextDeadline() -> (NIODeadline, Reason)? {
        var reading: (NIODeadline, Reason)?
        switch self.reading {
        case .awaitingRequest(let since, let first):
            if unanswered == 0 {
                reading =
                    first
                    ? (since + .init(timeouts.header), .header) : (since + .init(timeouts.keepAliveIdle), .keepAlive)
            }
        case .readingHead(let started):
            reading = (started + .init(timeouts.header), .header)
        case .readingBody(_, let lastPiece, _):
            reading = (lastPiece + .init(timeouts.bodyIdle), .body)
        case .answering:
            break
        }
        guard let unwritableSince else { return reading }
        let writing = (unwritableSince + .init(timeouts.writeStall), Reason.writeStall)
        guard let reading else { return writing }
        return reading.0 <= writing.0 ? reading : writing
    }

    /// Whether a rule is broken now (the body's minimum rate is checked here too).
    private func broken(at now: NIODeadline) -> Reason? {
        if case .readingBody(let started, _, let bytes) = reading, now - started > .init(timeouts.bodyIdle) {
            let seconds = Double((now - started).nanoseconds) / 1e9
            if Double(bytes) / seconds < Double(timeouts.bodyMinimumBytesPerSecond) { return .body }
        }
        guard let (deadline, reason) = nextDeadline(), deadline <= now else { return nil }
        return reason
    }

    private func rearm(context: ChannelHandlerContext, force: Bool = false) {
        guard var (deadline, _) = nextDeadline() else {
            // Nothing to watch now; a pending check finds nothing broken and stops.
            return
        }
        if case .readingBody = reading {
            // The rate rule has no single deadline: look again at least every idle period.
            deadline = min(deadline, context.eventLoop.now + .init(timeouts.bodyIdle))
        }
        if !force, check != nil, let checkAt, checkAt <= deadline { return }
        check?.cancel()
        checkAt = deadline
        // The task runs on this event loop, where the handler and its context belong.
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.check = nil
            handler.checkAt = nil
            if let reason = handler.broken(at: context.eventLoop.now) {
                handler.onTimeout(reason)
                context.close(promise: nil)
            } else {
                handler.rearm(context: context, force: true)
            }
        }
    }
}

/// Reports the arrival of bytes, before the HTTP codec turns them into requests.
final class ByteArrivalWatcher: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let arrived: () -> Void

    init(_ arrived: @escaping () -> Void) { self.arrived = arrived }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arrived()
        context.fireChannelRead(data)
    }
}
