import Foundation
import TestSupport
import Testing

@testable import Surveys

/// The product as people meet it: headless Chromium, driven through WebDriver, against the real
/// `surveycharts serve` with the demo surveys. Survey 2 ("Weekend Viewing") is open; surveys 1,
/// 3 and 4 are completed (4 has a question with 12 answers, one of them at "<1%").
@Suite("In a real browser", .serialized, .timeLimit(.minutes(5)))
struct BrowserTests {
    /// The package root (screenshots go under .build and docs/screenshots, axe-core comes from .build).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A demo site served on an ephemeral port.
    final class DemoSite {
        let site: ServerTests.Site
        let server: ServerProcess
        /// The password of the site's operator, `demo`.
        let operatorPassword = "demo-password-\(UUID().uuidString.prefix(8))"
        var base: String { "http://127.0.0.1:\(server.port)" }

        init(_ extra: [String] = []) throws {
            site = try ServerTests.Site()
            try site.addOperator("demo", password: operatorPassword)
            server = try ServerProcess(
                [
                    "--database", site.database, "--charts-dir", site.charts, "--static-dir",
                    BrowserTests.packageRoot + "/static", "--today", ServerTests.today, "--no-prerender",
                ] + extra)
        }

        deinit { server.stop() }

        /// Votes per answer of the open survey, question by question.
        func openSurveyVotes() throws -> [[Int]] {
            try site.export().surveys.first { $0.id == 2 }!.questions.map { $0.answers.map { $0.votes ?? 0 } }
        }
    }

    static func browser(_ viewport: BrowserSession.Viewport = .desktop()) throws -> BrowserSession {
        try #require(BrowserSession.isAvailable, "Chromium and chromedriver are missing: run `make test`")
        return try BrowserSession(viewport: viewport)
    }

    /// Checks `shot` and keeps it as `name` (see `Screenshots`: docs/screenshots/ only when asked).
    static func save(_ shot: BrowserSession.Screenshot, as name: String) throws {
        try Screenshots.save(shot, as: name)
    }

    /// Console errors (failed loads, CSP violations, script errors) since the last call.
    static func consoleErrors(_ browser: BrowserSession) throws -> [String] {
        try browser.consoleMessages().filter { $0.level == "SEVERE" }.map(\.message)
    }

    /// The text of every `role=alert` on the page.
    static func alerts(_ browser: BrowserSession) throws -> [String] {
        try browser.run("return [...document.querySelectorAll('[role=alert]')].map(e => e.innerText)") as? [String]
            ?? []
    }

    // MARK: Ballots

    @Test func aBallotClickedThroughLandsOnTheThankYouPageAndIsCounted() throws {
        let demo = try DemoSite()
        let browser = try Self.browser()
        try browser.open(demo.base + "/surveys/2")
        #expect(try Self.alerts(browser).isEmpty, "a fresh form shows no error")
        #expect(try browser.run("return document.body.innerText.includes('nil')") as? Bool == false)
        // One radio group per question, in a fieldset with a legend.
        let groups =
            try browser.run(
                """
                return [...document.querySelectorAll('form fieldset')].map(f => ({
                  legend: f.querySelector('legend').innerText,
                  names: [...new Set([...f.querySelectorAll('input[type=radio]')].map(i => i.name))],
                  values: [...f.querySelectorAll('input[type=radio]')].map(i => i.value),
                  required: [...f.querySelectorAll('input[required]')].length }))
                """) as? [[String: Any]] ?? []
        #expect(groups.count == 2)
        #expect(groups.map { $0["names"] as? [String] ?? [] } == [["q3"], ["q4"]])
        #expect(groups.map { $0["values"] as? [String] ?? [] } == [["7", "8", "9", "10"], ["11", "12", "13", "14"]])
        #expect(groups.first?["legend"] as? String == "When do you watch most?")
        // Clicking the label text picks the answer.
        try browser.click(try browser.element("#question-3 label:nth-of-type(2)"))
        try browser.click(try browser.element("#question-4 label:nth-of-type(1)"))
        #expect(try browser.property(try browser.element("input[name=q3][value='8']"), "checked") as? Bool == true)
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return location.pathname === '/surveys/2/thanks'")
        #expect(try browser.title().hasPrefix("Thank you"))
        #expect(try demo.openSurveyVotes() == [[0, 1, 0, 0], [1, 0, 0, 0]])
        // The browser is marked, with a cookie scripts cannot read.
        let cookie = try browser.cookies().first { $0["name"] as? String == "voted_2" }
        #expect(cookie?["httpOnly"] as? Bool == true && cookie?["sameSite"] as? String == "Lax")
        #expect(try browser.run("return document.cookie") as? String == "")
        #expect(try Self.consoleErrors(browser).isEmpty)
        try Self.save(try browser.screenshot(), as: "thanks.png")
    }

