import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import ContentEncoding

@Suite("Accept-Encoding", .timeLimit(.minutes(1)))
struct AcceptEncodingTests {
    @Test func gzipIsTakenOnlyWhenTheClientGivesItAWeight() {
        let allowed = [
            "gzip", "GZIP", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8, *;q=0.1", "x-gzip", "*", "deflate, *;q=0.5",
            " gzip ", "gzip;q=0.001", "gzip ; q=1", ",gzip,", "identity, gzip;Q=0.5",
        ]
        for header in allowed { #expect(AcceptEncoding.allowsGzip(header), "\(header)") }
        let refused: [String?] = [
            nil, "", "identity", "br", "deflate, br", "gzip;q=0", "gzip;q=0.000", "*;q=0", "gzip;q=0, *",
            "br, *;q=0.5, gzip;q=0",
        ]
        for header in refused { #expect(!AcceptEncoding.allowsGzip(header), "\(header ?? "none")") }
    }

    /// A header that does not parse allows only identity, whatever else it says.
    @Test func malformedHeadersAllowOnlyIdentity() {
        let malformed = [
            "gzip;q=1.5", "gzip;q=2", "gzip;q=0.5555", "gzip;q=", "gzip;level=1", "gzip;q=1.001", "gzip q=1",
            "gzip;;q=1", "gzip;q=-0", "gz\u{E9}ip", "\"gzip\"", "gzip;q=0.5 x", String(repeating: "a", count: 5000),
        ]
        for header in malformed {
            #expect(AcceptEncoding.gzipWeight(Array(header.utf8)) == nil, "\(header)")
            #expect(!AcceptEncoding.allowsGzip(header), "\(header)")
        }
        #expect(AcceptEncoding.gzipWeight(Array("gzip;q=0.5, gzip;q=0.7".utf8)) == 700)
        #expect(AcceptEncoding.gzipWeight(Array("*;q=0.25".utf8)) == 250)
        #expect(AcceptEncoding.gzipWeight(Array("gzip;q=0.2, *;q=1".utf8)) == 200)
    }
}

@Suite("gzip bodies", .timeLimit(.minutes(1)))
struct GzipTests {
    @Test func compressedBodiesDecompressToTheirBytesAndSystemGzipAgrees() throws {
        let text = Array(String(repeating: "<li>Television Trends — 42 %</li>\n", count: 200).utf8)
        let compressed = try #require(Gzip.compress(text))
        #expect(compressed.count < text.count / 10)
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
        #expect(Gzip.decompress(compressed, limit: text.count) == text)
        #expect(Gzip.decompress(compressed, limit: text.count - 1) == nil, "content beyond the limit")
        #expect(Gzip.decompress(Array(compressed.dropLast()), limit: text.count) == nil, "a cut member")
        #expect(Gzip.decompress(compressed + [0], limit: text.count) == nil, "bytes after the member")
        // What a browser's decoder does, as the system's gzip.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("body.gz")
        try Data(compressed).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-d", "-c", file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let decoded = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(Array(decoded) == text)
        #expect(Gzip.compress([UInt8]()).map { Gzip.decompress($0, limit: 0) } == [])
    }

    @Test func aBodyKeepsAGzipFormOnlyWhenItSavesATenth() throws {
        let page = ByteBuffer(string: String(repeating: "<p>Results</p>", count: 100))
        let encoded = EncodedBody(page)
        let gzip = try #require(encoded.gzip)
        #expect(Gzip.decompress(Array(buffer: gzip), limit: 10_000) == Array(buffer: page))
        #expect(encoded.heldBytes == page.readableBytes + gzip.readableBytes)
        #expect(encoded.chosen(for: "gzip").isGzip)
        #expect(!encoded.chosen(for: "br").isGzip && encoded.chosen(for: "br").body == page)
        #expect(!encoded.chosen(for: nil).isGzip)
        // Too small, or already compressed (random bytes do not shrink), or not compressible.
        #expect(EncodedBody(ByteBuffer(string: "<p>short</p>")).gzip == nil)
        var random = SystemRandomNumberGenerator()
        let noise = ByteBuffer(bytes: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) })
        #expect(EncodedBody(noise).gzip == nil)
        #expect(EncodedBody(page, compressible: false).gzip == nil)
        #expect(EncodedBody.gzipETag("\"abc\"") == "\"abc-gzip\"")
        #expect(EncodedBody.gzipETag("W/\"abc\"") == "W/\"abc-gzip\"")
    }

    @Test func compressibleTypesAreTextJSONAndSVG() {
        for type in ["text/html; charset=utf-8", "text/css", "application/json", "image/svg+xml", "TEXT/PLAIN"] {
            #expect(CompressibleContent.isCompressible(type), "\(type)")
        }
        for type in ["image/png", "application/pdf", "application/octet-stream", "image/svg", "font/woff2"] {
            #expect(!CompressibleContent.isCompressible(type), "\(type)")
        }
    }
}

@Suite("Response compression middleware", .timeLimit(.minutes(1)))
struct ResponseCompressionMiddlewareTests {
    static let page = String(repeating: "<p>A page made per request.</p>\n", count: 50)

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: ResponseCompressionMiddleware())
        router.get("/page") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .eTag: "\"p1\""],
                body: .init(byteBuffer: ByteBuffer(string: Self.page)))
        }
        router.get("/negotiated") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html", .vary: "Accept-Language, Accept-Encoding"],
                body: .init(byteBuffer: ByteBuffer(string: Self.page)))
        }
        router.get("/png") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "image/png"],
                body: .init(byteBuffer: ByteBuffer(string: Self.page)))
        }
        router.get("/small") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok")))
        }
        router.get("/streamed") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: Self.page))
                    try await writer.finish(nil)
                })
        }
        return Application(router: router)
    }

    @Test func aCompressibleBodyIsGzippedForClientsThatTakeIt() async throws {
        try await application().test(.router) { client in
            try await client.execute(uri: "/page", method: .get, headers: [.acceptEncoding: "gzip, br"]) { response in
                #expect(response.headers[.contentEncoding] == "gzip")
                #expect(response.headers[.vary] == "Accept-Encoding")
                #expect(response.headers[.eTag] == "\"p1-gzip\"")
                #expect(Gzip.decompress(Array(buffer: response.body), limit: 1 << 20) == Array(Self.page.utf8))
                #expect(response.body.readableBytes < Self.page.utf8.count / 5)
            }
            try await client.execute(uri: "/page", method: .get, headers: [.acceptEncoding: "br;q=1, gzip;q=0"]) {
                response in
                #expect(response.headers[.contentEncoding] == nil)
                #expect(response.headers[.vary] == "Accept-Encoding", "identity varies too")
                #expect(response.headers[.eTag] == "\"p1\"")
                #expect(String(buffer: response.body) == Self.page)
            }
        }
    }

    @Test func negotiatedSmallUnknownLengthAndIncompressibleBodiesPassUntouched() async throws {
        try await application().test(.router) { client in
            for uri in ["/negotiated", "/png", "/small", "/streamed"] {
                try await client.execute(uri: uri, method: .get, headers: [.acceptEncoding: "gzip"]) { response in
                    #expect(response.headers[.contentEncoding] == nil, "\(uri)")
                    #expect(String(buffer: response.body) == (uri == "/small" ? "ok" : Self.page), "\(uri)")
                }
            }
            try await client.execute(uri: "/png", method: .get, headers: [.acceptEncoding: "gzip"]) { response in
                #expect(response.headers[.vary] == nil, "a PNG never varies by encoding")
            }
        }
    }
}
