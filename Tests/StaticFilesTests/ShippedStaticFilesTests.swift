import ContentEncoding
import Foundation
import Testing

/// The files in `static/` that nginx sends compressed (`gzip_static`, deploy/nginx.conf) have their
/// gzip file beside them, made from their current bytes (`make precompress`).
@Suite("Shipped static files", .timeLimit(.minutes(1)))
struct ShippedStaticFilesTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("static")

    @Test func everyTextFileHasItsGzipBesideIt() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path)
        let texts = names.filter { $0.hasSuffix(".css") || $0.hasSuffix(".js") || $0.hasSuffix(".svg") }
        #expect(!texts.isEmpty)
        for name in texts {
            let file = try Data(contentsOf: Self.directory.appendingPathComponent(name))
            let gzip = try Data(contentsOf: Self.directory.appendingPathComponent(name + ".gz"))
            #expect(
                Gzip.decompress(Array(gzip), limit: file.count) == Array(file),
                "static/\(name).gz is not static/\(name): run `make precompress`")
        }
        for name in names where name.hasSuffix(".gz") {
            #expect(names.contains(String(name.dropLast(3))), "static/\(name) has no file it compresses")
        }
    }
}
