import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Where a mount's files come from: a directory (`StaticFileStore`), or a source that makes some
/// of its files on demand (the application's charts).
public protocol StaticFileSource: Sendable {
    /// The file named by `segments` (already checked by `StaticFileRules`), or nil for a 404.
    func file(_ segments: [String]) async throws -> StaticFile?
    /// Streams `range` of a large file this source returned.
    func stream(_ file: StaticFile, range: Range<Int>, to writer: inout any ResponseBodyWriter) async throws
}

/// A URL prefix served from one source: `/static` from the static directory.
public struct StaticMount: Sendable {
    /// The prefix, without a trailing slash (`/static`).
    public var prefix: String
    /// Where its files come from.
    public var source: any StaticFileSource
    /// `prefix` and a slash, made once: the check runs on every request.
    public let directoryPrefix: String

    /// Serves `source` under `prefix`.
    public init(_ prefix: String, source: any StaticFileSource) {
        self.prefix = prefix
        self.source = source
        directoryPrefix = prefix + "/"
    }
}

/// Our static file handler (DESIGN "Static handler").
///
/// Hummingbird's `FileMiddleware` is not good enough: weak ETags, no suffix ranges, and it
/// refuses names such as `a..b.png`. This one decodes the path once, refuses hostile paths,
/// serves hot files from memory, and answers conditional and range requests.
public struct StaticFileMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The mounts, tried in order.
    public let mounts: [StaticMount]

    /// The Cache-Control of files whose names change with their content.
    public static var immutable: String { "public, max-age=31536000, immutable" }

    /// Serves `mounts`; every other path goes on to the router.
    public init(mounts: [StaticMount]) { self.mounts = mounts }

    // Inlinable so that it is specialised for the application's context, as if it were its own.
    @inlinable
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let path = request.uri.path
        for mount in mounts where path.hasPrefix(mount.directoryPrefix) || path == mount.prefix {
            return try await serve(request, rawPath: path.dropFirst(mount.prefix.utf8.count), from: mount.source)
        }
        return try await next(request, context)
    }

    @usableFromInline
    func serve(
        _ request: Request, rawPath: Substring, from source: any StaticFileSource
    ) async throws
        -> Response
    {
        guard request.method == .get || request.method == .head else {
            return Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD", .contentLength: "0"])
        }
        let segments: [String]
        do {
            segments = try StaticFileRules.segments(ofRawPath: rawPath.dropFirst())
        } catch {
            if case .malformed(let reason) = error { return Self.plain(.badRequest, "bad path: \(reason)") }
            return Self.plain(.notFound, "not found")
        }
        guard let file = try await source.file(segments) else { return Self.plain(.notFound, "not found") }
        let answer = file.answer(method: request.method, headers: request.headers)
        if file.streamedFrom != nil, let range = answer.range, !range.isEmpty {
            return Response(
                status: answer.status, headers: answer.headers,
                body: ResponseBody(contentLength: range.count) { writer in
                    try await source.stream(file, range: range, to: &writer)
                })
        }
        return Response(
            status: answer.status, headers: answer.headers, body: .init(byteBuffer: answer.body ?? ByteBuffer()))
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
