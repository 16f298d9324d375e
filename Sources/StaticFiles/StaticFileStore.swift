import ChartCache
import ContentEncoding
import Foundation
import HTTPHardening
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A file ready to send: its bytes (kept in memory, so hot files cost no disk I/O) and facts.
/// Large files keep only their facts and the path they are streamed from, so a slow client
/// holds a chunk of memory, not a copy of the file.
public struct StaticFile: Sendable {
    /// The whole file; empty when `streamedFrom` is set.
    public var bytes: ByteBuffer
    /// The path of a large file, read in chunks as the client takes them.
    public var streamedFrom: String?
    /// Size, date and strong ETag.
    public var facts: StaticFileRules.FileFacts
    /// The Content-Type.
    public var contentType: String
    /// The headers of a 200 answer, made once: ETag, Last-Modified, Content-Type, Cache-Control,
    /// nosniff, Accept-Ranges.
    public var headers: HTTPFields
    /// The same file gzip-compressed, made once when the file was read (text, CSS, JSON and SVG
    /// held in memory, when that saves at least a tenth): its own bytes, size, ETag and headers.
    public var gzipped: Gzipped?

    /// The gzip form of a file: a representation of its own, so ranges and ETags refer to its bytes.
    public final class Gzipped: Sendable {
        /// The compressed file.
        public let file: StaticFile
        init(_ file: StaticFile) { self.file = file }
    }

    init(
        bytes: ByteBuffer, streamedFrom: String? = nil, facts: StaticFileRules.FileFacts, contentType: String,
        cacheControl: String, compress: Bool = true
    ) {
        self.bytes = bytes
        self.streamedFrom = streamedFrom
        self.facts = facts
        self.contentType = contentType
        headers = [
            .eTag: facts.etag, .lastModified: StaticFileRules.httpDate(facts.modified), .contentType: contentType,
            .cacheControl: cacheControl, .xContentTypeOptions: "nosniff", .acceptRanges: "bytes",
        ]
        if contentType == "image/svg+xml" { headers[.contentSecurityPolicy] = StaticFileRules.svgPolicy }
        guard compress, streamedFrom == nil, CompressibleContent.isCompressible(contentType) else { return }
        headers[.vary] = "Accept-Encoding"
        let encoded = EncodedBody(bytes)
        guard let gzip = encoded.gzip else { return }
        var compressed = StaticFile(
            bytes: gzip,
            facts: .init(size: gzip.readableBytes, modified: facts.modified, etag: EncodedBody.gzipETag(facts.etag)),
            contentType: contentType, cacheControl: cacheControl, compress: false)
        compressed.headers[.contentEncoding] = "gzip"
        compressed.headers[.vary] = "Accept-Encoding"
        gzipped = Gzipped(compressed)
    }

    /// The bytes this file keeps in memory, its gzip form included.
    public var heldBytes: Int { bytes.readableBytes + (gzipped?.file.bytes.readableBytes ?? 0) }
}

extension StaticFile {
    /// Status, headers and body (nil for none, as for HEAD and 304) answering a request for this file.
    public func answer(
        method: HTTPRequest.Method, headers request: HTTPFields
    ) -> (
        status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer?, range: Range<Int>?
    ) {
        if let gzipped, AcceptEncoding.allowsGzip(request[.acceptEncoding]) {
            return gzipped.file.answer(method: method, headers: request)
        }
        let conditions = StaticFileRules.Conditions(
            ifNoneMatch: request[.ifNoneMatch], ifModifiedSince: request[.ifModifiedSince], range: request[.range],
            ifRange: request[.ifRange])
        var headers = self.headers
        var status = HTTPResponse.Status.ok
        var body: ByteBuffer? = self.bytes
        var bodyRange: Range<Int>? = 0..<self.facts.size
        switch StaticFileRules.plan(for: conditions, file: self.facts) {
        case .whole:
            headers[.contentLength] = String(self.facts.size)
        case .notModified:
            status = .notModified
            headers[.contentType] = nil
            body = nil
            bodyRange = nil
        case .unsatisfiable:
            status = .rangeNotSatisfiable
            headers[.contentType] = nil
            headers[.contentRange] = "bytes */\(self.facts.size)"
            headers[.contentLength] = "0"
            body = nil
            bodyRange = nil
        case .partial(let range):
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(self.facts.size)"
            headers[.contentLength] = String(range.count)
            bodyRange = range
            body =
                streamedFrom == nil
                ? self.bytes.getSlice(at: self.bytes.readerIndex + range.lowerBound, length: range.count) : nil
        }
        if method == .head {
            body = nil
            bodyRange = nil
        }
        if streamedFrom != nil { body = nil }
        return (status, headers, body, bodyRange)
    }

}

