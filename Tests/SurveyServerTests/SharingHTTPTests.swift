import Foundation
import TestSupport
import Testing

/// Results people share, embed and print, over HTTP against the real binary: stable addresses,
/// share-card meta, oEmbed, SVG charts and PDF reports, each made once through the cache.
@Suite("Sharing over HTTP", .serialized, .timeLimit(.minutes(4)))
struct SharingHTTPTests {
    static let publicURL = "https://surveys.example.org"

    /// The demo site with its public address.
    static func site(_ extra: [String] = []) throws -> (ServerTests.Site, ServerProcess) {
        let site = try ServerTests.Site()
        let server = try site.serve(["--public-url", publicURL + "/"] + extra)
        return (site, server)
    }

    static func results(_ server: ServerProcess, _ survey: Int) throws -> [[String: Any]] {
        let body = try server.get("/surveys/\(survey)/results.json").body
        return (try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["questions"] as? [[String: Any]]
            ?? []
    }

    /// Follows one 307 and checks its caching.
    static func follow(_ server: ServerProcess, _ path: String) throws -> (location: String, file: RawHTTPResponse) {
        let redirect = try server.get(path)
        #expect(redirect.status == 307, "\(path): \(redirect.status)")
        #expect(redirect.header("Cache-Control") == "public, max-age=60", "\(path)")
        let location = try #require(redirect.header("Location"), "\(path)")
        #expect(location.hasPrefix("/piecharts/"), "\(path) → \(location)")
        return (location, try server.get(location))
    }

    @Test func stableAddressesRedirectToTheCurrentFiles() throws {
        let (site, server) = try Self.site()
        // The site owns the temporary directory the server writes to: it lives as long as the server.
        defer {
            server.stop()
            withExtendedLifetime(site) {}
        }
        let question = try #require(try Self.results(server, 1).first)
        let chart = question["chart"] as? [String: String] ?? [:]
        let narrow = question["narrowChart"] as? [String: String] ?? [:]
        for (path, expected) in [
            ("/surveys/1/charts/1.png", chart["1x"]), ("/surveys/1/charts/1@2x.png", chart["2x"]),
            ("/surveys/1/charts/1-narrow.png", narrow["1x"]), ("/surveys/1/charts/1-narrow@2x.png", narrow["2x"]),
        ] {
            let (location, file) = try Self.follow(server, path)
            #expect(location == expected, "\(path)")
            #expect(file.status == 200 && file.header("Content-Type") == "image/png", "\(path)")
        }
        let (svgLocation, svg) = try Self.follow(server, "/surveys/1/charts/1.svg")
        #expect(svgLocation.hasSuffix(".svg") && svg.status == 200)
        #expect(svg.header("Content-Type") == "image/svg+xml" && svg.header("X-Content-Type-Options") == "nosniff")
        #expect(svg.header("Content-Security-Policy") == "default-src 'none'; style-src 'unsafe-inline'")
        #expect(svg.text.contains("role=\"img\"") && svg.text.contains("<desc id=\"chart-desc\">Comedy: 40%"))
        let (_, report) = try Self.follow(server, "/surveys/1/report.pdf")
        #expect(report.status == 200 && report.header("Content-Type") == "application/pdf")
        #expect(Array(report.body.prefix(5)) == Array("%PDF-".utf8))
        // Read back: every question, answer and count that results.json gives.
        let directory = try TemporaryDirectory()
        let file = try directory.write("report.pdf", "")
        try Data(report.body).write(to: URL(fileURLWithPath: file))
        let text = try Executable.start(program: "/usr/bin/pdftotext", [file, "-"]).finish(within: .seconds(30))
        #expect(text.status == 0, "\(text.standardError)")
        for question in try Self.results(server, 1) {
            #expect(text.standardOutput.contains(question["text"] as? String ?? "?"))
            for answer in question["answers"] as? [[String: Any]] ?? [] {
                #expect(text.standardOutput.contains(answer["text"] as? String ?? "?"), "\(answer)")
                #expect(text.standardOutput.contains("\(answer["votes"] as? Int ?? -1)"), "\(answer)")
            }
        }
        let fonts = try Executable.start(program: "/usr/bin/pdffonts", [file]).finish(within: .seconds(30))
        #expect(fonts.standardOutput.split(separator: "\n").dropFirst(2).allSatisfy { $0.contains(" yes yes ") })
        let (_, card) = try Self.follow(server, "/surveys/1/card.png")
        #expect(card.status == 200 && card.header("Content-Type") == "image/png")
        // The PNG's IHDR: 1200×630.
        #expect(Array(card.body[16..<24]) == [0, 0, 0x04, 0xB0, 0, 0, 0x02, 0x76])
        // Nothing of a survey still open, nothing that is not a question of the survey, no other shape.
        for path in [
            "/surveys/2/charts/3.png", "/surveys/2/report.pdf", "/surveys/2/card.png", "/surveys/1/charts/3.png",
            "/surveys/1/charts/01.png", "/surveys/1/charts/1.gif", "/surveys/1/charts/1-narrow.svg",
            "/surveys/1/charts/1@3x.png", "/surveys/999/charts/1.png",
        ] {
            #expect(try server.get(path).status == 404, "\(path)")
        }
    }

    @Test func resultsPagesCarryShareCardsEmbedsAndPrintStyles() throws {
        let (site, server) = try Self.site()
        // The site owns the temporary directory the server writes to: it lives as long as the server.
        defer {
            server.stop()
            withExtendedLifetime(site) {}
        }
        let page = try server.get("/surveys/3").text
        let base = Self.publicURL
        for meta in [
            "<meta property=\"og:title\" content=\"电视节目调查\">",
            "<meta property=\"og:description\" content=\"你最喜欢哪种类型的电视节目？ 获胜答案：喜剧\">",
            "<meta property=\"og:url\" content=\"\(base)/surveys/3\">",
            "<meta name=\"twitter:card\" content=\"summary_large_image\">",
            "<meta property=\"og:image:width\" content=\"1200\">",
            "<link rel=\"alternate\" type=\"application/json+oembed\" href=\"\(base)/oembed?url=\(base)/surveys/3&amp;format=json\"",
        ] {
            #expect(page.contains(meta), "\(meta)")
        }
        let image = try #require(
            page.firstMatch(of: /<meta property="og:image" content="([^"]+)">/).map { String($0.1) })
        #expect(image.hasPrefix(base + "/piecharts/s3-") && image.hasSuffix(".png"))
        let card = try server.get(String(image.dropFirst(base.count)))
        #expect(card.status == 200 && card.header("Content-Type") == "image/png")
        #expect(page.contains("<meta property=\"og:image:alt\" content=\"电视节目调查. 你最喜欢哪种类型的电视节目？"))
        // One embed snippet per question: read-only, labelled, its stable addresses absolute.
        let boxes = page.matches(of: /<textarea id="embed-(\d+)" readonly[^>]*>([^<]*)<\/textarea>/)
        #expect(boxes.count == 2)
        let snippet = try #require(boxes.first.map { String($0.2) })
        #expect(snippet.contains("&lt;a href=&quot;\(base)/surveys/3&quot;"))
        #expect(snippet.contains("src=&quot;\(base)/surveys/3/charts/5.png&quot;"))
        #expect(snippet.contains("alt=&quot;喜剧：44%、电视剧：28%、真人秀：19%、纪录片：9%&quot;"))
        #expect(!snippet.contains("<script") && !snippet.lowercased().contains("script"))
        #expect(page.contains("<label for=\"embed-5\">"))
        #expect(page.contains(/<source media="print" srcset="\/piecharts\/q5-[0-9a-f]{16}@2x\.png">/))
        // Without a public address, no card meta that needs one.
        let otherSite = try ServerTests.Site()
        let other = try otherSite.serve()
        defer {
            other.stop()
            withExtendedLifetime(otherSite) {}
        }
        let plain = try other.get("/surveys/3").text
        #expect(plain.contains("og:title") && !plain.contains("og:image\"") && !plain.contains("og:url"))
        #expect(plain.contains("src=&quot;/surveys/3/charts/5.png&quot;"))
        // oEmbed's embeds live on other sites: without the site's own address there are none.
        #expect(try other.get("/oembed?url=http://127.0.0.1/surveys/3").status == 404)
    }

