import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization
import Testing

@testable import HTTPHardening

/// The request-head rules on `EmbeddedChannel`, with the real HTTP/1 codec in front of them.
@Suite("Request head rules (EmbeddedChannel)")
struct RequestHeadRulesTests {
    /// A channel as Hummingbird builds it: HTTP/1 codec, then the rules.
    func channel(maximumBodyBytes: Int = 1000) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let operations = channel.pipeline.syncOperations
        try operations.configureHTTPServerPipeline(withErrorHandling: false)
        try operations.addHandler(RequestHeadRulesHandler(maximumBodyBytes: maximumBodyBytes))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func send(_ text: String, to channel: EmbeddedChannel) throws {
        try channel.writeInbound(channel.allocator.buffer(string: text))
    }

    /// Everything the handler wrote back, as text.
    func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return text
    }

    func forwardedHead(_ channel: EmbeddedChannel) throws -> HTTPRequestHead? {
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            if case .head(let head) = part { return head }
        }
        return nil
    }

    @Test func anHTTP11RequestWithoutHostIsRefusedAndTheConnectionCloses() throws {
        let channel = try channel()
        try send("GET / HTTP/1.1\r\n\r\n", to: channel)
        let answer = try written(channel)
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(answer)")
        #expect(answer.contains("HTTP/1.1 requests need a Host header."))
        #expect(answer.lowercased().contains("connection: close"))
        #expect(try forwardedHead(channel) == nil, "the request must not reach the application")
        #expect(!channel.isActive)
    }

    @Test func twoHostHeadersAreRefused() throws {
        let channel = try channel()
        try send("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", to: channel)
        let answer = try written(channel)
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(answer)")
        #expect(answer.contains("more than one Host header"))
        #expect(try forwardedHead(channel) == nil)
    }

    @Test func anHTTP10RequestNeedsNoHostAndOneHostIsPassedOn() throws {
        let old = try channel()
        try send("GET /a HTTP/1.0\r\n\r\n", to: old)
        #expect(try forwardedHead(old)?.uri == "/a")
        #expect(try written(old).isEmpty)
        let current = try channel()
        try send("GET /b HTTP/1.1\r\nHost: site.example\r\n\r\n", to: current)
        #expect(try forwardedHead(current)?.uri == "/b")
        #expect(try written(current).isEmpty)
        #expect(current.isActive)
    }

    @Test func expectContinueGetsItsInterimAnswerWhenTheBodyFits() throws {
        let channel = try channel(maximumBodyBytes: 1000)
        try send("POST /x HTTP/1.1\r\nHost: s\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n", to: channel)
        #expect(try written(channel) == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(try forwardedHead(channel)?.uri == "/x")
    }

    @Test func expectContinueWithTooLargeABodyGets413WithoutWaitingForIt() throws {
        let channel = try channel(maximumBodyBytes: 1000)
        // The refusal closes the connection while the decoder still expects the body; its
        // complaint about that is the close we want, not a failure.
        try? send("POST /x HTTP/1.1\r\nHost: s\r\nExpect: 100-continue\r\nContent-Length: 1001\r\n\r\n", to: channel)
        let answer = try written(channel)
        #expect(answer.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"), "\(answer)")
        #expect(!answer.contains("100 Continue"))
        #expect(try forwardedHead(channel) == nil)
        #expect(!channel.isActive)
    }
}

/// The connection deadlines on `EmbeddedChannel`: the loop's clock is moved by hand, so every
/// rule is shown to fire exactly when its period has passed, and not before.
@Suite("Connection deadlines (EmbeddedChannel)")
struct ConnectionDeadlinesTests {
    final class Reasons: Sendable {
        let seen = Mutex<[ConnectionDeadlinesHandler.Reason]>([])
        var all: [ConnectionDeadlinesHandler.Reason] { seen.withLock { $0 } }
    }

    static var timeouts: ConnectionTimeouts {
        var timeouts = ConnectionTimeouts()
        timeouts.header = .seconds(10)
        timeouts.bodyIdle = .seconds(10)
        timeouts.bodyMinimumBytesPerSecond = 100
        timeouts.keepAliveIdle = .seconds(60)
        timeouts.writeStall = .seconds(30)
        return timeouts
    }

