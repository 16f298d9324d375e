import Foundation
import Logging
import NIOCore
import Synchronization

/// Keeps the listening socket from spinning when the process runs out of file descriptors, and
/// says so in the log once per interval.
///
/// The connection cap keeps descriptors free in normal operation, but they can still run out
/// (files held open, the limit lowered at run time). NIO then sees `accept` fail with `EMFILE`
/// and, because its read stays pending after a failed accept, polls the socket again at once:
/// one core at 100 % (measured: 3,600 failed `accept4` calls a second), and `AcceptBackoffHandler`
/// never gets the chance to pause. The remedy is the one libev and nginx-era servers use: keep one
/// descriptor in reserve. On `EMFILE` it is released, the next waiting connection is accepted and
/// closed unserved (shed), and the reserve is taken back; the accept that succeeded lets NIO's
/// back-off pause accepting for a second. A full server thus sheds one connection a second and
/// keeps serving those it has, instead of burning a core.
public final class AcceptExhaustionHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = Channel
    public typealias InboundOut = Channel

    private let logger: Logger
    private let onShed: @Sendable () -> Void
    private let reserve: ReserveDescriptor
    private var shedNext = false
    /// The connection being shed, closed once NIO's accept loop has ended: closed sooner, its
    /// descriptor would go to the loop's next accept instead of back to the reserve.
    private var shedding: Channel?
    private var failuresSinceLog = 0
    private var lastLog: NIODeadline?
    static let logInterval = TimeAmount.seconds(10)

    public init(logger: Logger, reserve: ReserveDescriptor, onShed: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.reserve = reserve
        self.onShed = onShed
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? IOError, error.errnoCode == EMFILE || error.errnoCode == ENFILE {
            failuresSinceLog += 1
            let now = NIODeadline.now()
            if lastLog.map({ now - $0 >= Self.logInterval }) ?? true {
                logger.error(
                    """
                    accept: out of file descriptors (\(failuresSinceLog) failed accepts since the last report); \
                    shedding waiting connections, one a second. Raise the limit (ulimit -n) or lower --max-connections
                    """)
                lastLog = now
                failuresSinceLog = 0
            }
            if reserve.release() { shedNext = true }
        }
        context.fireErrorCaught(error)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard shedNext else {
            context.fireChannelRead(data)
            return
        }
        shedNext = false
        shedding = unwrapInboundIn(data)
        onShed()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if let accepted = shedding {
            shedding = nil
            let reserve = self.reserve
            accepted.closeFuture.whenComplete { _ in reserve.take() }
            accepted.close(promise: nil)
        }
        context.fireChannelReadComplete()
    }
}

/// One open descriptor (of `/dev/null`) held back so that it can be given up when the process
/// has none left.
public final class ReserveDescriptor: Sendable {
    private let descriptor = Mutex<Int32>(-1)

    public init() { take() }

    /// Opens the reserve again if it is not held.
    func take() {
        descriptor.withLock { descriptor in
            if descriptor < 0 { descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC) }
        }
    }

    /// Closes the reserve; false when it was not held.
    func release() -> Bool {
        descriptor.withLock { descriptor in
            guard descriptor >= 0 else { return false }
            close(descriptor)
            descriptor = -1
            return true
        }
    }
}