    @Test func theKeyboardAloneCastsABallot() throws {
        let demo = try DemoSite()
        let browser = try Self.browser()
        try browser.open(demo.base + "/surveys/2")
        // Tab past the site link into the first question; arrows choose within a group.
        try browser.press([.tab, .tab])
        #expect(try browser.property(try browser.focusedElement(), "name") as? String == "q3")
        try browser.press([.arrowDown, .arrowDown])
        try browser.press([.tab])
        #expect(try browser.property(try browser.focusedElement(), "name") as? String == "q4")
        try browser.press([.space])
        try browser.press([.tab])
        #expect(try browser.property(try browser.focusedElement(), "tagName") as? String == "BUTTON")
        try browser.press([.enter])
        try browser.waitUntil("return location.pathname === '/surveys/2/thanks'")
        #expect(try demo.openSurveyVotes() == [[0, 0, 1, 0], [1, 0, 0, 0]])
    }

    @Test func anIncompleteBallotNamesTheMissingQuestionAndKeepsTheChoices() throws {
        let demo = try DemoSite()
        let browser = try Self.browser()
        try browser.open(demo.base + "/surveys/2")
        try browser.click(try browser.element("#question-3 label:nth-of-type(3)"))
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return document.querySelector('[role=alert]') !== null")
        let alerts = try Self.alerts(browser)
        #expect(alerts.count == 1)
        #expect(alerts.first?.contains("How do you watch?") == true, "\(alerts)")
        #expect(alerts.first?.contains("When do you watch most?") == false, "\(alerts)")
        #expect(try browser.property(try browser.element("input[name=q3][value='9']"), "checked") as? Bool == true)
        #expect(try browser.elements("fieldset.missing").count == 1)
        #expect(try browser.element("fieldset.missing").id == (try browser.element("#question-4").id))
        #expect(try demo.openSurveyVotes() == [[0, 0, 0, 0], [0, 0, 0, 0]])
        try Self.save(try browser.fullPageScreenshot(), as: "form-error.png")
        // Completing it now works, without choosing the first answer again.
        try browser.click(try browser.element("#question-4 label:nth-of-type(2)"))
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return location.pathname === '/surveys/2/thanks'")
        #expect(try demo.openSurveyVotes() == [[0, 0, 1, 0], [0, 1, 0, 0]])
    }

