import Testing

@testable import StaticFiles

@Suite("Static handler rules", .timeLimit(.minutes(2)))
struct StaticFileRulesTests {
    let file = StaticFileRules.FileFacts(size: 1000, modified: 1_795_000_000, etag: "\"abc\"")

    func plan(_ conditions: StaticFileRules.Conditions) -> StaticFileRules.Plan {
        StaticFileRules.plan(for: conditions, file: file)
    }

    @Test func pathsAreDecodedOnceAndHostileOnesRefused() throws {
        #expect(try StaticFileRules.segments(ofRawPath: "a%20b.png") == ["a b.png"])
        #expect(try StaticFileRules.segments(ofRawPath: "a..b.png") == ["a..b.png"])
        #expect(try StaticFileRules.segments(ofRawPath: "css/site.css") == ["css", "site.css"])
        // %252e decodes once to %2e: a literal name, never a second decoding into "."
        #expect(try StaticFileRules.segments(ofRawPath: "%252e%252e") == ["%2e%2e"])
        for hostile in [
            "..", "../x", "a/../b", "%2e%2e/x", ".%2e/x", "a%2fb", "a%2Fb", "a%5cb", "a\\b", "a%00b", "%zz",
            "./a", "a//b",
        ] {
            #expect(throws: StaticFileRules.PathRejection.self, "\(hostile)") {
                try StaticFileRules.segments(ofRawPath: Substring(hostile))
            }
        }
        #expect(throws: StaticFileRules.PathRejection.notServed("dotfile")) {
            try StaticFileRules.segments(ofRawPath: ".env")
        }
        #expect(throws: StaticFileRules.PathRejection.notServed("directory")) {
            try StaticFileRules.segments(ofRawPath: "css/")
        }
        #expect(throws: StaticFileRules.PathRejection.notServed("directory")) {
            try StaticFileRules.segments(ofRawPath: "")
        }
    }

    @Test func conditionalRequests() {
        #expect(plan(.init()) == .whole)
        #expect(plan(.init(ifNoneMatch: "\"abc\"")) == .notModified)
        #expect(plan(.init(ifNoneMatch: "W/\"abc\"")) == .notModified)
        #expect(plan(.init(ifNoneMatch: "\"x\", \"abc\"")) == .notModified)
        #expect(plan(.init(ifNoneMatch: "*")) == .notModified)
        #expect(plan(.init(ifNoneMatch: "\"other\"")) == .whole)
        let date = StaticFileRules.httpDate(file.modified)
        #expect(plan(.init(ifModifiedSince: date)) == .notModified)
        #expect(plan(.init(ifModifiedSince: StaticFileRules.httpDate(file.modified - 1))) == .whole)
        #expect(plan(.init(ifModifiedSince: "yesterday")) == .whole)
        // If-None-Match wins over If-Modified-Since.
        #expect(plan(.init(ifNoneMatch: "\"other\"", ifModifiedSince: date)) == .whole)
    }

    @Test func ranges() {
        #expect(plan(.init(range: "bytes=0-99")) == .partial(0..<100))
        #expect(plan(.init(range: "bytes=900-")) == .partial(900..<1000))
        #expect(plan(.init(range: "bytes=990-5000")) == .partial(990..<1000))
        // A suffix range is the last N bytes, not the first.
        #expect(plan(.init(range: "bytes=-10")) == .partial(990..<1000))
        #expect(plan(.init(range: "bytes=-5000")) == .partial(0..<1000))
        #expect(plan(.init(range: "bytes=1000-")) == .unsatisfiable)
        #expect(plan(.init(range: "bytes=-0")) == .unsatisfiable)
        // Several or overlapping ranges, and nonsense, get the whole file.
        #expect(plan(.init(range: "bytes=0-1,5-9")) == .whole)
        #expect(plan(.init(range: "bytes=0-9,0-9,0-9")) == .whole)
        #expect(plan(.init(range: "bytes=9-3")) == .whole)
        #expect(plan(.init(range: "items=0-9")) == .whole)
        #expect(plan(.init(range: "bytes=a-b")) == .whole)
        #expect(plan(.init(range: "bytes=99999999999999999999-")) == .whole)
        // If-Range: only the same strong validator keeps the range.
        #expect(plan(.init(range: "bytes=0-9", ifRange: "\"abc\"")) == .partial(0..<10))
        #expect(plan(.init(range: "bytes=0-9", ifRange: "\"old\"")) == .whole)
        #expect(plan(.init(range: "bytes=0-9", ifRange: "W/\"abc\"")) == .whole)
        #expect(plan(.init(range: "bytes=0-9", ifRange: StaticFileRules.httpDate(file.modified))) == .partial(0..<10))
        #expect(plan(.init(range: "bytes=0-9", ifRange: StaticFileRules.httpDate(file.modified - 60))) == .whole)
    }

    @Test func httpDatesRoundTrip() {
        #expect(StaticFileRules.httpDate(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(StaticFileRules.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        for seconds in stride(from: 0, to: 4_000_000_000, by: 12_345_678) {
            #expect(StaticFileRules.parseHTTPDate(StaticFileRules.httpDate(seconds)) == seconds)
        }
    }

    @Test func contentTypes() {
        #expect(StaticFileRules.contentType(forName: "a.PNG") == "image/png")
        #expect(StaticFileRules.contentType(forName: "style.css") == "text/css; charset=utf-8")
        #expect(StaticFileRules.contentType(forName: "README") == "application/octet-stream")
    }
}
