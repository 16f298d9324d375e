import Foundation
import Localization
import Surveys
import TestSupport
import Testing

/// Languages over HTTP: a survey's pages in its language, the home page and errors outside a
/// survey in the reader's best `Accept-Language` match (cached per language, with `Vary`), and the
/// language refused with a clear error when no catalog has it.
@Suite("Languages over HTTP", .serialized, .timeLimit(.minutes(3)))
struct LanguageHTTPTests {
    static func catalog(_ tag: String) -> Catalog { Catalogs.catalog(for: try! LanguageTag(parsing: tag))! }

    @Test func theHomePageSpeaksTheReadersLanguageAndVariesByIt() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        // Alternating languages: the page cache keeps one page per language, never the other's.
        for (header, tag, dir) in [
            ("ja", "ja", "ltr"), ("en-US,en;q=0.9", "en", "ltr"), ("ja;q=0.8, fr;q=0.9", "fr", "ltr"),
            ("zh-TW", "zh-Hant", "ltr"), ("he-IL", "he", "rtl"), ("sw, *", "en", "ltr"), ("ja", "ja", "ltr"),
        ] {
            let home = try server.get("/", headers: ["Accept-Language": header])
            #expect(home.status == 200 && home.header("Vary") == "Accept-Language, Accept-Encoding", "\(header)")
            #expect(home.text.contains("<html lang=\"\(tag)\" dir=\"\(dir)\">"), "\(header)")
            #expect(home.text.contains("<h1>\(Self.catalog(tag).text(.homeTitle))</h1>"), "\(header)")
        }
        // Each survey's title is marked in its own language and direction.
        let home = try server.get("/").text
        #expect(home.contains("<a href=\"/surveys/3\" lang=\"zh-Hans\" dir=\"ltr\">电视节目调查</a>"))
        #expect(home.contains("lang=\"ar-EG\" dir=\"rtl\">استطلاع البرامج التلفزيونية</a>"))
        // A page outside any survey follows the reader too.
        let missing = try server.get("/no/such/page", headers: ["Accept-Language": "de-AT, en;q=0.5"])
        #expect(missing.status == 404 && missing.header("Vary") == "Accept-Language, Accept-Encoding")
        #expect(missing.text.contains("<h1>\(Self.catalog("de").text(.errorPageNotFoundTitle))</h1>"))
        #expect(missing.text.contains(Self.catalog("de").text(.backToSurveys)))
    }

    @Test func theDefaultLanguageAnswersReadersNoCatalogServes() throws {
        let site = try ServerTests.Site()
        let server = try site.serve(["--default-language", "fr"])
        defer { server.stop() }
        for header in [nil, "sw", "tlh;q=0.9"] as [String?] {
            let home = try server.get("/", headers: header.map { ["Accept-Language": $0] } ?? [:])
            #expect(home.text.contains("<html lang=\"fr\""), "\(header ?? "no header")")
            #expect(home.text.contains("30 novembre 2026") || home.text.contains("novembre 2026"))
        }
        #expect(try server.get("/", headers: ["Accept-Language": "es"]).text.contains("<html lang=\"es\""))
        let refused = try Executable.refusedServe(["--default-language", "tlh"] + site.scratchArguments)
        #expect(refused.status != 0 && refused.standardError.contains("--default-language"))
    }

    @Test func aSurveysPagesAndErrorsAreInItsLanguage() throws {
        let site = try ServerTests.Site()
        let server = try site.serve()
        defer { server.stop() }
        let chinese = Self.catalog("zh-Hans")
        // Whatever the reader's browser says: the survey's own language.
        let results = try server.get("/surveys/3", headers: ["Accept-Language": "de"])
        #expect(
            results.text.contains("<html lang=\"zh-Hans\" dir=\"ltr\">") && results.header("Vary") == "Accept-Encoding")
        #expect(results.text.contains(chinese.text(.resultsTotal)) && !results.text.contains(">Total<"))
        #expect(results.text.contains("2026年11月"))
        let json = try JSONSerialization.jsonObject(with: Data(try server.get("/surveys/3/results.json").body))
        #expect((json as? [String: Any])?["language"] as? String == "zh-Hans")
        let arabic = try server.get("/surveys/5")
        #expect(arabic.text.contains("<html lang=\"ar-EG\" dir=\"rtl\">"))
        #expect(arabic.text.contains("<td class=\"number\">٢١</td>"), "Arabic-Indic digits")
        // A ballot for a closed Chinese survey: the 409 page says so in Chinese, with the link to the results.
        let closed = try server.post("/surveys/3", body: "q5=1")
        #expect(closed.status == 409 && closed.text.contains("<html lang=\"zh-Hans\""))
        #expect(
            closed.text.contains(chinese.text(.errorClosedTitle))
                && closed.text.contains(chinese.text(.errorSeeResults)))
        // Programs keep their English JSON.
        let api = try server.post("/surveys/3/results.json", body: "", headers: ["Accept-Language": "zh-Hans"])
        #expect(api.header("Content-Type") == "application/json" && api.text.contains("\"method_not_allowed\""))
        #expect(api.text.contains("This address answers"))
    }

    @Test func importsNameALanguageWithoutACatalog() throws {
        let site = try ServerTests.Site()
        func document(_ language: String) -> String {
            """
            {"surveys": [{"title": "T", "language": "\(language)", "opens": "2026-11-01", "closes": "2026-11-02",
              "questions": [{"text": "Q", "answers": [{"text": "A"}, {"text": "B"}]}]}]}
            """
        }
        for (language, message) in [
            ("sw", "surveys[0].language: has no catalog for \"sw\""), ("en_US", "surveys[0].language"),
            ("", "surveys[0].language"),
        ] {
            #expect(throws: (any Error).self, "\(language)") { try site.importSurveys(document(language)) }
            do { try site.importSurveys(document(language)) } catch {
                #expect("\(error)".contains(message), "\(language): \(error)")
            }
        }
        try site.importSurveys(document("PT-br"))
        #expect(try site.export().surveys.first?.language?.description == "pt-BR")
        // Without a language, the importer's default.
        let file = try site.directory.write(
            "plain.json",
            #"{"surveys": [{"title": "U", "opens": "2026-11-01", "closes": "2026-11-02", "questions": [{"text": "Q", "answers": [{"text": "A"}, {"text": "B"}]}]}]}"#
        )
        let imported = try Executable.run(["import", file, "--database", site.database, "--default-language", "ko"])
        #expect(imported.status == 0, "\(imported.standardError)")
        #expect(try site.export().surveys.last?.language?.description == "ko")
    }
}
