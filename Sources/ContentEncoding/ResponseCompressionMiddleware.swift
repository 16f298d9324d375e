import HTTPTypes
import Hummingbird
import NIOCore

/// gzip for responses made per request (forms, admin pages, JSON): compresses a compressible body
/// of known length when the client accepts gzip, and marks every compressible response
/// `Vary: Accept-Encoding`.
///
/// A response that already varies by `Accept-Encoding` was negotiated by its route (cached pages
/// and static files carry a gzip form made once) and passes untouched, as do partial content,
/// bodies of unknown length and bodies outside `compressedSizes`.
public struct ResponseCompressionMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The body sizes compressed per request. Smaller ones gain nothing; larger ones would hold a
    /// cooperative thread for milliseconds.
    public var compressedSizes: ClosedRange<Int>
    /// zlib's level for per-request compression: 6 is zlib's own balance of time and size.
    public var level: Int32

    /// Paths under these prefixes are never compressed: their pages carry secrets (CSRF tokens),
    /// and compressing a secret beside text an attacker can influence leaks it (BREACH).
    public var uncompressedPrefixes: [String]

    /// Compresses bodies of `compressedSizes` bytes at `level`, except under `uncompressedPrefixes`.
    /// The ceiling is 128 KB: larger bodies made per request would cost a client's request
    /// milliseconds of a cooperative thread each.
    public init(
        compressedSizes: ClosedRange<Int> = EncodedBody.minimumCompressedSize...(128 << 10), level: Int32 = 6,
        uncompressedPrefixes: [String] = ["/admin"]
    ) {
        self.compressedSizes = compressedSizes
        self.level = level
        self.uncompressedPrefixes = uncompressedPrefixes
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        // HEAD is answered as GET, then the body dropped: its headers must be those of the GET,
        // and the gzip form's length is known only once it is made.
        guard request.method == .head else { return try await compressed(request, context: context, next: next) }
        var head = request.head
        head.method = .get
        let response = try await compressed(Request(head: head, body: request.body), context: context, next: next)
        var headers = response.headers
        if headers[.contentLength] == nil, let length = response.body.contentLength {
            headers[.contentLength] = String(length)
        }
        return Response(status: response.status, headers: headers, body: .init())
    }

    func compressed(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var response = try await next(request, context)
        let path = request.uri.path
        if uncompressedPrefixes.contains(where: { path == $0 || path.hasPrefix($0 + "/") }) { return response }
        guard response.headers[.contentEncoding] == nil, let type = response.headers[.contentType],
            CompressibleContent.isCompressible(type), response.status != .partialContent,
            response.status != .notModified, response.status != .noContent
        else { return response }
        if let vary = response.headers[.vary], Self.varies(vary, by: "accept-encoding") { return response }
        response.headers[.vary] = response.headers[.vary].map { $0 + ", Accept-Encoding" } ?? "Accept-Encoding"
        guard AcceptEncoding.allowsGzip(request.headers[.acceptEncoding]),
            let length = response.body.contentLength, compressedSizes.contains(length)
        else { return response }
        let collected = CollectedBody(limit: compressedSizes.upperBound)
        try await response.body.write(collected)
        let bytes = collected.storage.buffer
        guard !collected.storage.overflowed,
            let compressed = bytes.withUnsafeReadableBytes({ Gzip.compress($0, level: level) }),
            compressed.count < bytes.readableBytes
        else {
            response.body = .init(byteBuffer: bytes)
            return response
        }
        response.headers[.contentEncoding] = "gzip"
        response.headers[.contentLength] = nil
        if let etag = response.headers[.eTag] { response.headers[.eTag] = EncodedBody.gzipETag(etag) }
        response.body = .init(byteBuffer: ByteBuffer(bytes: compressed))
        return response
    }

    /// Whether a `Vary` value names `field` (lowercase).
    static func varies(_ vary: String, by field: String) -> Bool {
        vary.split(separator: ",").contains { $0.trimmingCharacters(in: " \t").lowercased() == field || $0 == "*" }
    }
}

/// A body writer that keeps what it is given, up to a limit.
private struct CollectedBody: ResponseBodyWriter {
    final class Storage {
        var buffer = ByteBuffer()
        var overflowed = false
    }
    let storage = Storage()
    let limit: Int

    init(limit: Int) { self.limit = limit }

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        storage.buffer.writeBuffer(&buffer)
        if storage.buffer.readableBytes > limit { storage.overflowed = true }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

extension Substring {
    fileprivate func trimmingCharacters(in characters: String) -> Substring {
        var text = self
        while let first = text.first, characters.contains(first) { text = text.dropFirst() }
        while let last = text.last, characters.contains(last) { text = text.dropLast() }
        return text
    }
}
