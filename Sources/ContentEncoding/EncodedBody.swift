import NIOCore

/// A body kept for many responses, with its gzip form made once when it is worth sending.
public struct EncodedBody: Sendable {
    /// The body as it is.
    public let identity: ByteBuffer
    /// The body gzip-compressed (level 9), or nil when that would not save at least a tenth.
    public let gzip: ByteBuffer?

    /// Bodies smaller than this are sent as they are: the gzip header and a round trip's worth of
    /// headers outweigh what compression could save.
    public static let minimumCompressedSize = 256

    /// `identity`, with its gzip form when the content type is worth compressing.
    public init(_ identity: ByteBuffer, compressible: Bool = true) {
        self.identity = identity
        guard compressible, identity.readableBytes >= Self.minimumCompressedSize,
            let compressed = identity.withUnsafeReadableBytes({ Gzip.compress($0, level: 9) }),
            compressed.count <= identity.readableBytes - identity.readableBytes / 10
        else {
            gzip = nil
            return
        }
        gzip = ByteBuffer(bytes: compressed)
    }

    /// The bytes held: both forms.
    public var heldBytes: Int { identity.readableBytes + (gzip?.readableBytes ?? 0) }

    /// The form to send to a request whose `Accept-Encoding` is `acceptEncoding`: gzip when the
    /// client takes it and it exists.
    public func chosen(for acceptEncoding: String?) -> (body: ByteBuffer, isGzip: Bool) {
        if let gzip, AcceptEncoding.allowsGzip(acceptEncoding) { return (gzip, true) }
        return (identity, false)
    }

    /// The strong ETag `etag` (`"…"` or `W/"…"`) of the gzip form: representations that differ in
    /// their bytes must differ in their ETags (RFC 9110 §8.8.3).
    public static func gzipETag(_ etag: String) -> String {
        guard etag.hasSuffix("\"") else { return etag }
        return String(etag.dropLast()) + "-gzip\""
    }
}

/// Content types that compress: text, JSON and SVG. PNG, PDF and fonts are compressed already.
public enum CompressibleContent {
    /// Whether a body of `contentType` (parameters allowed) is worth gzip.
    public static func isCompressible(_ contentType: String) -> Bool {
        let type = contentType.prefix { $0 != ";" }.trimmingSpaces.lowercased()
        if type.hasPrefix("text/") { return true }
        switch type {
        case "application/json", "application/problem+json", "application/javascript", "application/xml",
            "image/svg+xml", "application/manifest+json":
            return true
        default: return false
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