    @Test func aSecondBallotFromTheSameBrowserIsRefused() throws {
        let demo = try DemoSite()
        let browser = try Self.browser()
        try browser.open(demo.base + "/surveys/2")
        try browser.click(try browser.element("#question-3 label:nth-of-type(1)"))
        try browser.click(try browser.element("#question-4 label:nth-of-type(1)"))
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return location.pathname === '/surveys/2/thanks'")
        // Back to the form (as the history button does) and vote again.
        try browser.run("history.back()")
        try browser.waitUntil("return location.pathname === '/surveys/2' && document.readyState === 'complete'")
        if try browser.elements("form button[type=submit]").isEmpty {
            // The page was reloaded rather than restored: it already says the vote counted.
            #expect(try browser.run("return document.querySelector('h1').innerText") as? String == "Thank you")
            try browser.open(demo.base + "/static/style.css")
        } else {
            try browser.click(try browser.element("#question-3 label:nth-of-type(2)"))
            try browser.click(try browser.element("#question-4 label:nth-of-type(2)"))
            try browser.click(try browser.element("form button[type=submit]"))
            try browser.waitUntil(
                "return document.readyState === 'complete' && !document.querySelector('form button[type=submit]')")
            #expect(
                try browser.run("return document.querySelector('h1').innerText") as? String == "You have already voted")
        }
        // However the page came back, a ballot posted by this browser now is refused.
        try browser.open(demo.base + "/surveys/2/thanks")
        let status = try browser.runAsync(
            """
            const done = arguments[arguments.length - 1];
            fetch('/surveys/2', {method: 'POST', body: new URLSearchParams('q3=8&q4=12'), redirect: 'manual'})
              .then(r => done(r.status), e => done(String(e)));
            """)
        #expect(status as? Int == 409)
        #expect(try demo.openSurveyVotes() == [[1, 0, 0, 0], [1, 0, 0, 0]])
    }

    /// The form Chromium posts carries its receipt: two sends of one filled-in form count once.
    /// At a kiosk (any number of ballots per browser), the next person's same answers on the form
    /// "back" brings count too.
    @Test func aFormSentTwiceCountsOnceAndTheNextFormAfterBackCountsAgain() throws {
        let demo = try DemoSite(["--ballots-per-browser", "any"])
        let browser = try Self.browser()
        try browser.open(demo.base + "/surveys/2")
        func receipt() throws -> String {
            try #require(try browser.run("return new FormData(document.forms[0]).get('receipt')") as? String)
        }
        func chooseTheFirstAnswers() throws {
            try browser.click(try browser.element("#question-3 label:nth-of-type(1)"))
            try browser.click(try browser.element("#question-4 label:nth-of-type(1)"))
        }
        let first = try receipt()
        #expect(first.count == 22, "\(first)")
        try chooseTheFirstAnswers()
        let answers = try browser.runAsync(
            """
            const done = arguments[arguments.length - 1];
            const send = () => fetch('/surveys/2', {method: 'POST', body: new URLSearchParams(new FormData(document.forms[0])), redirect: 'manual'});
            Promise.all([send(), send()]).then(rs => done(rs.map(r => r.type)), e => done(String(e)));
            """)
        #expect(answers as? [String] == ["opaqueredirect", "opaqueredirect"], "\(String(describing: answers))")
        #expect(try demo.openSurveyVotes() == [[1, 0, 0, 0], [1, 0, 0, 0]])

        try browser.open(demo.base + "/surveys/2")
        let second = try receipt()
        #expect(second != first)
        try chooseTheFirstAnswers()
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return location.pathname === '/surveys/2/thanks'")
        try browser.run("history.back()")
        try browser.waitUntil(
            "return location.pathname === '/surveys/2' && document.readyState === 'complete' && document.forms.length === 1"
        )
        // Chromium restores the voted page from its back/forward cache, receipt and all, even
        // with `no-store`: the "sent" cookie tells the server that this form was answered already.
        try chooseTheFirstAnswers()
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return location.pathname === '/surveys/2/thanks'")
        #expect(try demo.openSurveyVotes() == [[3, 0, 0, 0], [3, 0, 0, 0]])
    }

    /// The database stays locked past the ballot deadline: the voter gets the form back, filled
    /// in, says so in words, and voting again once it is free counts the ballot once.
    @Test func aBallotTheDatabaseCouldNotTakeGivesTheFormBackFilledIn() throws {
        let demo = try DemoSite(["--ballot-deadline", "1"])
        let browser = try Self.browser()
        try browser.open(demo.base + "/surveys/2")
        let receipt = try #require(
            try browser.run("return new FormData(document.forms[0]).get('receipt')") as? String)
        try browser.click(try browser.element("#question-3 label:nth-of-type(2)"))
        try browser.click(try browser.element("#question-4 label:nth-of-type(1)"))
        let holder = try ScriptProcess.holdingTheWriteLock(of: demo.site.database)
        defer { holder.stop() }
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil(
            "return document.readyState === 'complete' && document.querySelector('[role=alert]') !== null")
        let alert = try #require(
            try browser.run("return document.querySelector('[role=alert]').textContent") as? String)
        #expect(alert.contains("your vote was not recorded"), "\(alert)")
        let kept = try browser.run(
            """
            const form = new FormData(document.forms[0]);
            return [form.get('receipt'), form.get('q3'), form.get('q4')];
            """)
        #expect(kept as? [String] == [receipt, "8", "11"], "\(String(describing: kept))")
        try Self.save(try browser.screenshot(), as: "form-not-recorded.png")
        holder.input("done\n")
        #expect(try holder.waitUntilExit() == 0)
        #expect(try demo.openSurveyVotes() == [[0, 0, 0, 0], [0, 0, 0, 0]])
        try browser.click(try browser.element("form button[type=submit]"))
        try browser.waitUntil("return location.pathname === '/surveys/2/thanks'")
        #expect(try demo.openSurveyVotes() == [[0, 1, 0, 0], [1, 0, 0, 0]])
    }

    @Test func ballotsPostedFromAnotherOriginAreRefused() throws {
        let demo = try DemoSite()
        let browser = try Self.browser()
        // A page on another origin (another port) with a form that posts to the survey.
        let other = try TemporaryDirectory()
        try other.write(
            "evil.html",
            """
            <!doctype html><title>Win a prize</title>
            <form method="post" action="\(demo.base)/surveys/2">
            <input type="hidden" name="q3" value="7"><input type="hidden" name="q4" value="11">
            <button type="submit">Claim</button></form>
            """)
        let port = try BrowserSession.freePort()
        let evilServer = Process()
        evilServer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        evilServer.arguments = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "\(port)", "-d", other.path]
        evilServer.standardOutput = FileHandle.nullDevice
        evilServer.standardError = FileHandle.nullDevice
        try evilServer.run()
        defer {
            kill(evilServer.processIdentifier, SIGKILL)  // SIGTERM may be blocked in children of the test process
            evilServer.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(10)
        while (try? RawHTTP.send(port: port, target: "/evil.html").status) != 200 && Date() < deadline {
            usleep(50_000)
        }
        try browser.open("http://127.0.0.1:\(port)/evil.html")
        try browser.click(try browser.element("button"))
        try browser.waitUntil("return location.port === '\(demo.server.port)' && document.readyState === 'complete'")
        #expect(try browser.run("return document.querySelector('h1').innerText") as? String == "Ballot refused")
        // An opaque origin (a data: page) is refused too.
        try browser.open(
            "data:text/html,<form method=post action=\"\(demo.base)/surveys/2\"><input name=q3 value=7>"
                + "<input name=q4 value=11><button>go</button></form>")
        try browser.click(try browser.element("button"))
        try browser.waitUntil("return location.port === '\(demo.server.port)' && document.readyState === 'complete'")
        #expect(try browser.run("return document.querySelector('h1').innerText") as? String == "Ballot refused")
        #expect(try demo.openSurveyVotes() == [[0, 0, 0, 0], [0, 0, 0, 0]])
    }

    // MARK: Results

    /// What the page shows of its charts, measured in the browser.
    static func chartReport(_ browser: BrowserSession) throws -> [[String: Any]] {
        try browser.runAsync(
            """
            const done = arguments[arguments.length - 1];
            const images = [...document.querySelectorAll('img.chart')];
            Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = r; i.onerror = r; })))
              .then(() => done(images.map(i => ({
                src: i.currentSrc, loaded: i.complete && i.naturalWidth > 0, natural: i.naturalWidth,
                shown: i.getBoundingClientRect().width }))));
            """) as? [[String: Any]] ?? []
    }

    @Test(arguments: [
        BrowserSession.Viewport.desktop(pixelRatio: 1), .desktop(pixelRatio: 2), .phone,
    ])
    func resultsPagesReadWellOnEveryScreen(viewport: BrowserSession.Viewport) throws {
        let demo = try DemoSite()
        let browser = try Self.browser(viewport)
        for survey in [1, 3, 4] {
            try browser.open(demo.base + "/surveys/\(survey)")
            let json = try demo.server.get("/surveys/\(survey)/results.json")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any])
            let questions = document["questions"] as? [[String: Any]] ?? []
            let charts = try Self.chartReport(browser)
            #expect(charts.count == questions.count, "survey \(survey) at \(viewport)")
            for (chart, question) in zip(charts, questions) {
                let src = chart["src"] as? String ?? ""
                let variant = question[viewport.isMobile ? "narrowChart" : "chart"] as? [String: String] ?? [:]
                let expected = variant[viewport.pixelRatio == 2 ? "2x" : "1x"] ?? "?"
                #expect(src.hasSuffix(expected), "survey \(survey) at \(viewport): \(src), wanted \(expected)")
                #expect(chart["loaded"] as? Bool == true, "\(src) did not load")
                let natural = chart["natural"] as? Double ?? 0
                let shown = chart["shown"] as? Double ?? 0
                #expect(natural > 0 && shown >= 0.9 * natural, "\(src) shown at \(shown) of \(natural) px")
            }
            let sideways =
                try browser.run(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth") as? Int
            #expect(sideways == 0, "survey \(survey) at \(viewport) scrolls sideways by \(sideways ?? -1) px")
            // The question heading is said once: the chart carries no title of its own.
            let headings =
                try browser.run(
                    "return [...document.querySelectorAll('section.question h2')].map(h => h.innerText)") as? [String]
            #expect(headings == questions.map { $0["text"] as? String ?? "" })
            #expect(try Self.consoleErrors(browser).isEmpty, "survey \(survey) at \(viewport)")
        }
        // The 12-answer question: its single vote out of 996 reads "<1%" in the table and alt text.
        let tiny =
            try browser.run(
                """
                const rows = [...document.querySelectorAll('table.results tbody tr')]
                  .filter(r => r.querySelector('th').innerText === 'A service nobody else has heard of');
                return [rows.map(r => r.lastElementChild.innerText), document.querySelector('img.chart').alt];
                """) as? [Any]
        #expect(tiny?.first as? [String] == ["<1%"])
        #expect((tiny?.last as? String)?.contains("A service nobody else has heard of: <1%") == true)
        // Number columns line up: every cell of a column has the same right edge as its heading.
        let aligned =
            try browser.run(
                """
                return [...document.querySelectorAll('table.results')].every(t => [2, 3].every(n => {
                  const edges = [...t.querySelectorAll(`tr > :nth-child(${n})`)].map(c => Math.round(c.getBoundingClientRect().right));
                  return edges.length > 1 && edges.every(e => e === edges[0]); }));
                """) as? Bool
        #expect(aligned == true)
        let name =
            viewport.isMobile
            ? "results-phone.png" : viewport.pixelRatio == 2 ? "results-desktop@2x.png" : "results-desktop.png"
        try browser.open(demo.base + "/surveys/4")
        _ = try Self.chartReport(browser)
        if viewport.isMobile {
            try Self.save(try browser.screenshot(), as: name)
        } else if viewport.pixelRatio == 1 {
            try Self.save(try browser.fullPageScreenshot(), as: name)
        }
    }

    @Test func theFormOnAPhoneFitsAndIsScreenshotted() throws {
        let demo = try DemoSite()
        let browser = try Self.browser(.phone)
        try browser.open(demo.base + "/surveys/2")
        let sideways =
            try browser.run(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth") as? Int
        #expect(sideways == 0)
        try Self.save(try browser.screenshot(), as: "form-phone.png")
        let desktop = try Self.browser()
        try desktop.open(demo.base + "/surveys/2")
        try Self.save(try desktop.fullPageScreenshot(), as: "form-desktop.png")
        try desktop.open(demo.base + "/")
        try Self.save(try desktop.screenshot(), as: "home.png")
    }

    // MARK: Accessibility

    @Test func axeFindsNoSeriousOrCriticalViolations() throws {
        let axePath = Self.packageRoot + "/.build/test-tools/axe.min.js"
        let axe = try #require(
            try? String(contentsOfFile: axePath, encoding: .utf8),
            "axe-core is missing at \(axePath): `make test` fetches it (scripts/fetch-axe.sh)")
        let demo = try DemoSite()
        for viewport in [BrowserSession.Viewport.desktop(), .phone] {
            let browser = try Self.browser(viewport)
            var pages = ["/", "/surveys/2", "/surveys/1", "/surveys/4", "/surveys/999", "/no/such/page"]
            pages.append("/surveys/2/thanks")
            for page in pages {
                try browser.open(demo.base + page)
                try browser.run(axe)
                let result =
                    try browser.runAsync(
                        """
                        const done = arguments[arguments.length - 1];
                        axe.run(document).then(r => done({passes: r.passes.length,
                            violations: r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                              target: v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}))}),
                          e => done({passes: 0, violations: [{id: 'axe-error', impact: 'critical', target: String(e)}]}));
                        """) as? [String: Any] ?? [:]
                // axe really ran: it checked rules and they passed.
                #expect(result["passes"] as? Int ?? 0 > 10, "\(page) at \(viewport): axe did not run")
                let violations = result["violations"] as? [[String: Any]] ?? []
                let serious = violations.filter { ["serious", "critical"].contains($0["impact"] as? String ?? "") }
                #expect(serious.isEmpty, "\(page) at \(viewport): \(serious)")
                if !violations.isEmpty { print("axe, \(page) at \(viewport), minor or moderate: \(violations)") }
            }
            // The form with an error shown.
            try browser.open(demo.base + "/surveys/2")
            try browser.click(try browser.element("form button[type=submit]"))
            try browser.waitUntil("return document.querySelector('[role=alert]') !== null")
            try browser.run(axe)
            let violations =
                try browser.runAsync(
                    """
                    const done = arguments[arguments.length - 1];
                    axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
                      .filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)));
                    """) as? [String] ?? ["axe did not answer"]
            #expect(violations.isEmpty, "form with an error at \(viewport): \(violations)")
        }
    }
}
