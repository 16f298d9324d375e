import ContentEncoding
import Foundation
import TestSupport
import Testing

/// gzip over HTTP against the real server: what a browser that sends `Accept-Encoding: gzip`
/// gets for each kind of response, and what one that does not gets.
@Suite("Compression over HTTP", .timeLimit(.minutes(2)))
struct CompressionHTTPTests {
    static let browser = "gzip, deflate, br, zstd"
    static let accept = "text/html,application/xhtml+xml,*/*;q=0.8"

    /// The same bytes, compressed or not, for every compressible kind of response; both forms say
    /// they vary by `Accept-Encoding`, and each has its own ETag.
    @Test func textJSONCSSAndSVGAreGzippedForClientsThatTakeIt() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        let svg = try #require(try server.get("/surveys/1/charts/1.svg").header("Location"))
        let targets = [
            "/surveys/1", "/", "/surveys/1/results.json", "/surveys/2", "/static/hello.txt", svg,
            "/surveys/1/nonsense",
        ]
        for target in targets {
            let plain = try server.get(target, headers: ["Accept": Self.accept])
            let compressed = try server.get(target, headers: ["Accept-Encoding": Self.browser, "Accept": Self.accept])
            #expect(compressed.status == plain.status, "\(target)")
            #expect(plain.header("Content-Encoding") == nil, "\(target)")
            #expect(compressed.header("Content-Encoding") == "gzip", "\(target)")
            #expect(compressed.header("Content-Length") == String(compressed.body.count), "\(target)")
            #expect(compressed.body.count < plain.body.count, "\(target)")
            // The vote form (/surveys/2) carries a new receipt each time it is served.
            #expect(
                Gzip.decompress(compressed.body, limit: 1 << 22).map(Self.withoutReceipt)
                    == Self.withoutReceipt(plain.body),
                "\(target): the gzip form is not the page's bytes")
            for response in [plain, compressed] {
                #expect(response.header("Vary")?.contains("Accept-Encoding") == true, "\(target)")
            }
            if let etag = plain.header("ETag") {
                #expect(compressed.header("ETag") == EncodedBody.gzipETag(etag), "\(target)")
                // Each ETag revalidates its own form only.
                let revalidated = try server.get(
                    target, headers: ["Accept-Encoding": Self.browser, "If-None-Match": compressed.header("ETag")!])
                #expect(revalidated.status == 304, "\(target)")
                let other = try server.get(target, headers: ["Accept-Encoding": "gzip", "If-None-Match": etag])
                #expect(other.status == 200 && other.header("Content-Encoding") == "gzip", "\(target)")
            }
            // HEAD says what GET would send.
            let head = try RawHTTP.send(
                port: server.port, method: "HEAD", target: target,
                headers: ["Accept-Encoding": Self.browser, "Accept": Self.accept])
            #expect(head.header("Content-Encoding") == "gzip", "\(target)")
            let length = try #require(head.header("Content-Length").flatMap { Int($0) }, "\(target)")
            if target == "/surveys/2" {
                // Another receipt: its 22 random characters compress to a byte or two more or less.
                #expect(abs(length - compressed.body.count) <= 4, "\(target)")
            } else {
                #expect(length == compressed.body.count, "\(target)")
            }
        }
    }

    /// `bytes` with the vote form's receipt value replaced by a fixed one.
    static func withoutReceipt(_ bytes: [UInt8]) -> [UInt8] {
        var text = String(decoding: bytes, as: UTF8.self)
        if let start = text.range(of: "name=\"receipt\" value=\"")?.upperBound {
            let end = text.index(start, offsetBy: 22, limitedBy: text.endIndex) ?? text.endIndex
            text.replaceSubrange(start..<end, with: String(repeating: "R", count: 22))
        }
        return Array(text.utf8)
    }

    @Test func pngsPdfsAndClientsThatRefuseGzipGetTheBytesAsTheyAre() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        for target in ["/surveys/1/charts/1.png", "/surveys/1/report.pdf"] {
            let location = try #require(try server.get(target).header("Location"), "\(target)")
            let file = try server.get(location, headers: ["Accept-Encoding": Self.browser])
            #expect(file.status == 200 && file.header("Content-Encoding") == nil, "\(location)")
            #expect(file.header("Vary") == nil, "\(location)")
        }
        // Operators' pages carry CSRF tokens: never compressed (BREACH).
        let admin = try server.get("/admin/login", headers: ["Accept-Encoding": Self.browser])
        #expect(admin.status == 200 && admin.header("Content-Encoding") == nil)
        for refusal in ["identity", "gzip;q=0", "br", "gzip;q=5"] {
            let page = try server.get("/surveys/1", headers: ["Accept-Encoding": refusal])
            #expect(page.status == 200 && page.header("Content-Encoding") == nil, "\(refusal)")
            #expect(page.text.contains("Television Trends"), "\(refusal)")
        }
    }
}
