import Foundation
import TestSupport
import Testing

/// An operator's day in a real browser: sign in, create a survey with three questions, watch a
/// second browser vote, close the survey, see its charts on the public page, export the CSV.
extension BrowserTests {
    /// The site operator's password.
    static func demoPassword(_ demo: DemoSite) throws -> String { demo.operatorPassword }

    static func type(_ browser: BrowserSession, _ selector: String, _ text: String) throws {
        try browser.type(text, into: try browser.element(selector))
    }

    /// Serious and critical axe-core violations on the page shown (axe must really run).
    static func seriousAxeViolations(_ browser: BrowserSession) throws -> [String] {
        let axePath = packageRoot + "/.build/test-tools/axe.min.js"
        let axe = try #require(
            try? String(contentsOfFile: axePath, encoding: .utf8),
            "axe-core is missing at \(axePath): `make test` fetches it (scripts/fetch-axe.sh)")
        try browser.run(axe)
        let result =
            try browser.runAsync(
                """
                const done = arguments[arguments.length - 1];
                axe.run(document).then(r => done({passes: r.passes.length, serious: r.violations
                  .filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))}),
                  e => done({passes: 0, serious: [String(e)]}));
                """) as? [String: Any] ?? [:]
        #expect(result["passes"] as? Int ?? 0 > 10, "axe did not run")
        return result["serious"] as? [String] ?? ["axe did not answer"]
    }

    @Test func anOperatorRunsASurveyFromSignInToExport() throws {
        let demo = try DemoSite()
        let password = try Self.demoPassword(demo)
        let admin = try Self.browser()

        // Signing in: the admin address sends a browser to the sign-in page and back.
        try admin.open(demo.base + "/admin")
        try admin.waitUntil("return location.pathname === '/admin/login'")
        #expect(try Self.seriousAxeViolations(admin).isEmpty)
        try Self.type(admin, "#name", "demo")
        try Self.type(admin, "#password", "not the password")
        try admin.click(try admin.element("form.admin-form button[type=submit]"))
        try admin.waitUntil("return document.querySelector('[role=alert]') !== null")
        #expect(try Self.alerts(admin) == ["That name and password do not match an operator."])
        #expect(try Self.consoleErrors(admin).map { $0.hasSuffix("status of 401 (Unauthorized)") } == [true])
        try Self.type(admin, "#password", password)
        try admin.click(try admin.element("form.admin-form button[type=submit]"))
        try admin.waitUntil("return location.pathname === '/admin' && document.readyState === 'complete'")
        let session = try admin.cookies().first { $0["name"] as? String == "surveycharts_session" }
        #expect(session?["httpOnly"] as? Bool == true && session?["sameSite"] as? String == "Strict")
        #expect(try admin.run("return document.querySelectorAll('table.admin-list tbody tr').length") as? Int == 5)
        try Self.save(try admin.screenshot(), as: "admin-surveys.png")

        // A new survey with three questions; a mistake first.
        try admin.click(try admin.element("a[href='/admin/surveys/new']"))
        try admin.waitUntil("return location.pathname === '/admin/surveys/new'")
        #expect(try Self.seriousAxeViolations(admin).isEmpty)
        try Self.type(admin, "#title", "Team lunch")
        let questions = [
            ("Where shall we eat?", ["The canteen", "Da Mario", "The park"]),
            ("When?", ["Noon", "One o'clock"]),
            ("Vegetarian?", ["Yes", "No", "Sometimes"]),
        ]
        for (q, (text, answers)) in questions.enumerated() {
            try Self.type(admin, "#q\(q)-text", text)
            for (a, answer) in answers.enumerated() { try Self.type(admin, "#q\(q)-a\(a)-text", answer) }
        }
        try Self.type(admin, "#q1-a2-text", "noon")  // the same as "Noon"
        try admin.click(try admin.element("button[value=save]"))
        try admin.waitUntil("return document.querySelector('[role=alert]') !== null")
        #expect(try Self.alerts(admin) == ["Question 2, answer 3: repeats answer 1 (“noon”)."])
        #expect(try Self.consoleErrors(admin).map { $0.hasSuffix("status of 400 (Bad Request)") } == [true])
        #expect(
            try admin.run("return document.querySelector('#q1-a2-text').getAttribute('aria-invalid')") as? String
                == "true")
        #expect(try admin.property(try admin.element("#q2-a2-text"), "value") as? String == "Sometimes")
        #expect(try Self.seriousAxeViolations(admin).isEmpty)
        try Self.type(admin, "#q1-a2-text", "")
        try admin.click(try admin.element("button[value=save]"))
        try admin.waitUntil("return location.pathname === '/admin/surveys/6'")
        #expect(
            try admin.run("return document.querySelector('.notice').innerText") as? String == "The survey is created.")
        #expect(try Self.seriousAxeViolations(admin).isEmpty)

        // A voter, on a phone, finds it on the home page and votes.
        let voter = try Self.browser(.phone)
        try voter.open(demo.base + "/")
        try voter.click(try voter.element("a[href='/surveys/6']"))
        try voter.waitUntil("return location.pathname === '/surveys/6'")
        let voterQuestions = try voter.elements("form fieldset")
        #expect(voterQuestions.count == 3)
        try voter.click(try voter.element("fieldset:nth-of-type(1) label:nth-of-type(2)"))
        try voter.click(try voter.element("fieldset:nth-of-type(2) label:nth-of-type(1)"))
        try voter.click(try voter.element("fieldset:nth-of-type(3) label:nth-of-type(3)"))
        try voter.click(try voter.element("form button[type=submit]"))
        try voter.waitUntil("return location.pathname === '/surveys/6/thanks'")
        // Results stay hidden from the public while the survey is open...
        try voter.open(demo.base + "/surveys/6/results.json")
        #expect(try voter.run("return document.body.innerText.includes('not_completed')") as? Bool == true)
        #expect(try Self.consoleErrors(voter).map { $0.hasSuffix("status of 404 (Not Found)") } == [true])

        // ...while the operator sees the live counts.
        try admin.open(demo.base + "/admin/surveys/6")
        let counts =
            try admin.run(
                """
                return [...document.querySelectorAll('table.counts')].map(t =>
                  [...t.querySelectorAll('tbody tr')].map(r => r.querySelector('td').innerText));
                """) as? [[String]]
        #expect(counts == [["0", "1", "0"], ["1", "0"], ["0", "0", "1"]])
        #expect(try admin.text(try admin.element("#counts-heading")).hasPrefix("Live counts"))
        try Self.save(try admin.fullPageScreenshot(), as: "admin-survey.png")

        // Close now: the results and their charts are public at once.
        try admin.click(try admin.element("form[action='/admin/surveys/6/close'] button"))
        try admin.waitUntil("return location.search === '?done=closed'")
        #expect(try admin.text(try admin.element("#counts-heading")) == "Final counts (public)")
        try voter.open(demo.base + "/surveys/6")
        let charts = try Self.chartReport(voter)
        #expect(charts.count == 3)
        #expect(charts.allSatisfy { $0["loaded"] as? Bool == true }, "\(charts)")
        let voterErrors = try Self.consoleErrors(voter)
        #expect(voterErrors.isEmpty, "\(voterErrors)")

        // The CSV, fetched as the browser fetches it, parses back to the counts.
        let csv =
            try admin.runAsync(
                """
                const done = arguments[arguments.length - 1];
                fetch('/admin/surveys/6/export.csv').then(r => r.arrayBuffer())
                  .then(b => done(Array.from(new Uint8Array(b))), e => done(String(e)));
                """) as? [Int] ?? []
        #expect(csv.prefix(3) == [0xEF, 0xBB, 0xBF])
        let rows = try CSV.parse(String(decoding: csv.dropFirst(3).map(UInt8.init), as: UTF8.self))
        #expect(rows.first == ["survey", "question", "answer", "votes", "percent"])
        #expect(
            rows.dropFirst().map { [$0[1], $0[2], $0[3], $0[4]] } == [
                ["Where shall we eat?", "The canteen", "0", "0"], ["Where shall we eat?", "Da Mario", "1", "100"],
                ["Where shall we eat?", "The park", "0", "0"], ["When?", "Noon", "1", "100"],
                ["When?", "One o'clock", "0", "0"], ["Vegetarian?", "Yes", "0", "0"], ["Vegetarian?", "No", "0", "0"],
                ["Vegetarian?", "Sometimes", "1", "100"],
            ])
        #expect(rows.dropFirst().allSatisfy { $0[0] == "Team lunch" })

        // The delete page asks for the title; the phone layout never scrolls sideways.
        let phone = try Self.browser(.phone)
        try phone.open(demo.base + "/admin/login")
        try Self.type(phone, "#name", "demo")
        try Self.type(phone, "#password", password)
        try phone.click(try phone.element("form.admin-form button[type=submit]"))
        try phone.waitUntil("return location.pathname === '/admin'")
        for page in ["/admin", "/admin/surveys/6", "/admin/surveys/new", "/admin/surveys/6/delete"] {
            try phone.open(demo.base + page)
            let sideways =
                try phone.run("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                as? Int
            #expect(sideways == 0, "\(page) scrolls sideways on a phone by \(sideways ?? -1) px")
        }
        #expect(try Self.seriousAxeViolations(phone).isEmpty)
        try Self.save(try phone.screenshot(), as: "admin-delete-phone.png")

        // Signing out ends the session: the admin pages ask to sign in again.
        try admin.click(try admin.element("form[action='/admin/logout'] button"))
        try admin.waitUntil("return location.pathname === '/admin/login'")
        try admin.open(demo.base + "/admin/surveys/6")
        try admin.waitUntil("return location.pathname === '/admin/login'")
        let errors = try Self.consoleErrors(admin)
        #expect(errors.isEmpty, "\(errors)")
    }
}
