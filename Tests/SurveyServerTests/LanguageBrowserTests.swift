import Foundation
import Localization
import TestSupport
import Testing

@testable import Surveys

/// Surveys in Chinese, Egyptian Arabic and Hebrew as their readers meet them: every word around
/// the survey's own text in the survey's language, right-to-left pages mirrored, nothing wider
/// than the screen, and axe's language rules clean. The catalogs are the oracle: no English UI
/// string that the language translates may be on the page.
extension BrowserTests {
    /// A completed Hebrew survey (40) and an open one (41), beside the demo's Chinese (3) and
    /// Egyptian Arabic (5) surveys.
    static func hebrewSurveys() -> String {
        let today = CalendarDay(ServerTests.today)!
        return """
            {"surveys": [
              {"id": 40, "title": "סקר תוכניות טלוויזיה", "language": "he",
               "opens": "\(today.adding(days: -9))", "closes": "\(today.adding(days: -1))",
               "questions": [{"text": "איזה סוג תוכנית אתם אוהבים?", "answers": [
                 {"text": "קומדיה", "votes": 12}, {"text": "דרמה", "votes": 7}, {"text": "ריאליטי (Reality)", "votes": 2}]},
                {"text": "כמה תוכניות חדשות תנסו?", "answers": [
                 {"text": "אף אחת", "votes": 1}, {"text": "שלוש עד חמש", "votes": 1}]}]},
              {"id": 41, "title": "צפייה בסוף השבוע", "language": "he",
               "opens": "\(today.adding(days: -1))", "closes": "\(today.adding(days: 5))",
               "questions": [{"text": "מתי אתם צופים?", "answers": [{"text": "שישי"}, {"text": "שבת"}]}]}
            ]}
            """
    }

