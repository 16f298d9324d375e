import Foundation
import Surveys
import TestSupport
import Testing

/// The operators' forms over HTTP: every field refuses bad input with a message that names it, and
/// a refused form stores nothing.
@Suite("Admin: forms and their rules", .serialized, .timeLimit(.minutes(3)))
struct AdminFormTests {
    static let valid: [(String, String)] = [
        ("title", "Lunch poll"), ("opens", ServerTests.today), ("closes", "2026-11-30"),
        ("q0.id", ""), ("q0.text", "Pizza?"), ("q0.order", "1"), ("q0.a0.id", ""), ("q0.a0.text", "Yes"),
        ("q0.a0.order", "1"), ("q0.a1.id", ""), ("q0.a1.text", "No"), ("q0.a1.order", "2"),
        ("q1.id", ""), ("q1.text", ""), ("q1.order", "2"), ("q1.a0.id", ""), ("q1.a0.text", ""),
        ("q1.a0.order", "1"),
    ]

    static func body(_ fields: [(String, String)], csrf: String) -> String {
        ([("csrf", csrf)] + fields).map { "\($0.0)=\(AdminSite.encode($0.1))" }.joined(separator: "&")
    }

    static func replacing(
        _ name: String, with value: String, in fields: [(String, String)] = valid
    ) -> [(
        String, String
    )] {
        fields.map { $0.0 == name ? ($0.0, value) : $0 }
    }

    @Test func everyFieldOfTheNewSurveyFormRefusesBadInput() throws {
        let admin = try AdminSite()
        let (cookie, csrf) = try admin.signIn()
        let before = try admin.site.exportText()
        let long = String(repeating: "ü", count: 301)
        let cases: [(label: String, fields: [(String, String)], invalid: String?, message: String)] = [
            ("empty title", Self.replacing("title", with: "   "), "title", "Title: must not be empty"),
            (
                "language without a catalog", Self.valid + [("language", "sw")], "language",
                "Language: there is no catalog for “sw”"
            ),
            (
                "not a language tag", Self.valid + [("language", "en_US")], "language",
                "Language: &quot;en_US&quot; is not a language tag: it uses &quot;_&quot;"
            ),
            ("long title", Self.replacing("title", with: long), "title", "Title: must be at most 300 characters"),
            ("NUL in title", Self.replacing("title", with: "a\u{0}b"), "title", "Title: must not contain NUL"),
            ("no opening day", Self.replacing("opens", with: ""), "opens", "Opens: must be a date like"),
            ("impossible day", Self.replacing("closes", with: "2026-02-30"), "closes", "Closes: must be a date like"),
            (
                "reversed days", Self.replacing("closes", with: "2026-11-01"), "closes",
                "Closes: must not be before opens"
            ),
            ("empty question", Self.replacing("q0.text", with: ""), "q0.text", "Question 1: must not be empty"),
            ("long question", Self.replacing("q0.text", with: long), "q0.text", "Question 1: must be at most 300"),
            (
                "long answer", Self.replacing("q0.a1.text", with: long), "q0.a1.text",
                "Question 1, answer 2: must be at most 300"
            ),
            (
                "duplicate answer", Self.replacing("q0.a1.text", with: " YES "), "q0.a1.text",
                "Question 1, answer 2: repeats answer 1"
            ),
            (
                "one answer", Self.replacing("q0.a1.text", with: ""), "q0",
                "Question 1, answers: must hold 2 to 64 answers"
            ),
            (
                "duplicate question",
                Self.replacing("q1.text", with: "pizza?", in: Self.replacing("q1.a0.text", with: "A")),
                "q1.text", "Question 2: repeats question 1"
            ),
            ("bad order", Self.replacing("q0.a0.order", with: "first"), "q0.a0.order", "Order: must be a whole number"),
            (
                "no questions", Self.valid.filter { !$0.0.hasPrefix("q0") }, nil,
                "Questions: must hold at least one question"
            ),
            ("forged field", Self.valid + [("q0.a0.votes", "100")], nil, "unexpected field “q0.a0.votes”"),
            ("repeated field", Self.valid + [("title", "Twice")], nil, "sent the field “title” twice"),
            ("forged id", Self.replacing("q0.a0.id", with: "-3"), nil, "is not an id"),
        ]
        for (label, fields, invalid, message) in cases {
            let response = try admin.post("/admin/surveys", Self.body(fields, csrf: csrf), cookie: cookie)
            #expect(response.status == 400, "\(label)")
            #expect(response.text.contains(message), "\(label): \(Self.alert(response.text))")
            if let invalid, invalid.contains(".") || ["title", "language", "opens", "closes"].contains(invalid) {
                #expect(Self.invalidFields(response.text) == [invalid], "\(label)")
            } else if let invalid {
                // A whole question is at fault: its fieldset is marked.
                #expect(response.text.contains("<fieldset id=\"\(invalid)\" class=\"missing\">"), "\(label)")
            }
        }
        // Nothing was stored by any of them; the valid form is.
        #expect(try admin.site.exportText() == before)
        let created = try admin.post("/admin/surveys", Self.body(Self.valid, csrf: csrf), cookie: cookie)
        #expect(created.status == 303)
        #expect(created.header("Location") == "/admin/surveys/6?done=created")
        let survey = try admin.site.export().surveys.first { $0.id == 6 }
        #expect(survey?.title == "Lunch poll")
        #expect(survey?.questions.map(\.text) == ["Pizza?"])
        #expect(survey?.questions.first?.answers.map(\.text) == ["Yes", "No"])
        #expect(survey?.language == .english, "a form without a language takes the site's default")
        // A survey in Egyptian Arabic: its page is right to left, and the edit form shows its tag.
        let arabic = Self.replacing("title", with: "استطلاع الغداء", in: Self.valid + [("language", "AR-eg")])
        let made = try admin.post("/admin/surveys", Self.body(arabic, csrf: csrf), cookie: cookie)
        #expect(made.status == 303 && made.header("Location") == "/admin/surveys/7?done=created")
        #expect(try admin.site.export().surveys.first { $0.id == 7 }?.language?.description == "ar-EG")
        let edit = try admin.get("/admin/surveys/7", cookie: cookie).text
        #expect(edit.contains("name=\"language\" value=\"ar-EG\""))
        #expect(edit.contains("<h1><bdi>استطلاع الغداء</bdi></h1>"))
        let form = try admin.server.get("/surveys/7").text
        #expect(form.contains("<html lang=\"ar-EG\" dir=\"rtl\">"))
    }