/// Files under one root directory, read on the blocking pool and kept in memory while small.
///
/// Every lookup resolves the real path (symlinks included) and refuses anything outside the
/// root, directories, and non-regular files. The memory copy is revalidated against the file's
/// inode, size and modification time, except for content-addressed roots whose files never change.
public final class StaticFileStore: StaticFileSource {
    /// The resolved root.
    public let root: String
    private let pool: BlockingThreadPool
    private let contentAddressed: Bool
    private let cacheControl: String
    private let maximumCachedFile: Int
    private let memory = Mutex(MemoryCache())

    private struct Entry {
        var file: StaticFile
        var identity: FileIdentity
        var lastUse: UInt64
    }

    /// The modification time stays two numbers, as `stat` gives it: as nanoseconds in one `Int`
    /// it overflowed for any file dated after April 2262, and every request for it trapped.
    private struct FileIdentity: Hashable {
        var device: UInt64, inode: UInt64, size: Int, modifiedSeconds: Int, modifiedNanoseconds: Int
    }

    private struct MemoryCache {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    /// Most bytes kept in memory per store.
    public static let memoryBudget = 64 << 20

    /// Opens a store on `root`, which must exist.
    /// - Parameter contentAddressed: files never change once published (the chart directory),
    ///   so a memory hit needs no `stat`.
    /// - Parameter cacheControl: the Cache-Control of every file.
    public init(
        root: String, pool: BlockingThreadPool, contentAddressed: Bool, cacheControl: String,
        maximumCachedFile: Int = 1 << 20
    ) throws {
        guard let resolved = realpath(root, nil) else {
            throw StaticFileError(
                .noSuchDirectory, "the directory \(root) does not exist; create it or pass another path")
        }
        self.root = String(cString: resolved)
        free(resolved)
        var status = stat()
        guard stat(self.root, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            throw StaticFileError(.noSuchDirectory, "\(root) is not a directory; pass the directory to serve")
        }
        self.pool = pool
        self.contentAddressed = contentAddressed
        self.cacheControl = cacheControl
        self.maximumCachedFile = maximumCachedFile
    }

    /// The file named by `segments` under the root, or nil when there is none to serve.
    public func file(_ segments: [String]) async throws -> StaticFile? {
        let relative = segments.joined(separator: "/")
        if contentAddressed,
            let cached = memory.withLock({ cache -> StaticFile? in
                cache.clock += 1
                cache.entries[relative]?.lastUse = cache.clock
                return cache.entries[relative]?.file
            })
        {
            return cached
        }
        return try await pool.run { [self] in try load(relative) }
    }

    /// Forgets a file (after it was removed from disk).
    public func forget(_ segments: [String]) {
        memory.withLock { cache in
            if let entry = cache.entries.removeValue(forKey: segments.joined(separator: "/")) {
                cache.bytes -= entry.file.heldBytes
            }
        }
    }

    /// Puts a file that was just published (a rendered chart) into memory (unless it is too
    /// large to keep), and returns it.
    @discardableResult
    public func remember(
        _ segments: [String], bytes: [UInt8], modified: Date, device: UInt64, inode: UInt64
    )
        -> StaticFile
    {
        let (seconds, nanoseconds) = Self.secondsAndNanoseconds(modified)
        let file = StaticFile(
            bytes: ByteBuffer(bytes: bytes),
            facts: .init(size: bytes.count, modified: seconds, etag: Self.etag(bytes)),
            contentType: StaticFileRules.contentType(forName: segments.last ?? ""), cacheControl: cacheControl)
        let identity = FileIdentity(
            device: device, inode: inode, size: bytes.count, modifiedSeconds: seconds,
            modifiedNanoseconds: nanoseconds)
        if bytes.count <= maximumCachedFile { store(segments.joined(separator: "/"), file: file, identity: identity) }
        return file
    }

    private func load(_ relative: String) throws -> StaticFile? {
        let path = root + "/" + relative
        guard let resolvedPointer = realpath(path, nil) else {
            try Self.checkResources(errno, path)
            return nil
        }
        let resolved = String(cString: resolvedPointer)
        free(resolvedPointer)
        // Symlinks may point anywhere; only files whose real path stays inside the root are served.
        guard resolved.hasPrefix(root + "/") else { return nil }
        let descriptor = open(resolved, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            try Self.checkResources(errno, resolved)
            return nil
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        let identity = FileIdentity(
            device: UInt64(status.st_dev), inode: UInt64(status.st_ino), size: Int(status.st_size),
            modifiedSeconds: Int(status.st_mtim.tv_sec), modifiedNanoseconds: Int(status.st_mtim.tv_nsec))
        if let cached = memory.withLock({ $0.entries[relative] }), cached.identity == identity {
            return cached.file
        }
        var bytes = [UInt8](repeating: 0, count: identity.size)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            offset += count
        }
        bytes.removeSubrange(offset...)
        let facts = StaticFileRules.FileFacts(
            size: bytes.count, modified: Int(status.st_mtim.tv_sec), etag: Self.etag(bytes))
        let contentType = StaticFileRules.contentType(forName: relative)
        if bytes.count > maximumCachedFile {
            // Large: remember only the facts (the ETag took one read); every answer streams the file.
            let file = StaticFile(
                bytes: ByteBuffer(), streamedFrom: resolved, facts: facts, contentType: contentType,
                cacheControl: cacheControl)
            store(relative, file: file, identity: identity)
            return file
        }
        let file = StaticFile(
            bytes: ByteBuffer(bytes: bytes), facts: facts, contentType: contentType, cacheControl: cacheControl)
        store(relative, file: file, identity: identity)
        return file
    }

