import Foundation
import TestSupport
import Testing

/// The home page stays the same size however many surveys a site holds: 50 a list, with pages.
@Suite("Home page lists", .timeLimit(.minutes(2)))
struct HomePageTests {
    static func links(_ page: String) -> [String] {
        page.components(separatedBy: "<a href=\"/surveys/").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test func listsArePagedFiftyAtATime() throws {
        let site = try ServerTests.Site()
        // 120 more open surveys (the demo has one), 60 more closed in the last days (it has 3).
        let surveys = (0..<180).map { n -> String in
            let (opens, closes) =
                n < 120 ? ("2026-11-20", "2026-12-0\(n % 9 + 1)") : ("2026-11-01", "2026-11-1\(n % 10)")
            return #"{"title": "Survey \#(n)", "opens": "\#(opens)", "closes": "\#(closes)", "#
                + #""questions": [{"text": "Q?", "answers": [{"text": "A"}, {"text": "B"}]}]}"#
        }
        let server = try site.serve()
        defer { server.stop() }
        try site.importSurveys(#"{"surveys": ["# + surveys.joined(separator: ",") + "]}")
        // The first page may be up to 5 s old (cached): ask for one no one asked for yet.
        let first = try server.get("/?recent=1&open=1")
        #expect(first.status == 200)
        let page = first.text
        #expect(Self.links(page).count == 100, "50 open and 50 recent")
        #expect(page.contains(#"<nav class="pages" aria-label="Open surveys, pages">"#))
        #expect(page.contains(#"<a href="/?open=2" rel="next">Next</a>"#))
        #expect(page.contains("<span>Page 1 of 3</span>"))
        #expect(page.contains(#"<a href="/?recent=2" rel="next">Next</a>"#))
        #expect(page.contains("<span>Page 1 of 2</span>"))
        #expect(!page.contains("rel=\"prev\""))
        let last = try server.get("/?open=3&recent=2").text
        #expect(Self.links(last).count == 21 + 14)
        #expect(last.contains(#"<a href="/?open=2&amp;recent=2" rel="prev">Previous</a>"#))
        #expect(last.contains(#"<a href="/?open=3" rel="prev">Previous</a>"#))
        #expect(!last.contains("rel=\"next\""))
        // Every survey appears once across the pages.
        let all = try (1...3).flatMap { open in
            Self.links(try server.get("/?open=\(open)").text).prefix(open == 3 ? 21 : 50)
        }
        #expect(Set(all).count == 121)
        #expect(try server.get("/?open=4").status == 404)
        for bad in ["0", "-1", "two", "1.5", "99999999999"] {
            #expect(try server.get("/?open=\(bad)").status == 400, "\(bad)")
        }
    }
}