    @Test func hostileTextIsStoredAsTextAndShownEscapedEverywhere() throws {
        let admin = try AdminSite(["--ballots-per-browser", "any"])
        let (cookie, csrf) = try admin.signIn()
        let hostile = "<script>alert(1)</script>\"'&"
        var fields = Self.replacing("title", with: hostile)
        fields = Self.replacing("q0.a0.text", with: "=HYPERLINK(\"http://evil\",\"x\"), \"quoted\"", in: fields)
        fields = Self.replacing("q0.text", with: "Line\r\nbreak?", in: fields)
        let created = try admin.post("/admin/surveys", Self.body(fields, csrf: csrf), cookie: cookie)
        #expect(created.status == 303)
        for page in [
            try admin.get("/admin", cookie: cookie).text, try admin.get("/admin/surveys/6", cookie: cookie).text,
            try admin.get("/", cookie: nil).text, try admin.get("/surveys/6", cookie: nil).text,
        ] {
            #expect(!page.contains("<script>alert"))
            #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        }
        // The CSV quotes it (RFC 4180) and keeps spreadsheets from running it as a formula.
        #expect(
            try admin.server.post(
                "/surveys/6", body: "q\(try Self.firstQuestion(admin, 6))=\(try Self.firstAnswer(admin, 6))"
            ).status == 303)
        let csv = try admin.get("/admin/surveys/6/export.csv", cookie: cookie)
        #expect(csv.header("Content-Type") == "text/csv; charset=utf-8; header=present")
        #expect(csv.header("Content-Disposition") == "attachment; filename=\"survey-6.csv\"")
        #expect(Array(csv.body.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let rows = try CSV.parse(String(decoding: csv.body.dropFirst(3), as: UTF8.self))
        #expect(rows.first == ["survey", "question", "answer", "votes", "percent"])
        #expect(
            rows.dropFirst().first == [
                hostile, "Line\r\nbreak?", "'=HYPERLINK(\"http://evil\",\"x\"), \"quoted\"", "1", "100",
            ])
        #expect(rows.last == [hostile, "Line\r\nbreak?", "No", "0", "0"])
        // The JSON download is the import format, text and votes exactly as stored.
        let json = try admin.get("/admin/surveys/6/export.json", cookie: cookie)
        #expect(json.header("Content-Type") == "application/json")
        #expect(json.header("Content-Disposition") == "attachment; filename=\"survey-6.json\"")
        let document = try SurveyDocument(json: Data(json.body))
        #expect(document.surveys.count == 1 && document.surveys[0].title == hostile)
        #expect(document.surveys[0].questions[0].text == "Line\r\nbreak?")
        #expect(document.surveys[0].questions[0].answers.map { $0.votes ?? 0 } == [1, 0])
        #expect(try admin.get("/admin/surveys/6/export.json", cookie: nil).status != 200)
    }

    @Test func editsThatWouldLoseVotesAreRefusedWithTheReasonAndTheRestIsKept() throws {
        let admin = try AdminSite(["--ballots-per-browser", "any"])
        let (cookie, csrf) = try admin.signIn()
        // Survey 2 is open; give its first answers votes.
        for _ in 0..<3 { #expect(try admin.server.post("/surveys/2", body: "q3=7&q4=11").status == 303) }
        let page = try admin.get("/admin/surveys/2", cookie: cookie).text
        #expect(page.contains("Live counts (only operators see them until the survey closes)"))
        #expect(page.contains("(3 votes)") && page.contains("· 3 ballots ·"))
        let form = try Self.formFields(page)
        let before = try admin.site.exportText()
        // Clearing an answer that holds votes.
        let voted = try #require(form.first { $0.1 == "7" && $0.0.hasSuffix(".id") }).0.replacingOccurrences(
            of: ".id", with: ".text")
        let cleared = form.map { $0.0 == voted ? ($0.0, "") : $0 }
        let refused = try admin.post("/admin/surveys/2", Self.body(cleared, csrf: csrf), cookie: cookie)
        #expect(refused.status == 400)
        #expect(refused.text.contains("holds 3 votes, so it cannot be deleted"), "\(Self.alert(refused.text))")
        #expect(try admin.site.exportText() == before)
        // Clearing the whole second question, whose answer 11 holds votes: the error names the block
        // the operator cleared (question 2, fieldset q1), not the survey's other question.
        let secondBlock = form.map { field -> (String, String) in
            field.0.hasPrefix("q1.") && !field.0.hasSuffix(".id") && !field.0.hasSuffix(".order")
                ? (field.0, "") : field
        }
        let noDelete = try admin.post("/admin/surveys/2", Self.body(secondBlock, csrf: csrf), cookie: cookie)
        #expect(noDelete.status == 400)
        #expect(noDelete.text.contains("Question 2: its answer"), "\(Self.alert(noDelete.text))")
        #expect(noDelete.text.contains("cannot be deleted"), "\(Self.alert(noDelete.text))")
        #expect(noDelete.text.contains("<fieldset id=\"q1\" class=\"missing\">"), "\(Self.alert(noDelete.text))")
        #expect(!noDelete.text.contains("<fieldset id=\"q0\" class=\"missing\">"))
        #expect(try admin.site.exportText() == before)
        // Renaming it and adding an answer is fine, and keeps the votes.
        var renamed = form.map { $0.0 == voted ? ($0.0, "Renamed answer") : $0 }
        let blank = try #require(
            renamed.firstIndex { $0.0.hasPrefix("q0.a") && $0.0.hasSuffix(".text") && $0.1.isEmpty })
        renamed[blank].1 = "A new answer"
        let saved = try admin.post("/admin/surveys/2", Self.body(renamed, csrf: csrf), cookie: cookie)
        #expect(saved.status == 303 && saved.header("Location") == "/admin/surveys/2?done=saved")
        let answers = try #require(try admin.site.export().surveys.first { $0.id == 2 }?.questions.first?.answers)
        #expect(answers.first { $0.id == 7 }?.text == "Renamed answer")
        #expect(answers.first { $0.id == 7 }?.votes == 3)
        #expect(answers.last?.text == "A new answer")
        // "Add more rows" stores nothing and keeps what was typed.
        var typing = try Self.formFields(try admin.get("/admin/surveys/2", cookie: cookie).text)
        typing = typing.map { $0.0 == "title" ? ($0.0, "Unsaved title") : $0 } + [("action", "more")]
        let more = try admin.post("/admin/surveys/2", Self.body(typing, csrf: csrf), cookie: cookie)
        #expect(more.status == 200)
        #expect(AdminSite.field("title", in: more.text) == "Unsaved title")
        #expect(try Self.formFields(more.text).count > typing.count)
        #expect(try admin.site.export().surveys.first { $0.id == 2 }?.title == "Weekend Viewing")
    }

    /// An edit saved on one process shows on another process of the same store within the pages'
    /// documented lifetime (5 s), the completed survey's results page included.
    // Async, sleeping with `Task.sleep`: its seconds of waiting must not hold a cooperative thread.
    @Test func anEditOnOneProcessShowsOnAnotherWithinThePageLifetime() async throws {
        let admin = try AdminSite()
        let other = try ServerProcess([
            "--database", admin.site.database, "--charts-dir", admin.site.charts, "--no-demo", "--no-prerender",
            "--today", ServerTests.today,
        ])
        defer { other.stop() }
        // The other process has the page cached, and the home page too.
        #expect(try other.get("/surveys/1").text.contains("Television Trends"))
        #expect(try other.get("/").text.contains("Television Trends"))
        let (cookie, csrf) = try admin.signIn()
        let form = try Self.formFields(try admin.get("/admin/surveys/1", cookie: cookie).text)
        let renamed = form.map { $0.0 == "title" ? ($0.0, "Television Trends, corrected") : $0 }
        let saved = try admin.post("/admin/surveys/1", Self.body(renamed, csrf: csrf), cookie: cookie)
        #expect(saved.status == 303, "\(Self.alert(saved.text))")
        // Once the lifetime has passed, every request the other process answers has the edit (on
        // a loaded machine a request may itself be slow; what it answers is what counts).
        try await Task.sleep(for: .milliseconds(5_500))
        #expect(try other.get("/surveys/1").text.contains("Television Trends, corrected"), "an old results page")
        #expect(try other.get("/").text.contains("Television Trends, corrected"), "an old home page")
        // The site (its database and directories) lives until the other process has been asked.
        withExtendedLifetime(admin) {}
    }

    @Test func deleteNeedsTheTitleAndCloseNowPublishesTheResults() throws {
        let admin = try AdminSite(["--ballots-per-browser", "any"])
        let (cookie, csrf) = try admin.signIn()
        #expect(try admin.server.post("/surveys/2", body: "q3=7&q4=11").status == 303)
        #expect(try admin.get("/surveys/2/results.json", cookie: nil).status == 404)
        let closed = try admin.post("/admin/surveys/2/close", "csrf=\(csrf)", cookie: cookie)
        #expect(closed.status == 303)
        #expect(admin.server.logContains("prerender: survey 2 closed by demo: rendered 12"))
        let results = try admin.get("/surveys/2/results.json", cookie: nil)
        #expect(results.status == 200)
        #expect(try admin.server.post("/surveys/2", body: "q3=7&q4=11").status == 409)
        let page = try admin.get("/admin/surveys/2", cookie: cookie).text
        #expect(page.contains("Reopen (undo close)") && !page.contains(">Close now<"))
        #expect(try admin.post("/admin/surveys/2/close", "csrf=\(csrf)", cookie: cookie).status == 409)
        #expect(try admin.post("/admin/surveys/2/reopen", "csrf=\(csrf)", cookie: cookie).status == 303)
        #expect(try admin.get("/surveys/2/results.json", cookie: nil).status == 404)
        #expect(try admin.post("/admin/surveys/2/reopen", "csrf=\(csrf)", cookie: cookie).status == 409)

        let wrong = try admin.post("/admin/surveys/2/delete", "csrf=\(csrf)&confirm=Weekend", cookie: cookie)
        #expect(wrong.status == 400)
        #expect(wrong.text.contains("“Weekend” is not this survey&#39;s title; nothing was deleted."))
        #expect(try admin.post("/admin/surveys/2/delete", "csrf=\(csrf)", cookie: cookie).status == 400)
        #expect(try admin.site.export().surveys.contains { $0.id == 2 })
        let deleted = try admin.post("/admin/surveys/2/delete", "csrf=\(csrf)&confirm=Weekend+Viewing", cookie: cookie)
        #expect(deleted.status == 303 && deleted.header("Location") == "/admin?done=deleted")
        #expect(try !admin.site.export().surveys.contains { $0.id == 2 })
        #expect(try admin.get("/surveys/2", cookie: nil).status == 404)
        #expect(try admin.get("/admin/surveys/2", cookie: cookie).status == 404)
        #expect(admin.server.logContains("admin: demo deleted survey 2 “Weekend Viewing”"))
    }

    // MARK: Helpers

    /// The fields a browser would send from the survey form in `page` (hidden and text inputs).
    static func formFields(_ page: String) throws -> [(String, String)] {
        guard let start = page.range(of: "<form method=\"post\" action=\"/admin/surveys/") else { return [] }
        let form = page[start.lowerBound...]
        let regex = try NSRegularExpression(
            pattern: #"<input (?:type="hidden" )?(?:id="[^"]*" )?name="([^"]+)"(?: type="[a-z]+")? value="([^"]*)""#)
        let text = String(form)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            guard let name = Range(match.range(at: 1), in: text), let value = Range(match.range(at: 2), in: text) else {
                return nil
            }
            let decoded = String(text[value]).replacingOccurrences(of: "&quot;", with: "\"")
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
            return (String(text[name]), decoded)
        }.filter { $0.0 != "csrf" }
    }

    /// The names of the fields marked `aria-invalid` in `page`.
    static func invalidFields(_ page: String) -> [String] {
        page.components(separatedBy: "<input ").filter { $0.contains("aria-invalid=\"true\"") }.compactMap {
            guard let range = $0.range(of: "name=\"") else { return nil }
            return String($0[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    static func alert(_ page: String) -> String {
        guard let range = page.range(of: "role=\"alert\"") else { return "no alert" }
        return String(page[range.upperBound...].prefix(200))
    }

    static func firstQuestion(_ admin: AdminSite, _ id: Int64) throws -> Int64 {
        try #require(try admin.site.export().surveys.first { $0.id == id }?.questions.first?.id)
    }

    static func firstAnswer(_ admin: AdminSite, _ id: Int64) throws -> Int64 {
        try #require(try admin.site.export().surveys.first { $0.id == id }?.questions.first?.answers.first?.id)
    }
}

/// An RFC 4180 reader, written from the RFC rather than shared with the writer under test.
enum CSV {
    struct Malformed: Error {}

    static func parse(_ text: String) throws -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var characters = Array(text.unicodeScalars)[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" {
                        field.unicodeScalars.append(characters.removeFirst())
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(character)
                }
            } else if character == "\"" {
                guard field.isEmpty else { throw Malformed() }
                quoted = true
            } else if character == "," {
                row.append(field)
                field = ""
            } else if character == "\r" {
                guard characters.popFirst() == "\n" else { throw Malformed() }
                row.append(field)
                rows.append(row)
                (row, field) = ([], "")
            } else {
                field.unicodeScalars.append(character)
            }
        }
        guard !quoted, row.isEmpty, field.isEmpty else { throw Malformed() }
        return rows
    }
}