    private func store(_ key: String, file: StaticFile, identity: FileIdentity) {
        memory.withLock { cache in
            cache.clock += 1
            if let old = cache.entries[key] { cache.bytes -= old.file.heldBytes }
            cache.entries[key] = Entry(file: file, identity: identity, lastUse: cache.clock)
            cache.bytes += file.heldBytes
            // Evict the least recently used until within budget.
            while cache.bytes > Self.memoryBudget,
                let oldest = cache.entries.min(by: { $0.value.lastUse < $1.value.lastUse })
            {
                cache.bytes -= oldest.value.file.heldBytes
                cache.entries.removeValue(forKey: oldest.key)
            }
        }
    }

    /// `date` as whole seconds since 1970, rounded down as `st_mtim.tv_sec` is, and the nanoseconds
    /// past them. A file may carry any date (`touch -d 2300-01-01`), and `Int(someDouble)` traps
    /// outside `Int`'s range: seconds beyond it clamp to `Int.min` or `Int.max`, NaN gives 0. The
    /// result only names a version of the file and dates it for `Last-Modified` (which clamps to
    /// the years HTTP can name), so clamping loses nothing that matters.
    static func secondsAndNanoseconds(_ date: Date) -> (seconds: Int, nanoseconds: Int) {
        let interval = date.timeIntervalSince1970
        guard !interval.isNaN else { return (0, 0) }
        let whole = interval.rounded(.down)
        // `Double(Int.max)` is 2^63, one more than `Int.max`; `Double(Int.min)` is exactly `Int.min`.
        guard whole < Double(Int.max) else { return (Int.max, 0) }
        guard whole >= Double(Int.min) else { return (Int.min, 0) }
        // In [0, 1e9): the fraction is in [0, 1).
        let nanoseconds = Int(((interval - whole) * 1e9).rounded(.down))
        return (Int(whole), min(max(nanoseconds, 0), 999_999_999))
    }

    /// A file that could not be opened for lack of descriptors or memory is the server's trouble,
    /// not a missing file: it is a 503, never a 404.
    static func checkResources(_ error: Int32, _ path: String) throws {
        if error == EMFILE || error == ENFILE || error == ENOMEM {
            throw StaticFileError(.resourcesExhausted, "cannot open \(path): \(String(cString: strerror(error)))")
        }
    }

    /// Streams `range` of the large file `file` to `writer`, one chunk at a time, each read on the
    /// blocking pool once `StreamedBytesBudget` has room for it.
    public func stream(_ file: StaticFile, range: Range<Int>, to writer: inout any ResponseBodyWriter) async throws {
        guard let path = file.streamedFrom else { return }
        let descriptor = try await pool.run { () -> Int32 in
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 { try Self.checkResources(errno, path) }
            return descriptor
        }
        guard descriptor >= 0 else { throw StaticFileError(.resourcesExhausted, "\(path) vanished while being served") }
        defer { close(descriptor) }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let (position, length) = (offset, min(Self.streamChunk, range.upperBound - offset))
            await StreamedBytesBudget.admit()
            let chunk = try await pool.run { () -> ByteBuffer in
                var buffer = StreamedBytesBudget.allocator.buffer(capacity: length)
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { target in
                    var count = -1
                    repeat {
                        count = pread(descriptor, target.baseAddress, length, off_t(position))
                    } while count < 0
                        && errno == EINTR
                    return max(0, count)
                }
                return buffer
            }
            guard chunk.readableBytes > 0 else { break }
            offset += chunk.readableBytes
            try await writer.write(chunk)
        }
        try await writer.finish(nil)
    }

    /// Bytes read and written per step when streaming a large file.
    static let streamChunk = 64 * 1024

    /// A strong ETag from the content, so every server in a cluster gives the same one.
    static func etag(_ bytes: [UInt8]) -> String { "\"\(ChartKey(material: bytes).shortHex)\"" }
}

/// A static file could not be served or a store could not be opened.
public struct StaticFileError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure.
    public enum Code: String, Sendable {
        /// The store's root does not exist (a start-up check).
        case noSuchDirectory = "no_such_directory"
        /// The process ran out of file descriptors or memory: HTTP 503 with `Retry-After`, never 404.
        case resourcesExhausted = "resources_exhausted"
    }

    /// What kind of failure.
    public var code: Code
    /// What is wrong and what to do.
    public var message: String
    /// Where in our sources it failed.
    public var location: String

    init(_ code: Code, _ message: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.location = "\(fileID):\(line)"
    }

    public var description: String { message }
}