    /// HTTP/1 codec, the conversion to HTTP types (as Hummingbird has it), then the deadlines.
    func channel(_ reasons: Reasons) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let operations = channel.pipeline.syncOperations
        try operations.configureHTTPServerPipeline(withErrorHandling: false)
        try operations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try operations.addHandler(
            ConnectionDeadlinesHandler(timeouts: Self.timeouts) { reason in reasons.seen.withLock { $0.append(reason) }
            })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func send(_ text: String, to channel: EmbeddedChannel) throws {
        try channel.writeInbound(channel.allocator.buffer(string: text))
        while try channel.readInbound(as: HTTPRequestPart.self) != nil {}
    }

    func answer(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok, headerFields: [.contentLength: "0"])))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        while try channel.readOutbound(as: ByteBuffer.self) != nil {}
    }

    func advance(_ channel: EmbeddedChannel, seconds: Int64) {
        channel.embeddedEventLoop.advanceTime(by: .seconds(seconds))
    }

    @Test func aConnectionThatSendsNothingIsClosedAfterTheHeaderTimeout() throws {
        let reasons = Reasons()
        let channel = try channel(reasons)
        advance(channel, seconds: 9)
        #expect(channel.isActive)
        advance(channel, seconds: 2)
        #expect(!channel.isActive)
        #expect(reasons.all == [.header])
    }

    @Test func aHeadThatStallsHalfWayIsClosedAfterTheHeaderTimeout() throws {
        let reasons = Reasons()
        let channel = try channel(reasons)
        advance(channel, seconds: 5)
        try send("GET / HTTP/1.1\r\nHo", to: channel)
        // The clock starts at the first byte: 9 s later the head is still allowed to finish.
        advance(channel, seconds: 9)
        #expect(channel.isActive)
        advance(channel, seconds: 2)
        #expect(!channel.isActive)
        #expect(reasons.all == [.header])
    }

    @Test func aRequestBeingAnsweredIsNeverTimedOutThenKeepAliveIdleApplies() throws {
        let reasons = Reasons()
        let channel = try channel(reasons)
        try send("GET / HTTP/1.1\r\nHost: s\r\n\r\n", to: channel)
        // A slow answer is the server's business, not the client's: no reading rule applies.
        advance(channel, seconds: 600)
        #expect(channel.isActive)
        #expect(reasons.all.isEmpty)
        try answer(channel)
        advance(channel, seconds: 59)
        #expect(channel.isActive)
        advance(channel, seconds: 2)
        #expect(!channel.isActive)
        #expect(reasons.all == [.keepAlive])
    }

    @Test func aBodyThatStopsArrivingIsClosedAfterTheBodyIdleTimeout() throws {
        let reasons = Reasons()
        let channel = try channel(reasons)
        try send("POST / HTTP/1.1\r\nHost: s\r\nContent-Length: 100000\r\n\r\n", to: channel)
        try send(String(repeating: "x", count: 5000), to: channel)
        advance(channel, seconds: 9)
        #expect(channel.isActive)
        advance(channel, seconds: 2)
        #expect(!channel.isActive)
        #expect(reasons.all == [.body])
    }

    @Test func aBodyTricklingBelowTheMinimumRateIsClosed() throws {
        let reasons = Reasons()
        let channel = try channel(reasons)
        try send("POST / HTTP/1.1\r\nHost: s\r\nContent-Length: 100000\r\n\r\n", to: channel)
        // A byte every 5 s is never idle for 10 s, but is far below 100 bytes a second.
        for _ in 0..<4 {
            advance(channel, seconds: 5)
            if channel.isActive { try send("x", to: channel) }
        }
        #expect(!channel.isActive)
        #expect(reasons.all == [.body])
    }
}

/// The connection limit derived from the descriptor limit.
@Suite("Descriptor limits")
struct DescriptorLimitRuleTests {
    @Test func aQuarterOfTheDescriptorsAndAtLeast64StayFree() {
        #expect(FileDescriptorLimit.defaultMaximumConnections(descriptors: 1024) == 768)
        #expect(FileDescriptorLimit.defaultMaximumConnections(descriptors: 200) == 136)
        #expect(FileDescriptorLimit.defaultMaximumConnections(descriptors: 10) == 1)
        let ceiling = FileDescriptorLimit.defaultMaximumConnections(
            descriptors: Int(clamping: FileDescriptorLimit.current().soft))
        #expect(FileDescriptorLimit.connectionLimit(asked: nil) == ceiling)
        #expect(FileDescriptorLimit.connectionLimit(asked: Int.max) == ceiling)
        #expect(FileDescriptorLimit.connectionLimit(asked: 5) == min(5, ceiling))
    }
}