    @Test func oEmbedAnswersForResultsAndCharts() throws {
        let (site, server) = try Self.site()
        // The site owns the temporary directory the server writes to: it lives as long as the server.
        defer {
            server.stop()
            withExtendedLifetime(site) {}
        }
        func oEmbed(_ query: String) throws -> (status: Int, object: [String: Any]) {
            let response = try server.get("/oembed?" + query)
            return (
                response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
            )
        }
        let base = Self.publicURL
        let rich = try oEmbed("url=\(base)/surveys/1&format=json")
        #expect(
            rich.status == 200 && rich.object["type"] as? String == "rich" && rich.object["version"] as? String == "1.0"
        )
        #expect(rich.object["width"] as? Int == 640 && rich.object["title"] as? String == "Television Trends")
        #expect((rich.object["html"] as? String)?.hasPrefix("<a href=\"\(base)/surveys/1\"") == true)
        #expect((rich.object["thumbnail_url"] as? String)?.hasPrefix(base + "/piecharts/s1-") == true)
        let narrow = try oEmbed("url=\(base)/surveys/1&maxwidth=400")
        #expect(
            narrow.object["width"] as? Int == 340 && (narrow.object["html"] as? String)?.contains("-narrow.png") == true
        )
        let photo = try oEmbed("url=\(base)/surveys/1/charts/2.png")
        #expect(
            photo.object["type"] as? String == "photo"
                && photo.object["url"] as? String == "\(base)/surveys/1/charts/2.png")
        #expect(try oEmbed("url=\(base)/surveys/1&format=xml").status == 501)
        for refused in [
            "url=\(base)/surveys/2", "url=https://elsewhere.example/surveys/1", "url=\(base)/surveys/1&maxwidth=100",
            "",
            "url=\(base)/admin",
        ] {
            let answer = try oEmbed(refused)
            #expect(answer.status == 404, "\(refused): \(answer.status)")
        }
    }

    /// The same survey gives the same SVG, card and report bytes in two processes with two chart directories.
    @Test func everyFormatIsTheSameInEveryProcess() throws {
        let (site, first) = try Self.site()
        let elsewhere = try TemporaryDirectory()
        let second = try site.serve(["--charts-dir", elsewhere.path, "--public-url", Self.publicURL])
        defer {
            first.stop()
            second.stop()
            withExtendedLifetime((site, elsewhere)) {}
        }
        for path in [
            "/surveys/3/charts/5.svg", "/surveys/3/card.png", "/surveys/3/report.pdf", "/surveys/5/report.pdf",
        ] {
            let (one, a) = try Self.follow(first, path)
            let (two, b) = try Self.follow(second, path)
            #expect(one == two && a.status == 200 && a.body == b.body && !a.body.isEmpty, "\(path)")
        }
    }

    @Test func operatorsGetALiveReportOfAnOpenSurveyThatIsNeverStored() throws {
        let admin = try AdminSite()
        let (cookie, _) = try admin.signIn()
        let report = try admin.get("/admin/surveys/2/report.pdf", cookie: cookie)
        #expect(report.status == 200 && report.header("Content-Type") == "application/pdf")
        #expect(report.header("Cache-Control") == "no-store")
        #expect(report.header("Content-Disposition") == "inline; filename=\"survey-2-live.pdf\"")
        let directory = try TemporaryDirectory()
        let file = try directory.write("live.pdf", "")
        try Data(report.body).write(to: URL(fileURLWithPath: file))
        let text = try Executable.start(program: "/usr/bin/pdftotext", [file, "-"]).finish(within: .seconds(30))
        #expect(text.standardOutput.contains("Live counts: voting is still open"))
        #expect(
            text.standardOutput.contains("Weekend Viewing") && text.standardOutput.contains("When do you watch most?"))
        let stored = (try? FileManager.default.contentsOfDirectory(atPath: admin.site.charts)) ?? []
        #expect(!stored.contains { $0.hasPrefix("r2-") }, "a live report reached the public chart directory")
        #expect(try admin.get("/admin/surveys/2/report.pdf", cookie: nil).status != 200)
        #expect(try admin.server.get("/surveys/2/report.pdf").status == 404)
    }

    @Test func theChartAPIDrawsSVGToo() throws {
        let (site, server) = try Self.site()
        // The site owns the temporary directory the server writes to: it lives as long as the server.
        defer {
            server.stop()
            withExtendedLifetime(site) {}
        }
        let spec = #"{"slices": [{"label": "A", "value": 2}, {"label": "B", "value": 1}], "format": "svg"}"#
        let svg = try server.post("/api/charts/pie", body: spec, contentType: "application/json")
        #expect(svg.status == 200 && svg.header("Content-Type") == "image/svg+xml")
        #expect(svg.header("Content-Security-Policy") == "default-src 'none'; style-src 'unsafe-inline'")
        let location = try #require(svg.header("Content-Location"))
        #expect(location.hasPrefix("/piecharts/c-") && location.hasSuffix(".svg"))
        #expect(try server.get(location).body == svg.body)
        let bad = try server.post(
            "/api/charts/pie", body: #"{"slices": [{"label": "A", "value": 2}], "format": "gif"}"#,
            contentType: "application/json")
        #expect(bad.status == 400 && bad.text.contains("\"field\":\"format\""))
    }
}
