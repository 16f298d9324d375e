import Foundation
import TestSupport
import Testing

/// RFC 9112 gaps found by probing the server: Host rules, `Expect: 100-continue`, 405 with
/// `Allow` on pages, and `nosniff` everywhere.
@Suite("HTTP/1.1 rules", .serialized, .timeLimit(.minutes(2)))
struct RFCRulesTests {
    typealias Client = RawConnection

    @Test func http11RequestsNeedExactlyOneHost() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        for head in [
            "GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n",
            "POST /surveys/2 HTTP/1.1\r\nContent-Length: 10\r\n\r\nq3=7&q4=11",
        ] {
            let raw = try RawHTTP.exchange(port: server.port, Array(head.utf8))
            let text = String(decoding: raw, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 400"), "\(head.debugDescription) → \(text.prefix(40))")
            #expect(text.contains("Host"))
        }
        let old = String(
            decoding: try RawHTTP.exchange(port: server.port, Array("GET /healthz HTTP/1.0\r\n\r\n".utf8)),
            as: UTF8.self)
        #expect(old.hasPrefix("HTTP/1.1 200") || old.hasPrefix("HTTP/1.0 200"), "HTTP/1.0 needs no Host")
        let votes = try site.export().surveys.first { $0.id == 2 }!.questions.flatMap {
            $0.answers.map { $0.votes ?? 0 }
        }
        #expect(votes.allSatisfy { $0 == 0 })
    }

    @Test func expect100ContinueGetsItsInterimResponse() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        let client = try Client(port: server.port)
        #expect(
            client.send(
                "POST /surveys/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    + "Content-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"))
        // The client waits for the interim response before it sends the body.
        #expect(client.readSome().hasPrefix("HTTP/1.1 100 Continue\r\n"))
        #expect(client.send("q3=7&q4=11"))
        #expect(client.readUntilClosed().text.hasPrefix("HTTP/1.1 303"))
        // Announcing a body larger than accepted gets 413 at once, and no 100.
        let large = try Client(port: server.port)
        #expect(
            large.send(
                "POST /surveys/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999\r\nExpect: 100-continue\r\n\r\n")
        )
        let answer = large.readUntilClosed().text
        #expect(answer.hasPrefix("HTTP/1.1 413") && !answer.contains("100 Continue"))
        let votes = try site.export().surveys.first { $0.id == 2 }!.questions.map { $0.answers.map { $0.votes ?? 0 } }
        #expect(votes == [[1, 0, 0, 0], [1, 0, 0, 0]])
    }

    @Test func nosniffOnEveryKindOfResponse() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        for target in ["/healthz", "/surveys/1/results.json", "/surveys/2/results.json", "/nope", "/surveys/1"] {
            #expect(try server.get(target).header("X-Content-Type-Options") == "nosniff", "\(target)")
        }
        let put = try RawHTTP.send(port: server.port, method: "PUT", target: "/")
        #expect(
            put.status == 405 && put.header("Allow") == "GET, HEAD" && put.header("X-Content-Type-Options") == "nosniff"
        )
    }
}
