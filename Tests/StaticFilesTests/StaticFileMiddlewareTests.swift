import ChartCache
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import StaticFiles

/// The middleware against its sources, in process (Hummingbird's test client): a directory
/// mount, and a source that makes its files on demand, as the charts do.
@Suite("Static file middleware", .timeLimit(.minutes(2)))
struct StaticFileMiddlewareTests {
    /// A source that has one file, `made.txt`, made when first asked for.
    struct MadeOnDemand: StaticFileSource {
        let store: StaticFileStore

        func file(_ segments: [String]) async throws -> StaticFile? {
            guard segments == ["made.txt"] else { return nil }
            return store.remember(segments, bytes: Array("made\n".utf8), modified: Date(), device: 1, inode: 1)
        }

        func stream(_ file: StaticFile, range: Range<Int>, to writer: inout any ResponseBodyWriter) async throws {
            try await store.stream(file, range: range, to: &writer)
        }
    }

    func application(root: String, pool: BlockingThreadPool) throws -> some ApplicationProtocol {
        let files = try StaticFileStore(root: root, pool: pool, contentAddressed: false, cacheControl: "public")
        let made = try StaticFileStore(root: root, pool: pool, contentAddressed: true, cacheControl: "immutable")
        let router = Router()
        router.add(
            middleware: StaticFileMiddleware(mounts: [
                StaticMount("/static", source: files), StaticMount("/made", source: MadeOnDemand(store: made)),
            ]))
        router.get("/static-page") { _, _ in "the router" }
        return Application(router: router)
    }

    @Test func mountsServeTheirSourcesAndEverythingElseGoesOn() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("static-\(UUID().uuidString)").path
        let root = scratch + "/public"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Data("body { color: black }\n".utf8).write(to: URL(fileURLWithPath: root + "/site.css"))
        // Beside the root, where a path that escaped it would land.
        try Data("the secret\n".utf8).write(to: URL(fileURLWithPath: scratch + "/secret.txt"))
        let pool = BlockingThreadPool(threadCount: 2, name: "static-test")
        defer { pool.shutdown() }
        try await application(root: root, pool: pool).test(.router) { client in
            let css = try await client.execute(uri: "/static/site.css", method: .get)
            #expect(css.status == .ok)
            #expect(String(buffer: css.body) == "body { color: black }\n")
            #expect(css.headers[.contentType] == "text/css; charset=utf-8")
            let etag = try #require(css.headers[.eTag])
            let again = try await client.execute(uri: "/static/site.css", method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
            let part = try await client.execute(uri: "/static/site.css", method: .get, headers: [.range: "bytes=-6"])
            #expect(part.status == .partialContent && String(buffer: part.body) == "ack }\n")
            #expect(try await client.execute(uri: "/static/missing.css", method: .get).status == .notFound)
            for escape in ["/static/%2e%2e/secret.txt", "/static/..%2fsecret.txt", "/static/./../secret.txt"] {
                let answer = try await client.execute(uri: escape, method: .get)
                #expect([.badRequest, .notFound].contains(answer.status), "\(escape): \(answer.status)")
                #expect(!String(buffer: answer.body).contains("secret"), "\(escape)")
            }
            #expect(try await client.execute(uri: "/static/site.css", method: .post).status == .methodNotAllowed)
            let made = try await client.execute(uri: "/made/made.txt", method: .get)
            #expect(made.status == .ok && String(buffer: made.body) == "made\n")
            #expect(made.headers[.cacheControl] == "immutable")
            #expect(try await client.execute(uri: "/made/other.txt", method: .get).status == .notFound)
            // A prefix is a whole segment: /static-page is the router's, not the mount's.
            let page = try await client.execute(uri: "/static-page", method: .get)
            #expect(page.status == .ok && String(buffer: page.body) == "the router")
        }
    }
}