    /// The fragments of English UI strings that `catalog` says otherwise: none may be on its pages.
    static func englishFragments(unlike catalog: Catalog) -> [String] {
        var fragments: [String] = []
        for key in CatalogKey.allCases where catalog.text(key) != Catalogs.english.text(key) {
            var text = Catalogs.english.text(key)
            for name in text.placeholders { text = text.replacingOccurrences(of: "{\(name)}", with: "\u{0}") }
            fragments += text.split(separator: "\u{0}").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.count >= 4 }
        }
        for key in PluralKey.allCases {
            let local = Set(catalog.forms(key).values)
            for form in Catalogs.english.forms(key).values where !local.contains(form) {
                fragments += form.replacingOccurrences(of: "{count}", with: "\u{0}").split(separator: "\u{0}")
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count >= 4 }
            }
        }
        return fragments
    }

    static func axeViolations(_ browser: BrowserSession, _ axe: String) throws -> (passes: [String], serious: [String])
    {
        try browser.run(axe)
        let result =
            try browser.runAsync(
                """
                const done = arguments[arguments.length - 1];
                axe.run(document).then(r => done({passes: r.passes.map(p => p.id),
                    serious: r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                      .map(v => v.id + ' ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))}),
                  e => done({passes: [], serious: ['axe-error ' + String(e)]}));
                """) as? [String: Any] ?? [:]
        return (result["passes"] as? [String] ?? [], result["serious"] as? [String] ?? ["axe did not answer"])
    }

    @Test(arguments: [BrowserSession.Viewport.desktop(), .phone])
    func surveysReadInTheirOwnLanguage(viewport: BrowserSession.Viewport) throws {
        let axePath = Self.packageRoot + "/.build/test-tools/axe.min.js"
        let axe = try #require(
            try? String(contentsOfFile: axePath, encoding: .utf8),
            "axe-core is missing at \(axePath): `make test` fetches it (scripts/fetch-axe.sh)")
        let demo = try DemoSite()
        try demo.site.importSurveys(Self.hebrewSurveys())
        let browser = try Self.browser(viewport)
        for (page, tag, rightToLeft) in [
            ("/surveys/3", "zh-Hans", false), ("/surveys/5", "ar-EG", true), ("/surveys/40", "he", true),
            ("/surveys/41", "he", true),
        ] {
            let place = "\(page) at \(viewport)"
            try browser.open(demo.base + page)
            let isResults = page != "/surveys/41"
            let charts = try Self.chartReport(browser)
            #expect(charts.count == (isResults ? 2 : 0), "\(place)")
            #expect(charts.allSatisfy { $0["loaded"] as? Bool == true }, "\(place): \(charts)")
            let root =
                try browser.run(
                    """
                    const labels = [...document.querySelectorAll('[aria-label],[title],[placeholder]')]
                      .map(e => e.getAttribute('aria-label') || e.getAttribute('title') || e.getAttribute('placeholder'));
                    // The page's own words: everything but the survey's texts (title, questions, answers) and the brand.
                    const words = document.body.cloneNode(true);
                    words.querySelectorAll('bdi, h1, .brand, script, textarea').forEach(e => e.remove());
                    return [document.documentElement.lang, document.documentElement.dir, document.body.innerText,
                      [...document.querySelectorAll('img')].map(i => i.alt).join('\\n') + '\\n' + labels.join('\\n'),
                      document.title, words.textContent];
                    """) as? [String] ?? []
            #expect(
                root.count == 6 && root[0] == tag && root[1] == (rightToLeft ? "rtl" : "ltr"),
                "\(place): \(root.prefix(2))")
            guard root.count == 6 else { continue }
            let catalog = try #require(Catalogs.catalog(for: try LanguageTag(parsing: tag)))
            let shown = root[2...4].joined(separator: "\n")
            let fragments = Self.englishFragments(unlike: catalog)
            #expect(fragments.count > 40, "the oracle has English to look for")
            let english = fragments.filter { shown.contains($0) }
            #expect(english.isEmpty, "\(place) shows English UI text: \(english)")
            // Nor any other Latin word of the page's own (file formats' names aside; the embed box holds
            // code): none of these languages is written in Latin letters.
            let latin = root[5].matches(of: /[A-Za-z]{3,}/).map { String($0.output) }.filter {
                !["JSON", "PDF", "SVG", "HTML"].contains($0)
            }
            #expect(latin.isEmpty, "\(place) has Latin words outside the survey's texts: \(latin)")
            // And the page does say its words in the language.
            let said = isResults ? catalog.text(.resultsTotal) : catalog.text(.formVote)
            #expect(root[2].contains(said), "\(place) does not say “\(said)”")
            let sideways =
                try browser.run(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth") as? Int
            #expect(sideways == 0, "\(place) scrolls sideways by \(sideways ?? -1) px")
            if rightToLeft {
                // Mirrored: headings start at the right, a table reads answer, votes, share from the right.
                let mirrored =
                    try browser.run(
                        """
                        const main = document.querySelector('main').getBoundingClientRect();
                        const h1 = document.querySelector('h1');
                        const range = document.createRange(); range.selectNodeContents(h1);
                        const firstLine = range.getClientRects()[0];
                        const row = document.querySelector('table.results tbody tr');
                        const cells = row ? [...row.children].map(c => c.getBoundingClientRect().left) : [];
                        const radios = [...document.querySelectorAll('label input[type=radio]')];
                        return {
                          headingAtTheRight: main.right - firstLine.right < 40 && firstLine.left - main.left > 40,
                          cells: cells.length, cellsReadRightToLeft: cells.every((x, i) => i === 0 || x < cells[i - 1]),
                          radios: radios.length, radiosOnTheRight: radios.every(r => r.getBoundingClientRect().left
                            > r.parentElement.querySelector('bdi').getBoundingClientRect().left)};
                        """) as? [String: Any] ?? [:]
                #expect(mirrored["headingAtTheRight"] as? Bool == true, "\(place): \(mirrored)")
                #expect(mirrored["cellsReadRightToLeft"] as? Bool == true, "\(place): \(mirrored)")
                #expect(mirrored["radiosOnTheRight"] as? Bool == true, "\(place): \(mirrored)")
                #expect(
                    isResults ? mirrored["cells"] as? Int == 3 : mirrored["radios"] as? Int ?? 0 >= 2,
                    "\(place): the checks found nothing to check: \(mirrored)")
            }
            let (passes, serious) = try Self.axeViolations(browser, axe)
            #expect(serious.isEmpty, "\(place): \(serious)")
            #expect(passes.contains("html-lang-valid"), "\(place): axe did not check html-lang-valid")
            #expect(passes.contains("valid-lang"), "\(place): axe did not check valid-lang")
            #expect(try Self.consoleErrors(browser).isEmpty, "\(place)")
        }
        // A Hebrew ballot: a wrong one is refused in Hebrew, a right one lands on the Hebrew thanks.
        try browser.open(demo.base + "/surveys/41")
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return document.querySelector('[role=alert]') !== null")
        let alert = try Self.alerts(browser).joined()
        #expect(
            alert.contains(
                try #require(Catalogs.catalog(for: try LanguageTag(parsing: "he"))).plural(.answerThese, count: 1)))
        try browser.click(try browser.element("input[type=radio]"))
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return location.pathname.endsWith('/thanks')")
        let thanks =
            try browser.run(
                "return [document.documentElement.lang, document.body.innerText, document.documentElement.dir]")
            as? [String] ?? []
        #expect(thanks.count == 3 && thanks.first == "he" && thanks.last == "rtl")
        let thanksText = thanks.count == 3 ? thanks[1] : ""
        let hebrew = try #require(Catalogs.catalog(for: try LanguageTag(parsing: "he")))
        #expect(Self.englishFragments(unlike: hebrew).filter { thanksText.contains($0) }.isEmpty)
        #expect(thanksText.contains("צפייה בסוף השבוע") && thanksText.contains(hebrew.text(.thanksTitle)))
        // Screenshots for the README: Chinese and Arabic results.
        for (page, name) in [("/surveys/3", "results-chinese"), ("/surveys/5", "results-arabic")] {
            try browser.open(demo.base + page)
            _ = try Self.chartReport(browser)
            if viewport.isMobile {
                try Self.save(try browser.screenshot(), as: name + "-phone.png")
            } else {
                try Self.save(try browser.fullPageScreenshot(), as: name + ".png")
            }
        }
    }
}
