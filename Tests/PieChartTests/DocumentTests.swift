import CCairo
import Foundation
import Localization
import TestSupport
import Testing

@testable import PieChart

/// The chart as SVG, the share card and the PDF report, checked with the tools their readers'
/// software is made of: librsvg draws the SVG back to pixels, poppler reads the PDF.
@Suite("Documents: SVG, share cards, PDF reports", .timeLimit(.minutes(3)))
struct DocumentTests {
    static func run(_ program: String, _ arguments: [String]) throws -> Executable.Result {
        try #require(
            FileManager.default.isExecutableFile(atPath: program),
            "\(program) is missing: `make test` installs poppler-utils and librsvg2-bin")
        return try Executable.start(program: program, arguments).finish(within: .seconds(60))
    }

    // MARK: SVG

    @Test func svgIsTheSameChartAsThePNG() throws {
        let directory = try TemporaryDirectory()
        for spec in [try Fixtures.newShows(), try Fixtures.favouriteType()] {
            let svg = try PieChartRenderer().renderSVG(spec)
            #expect(try PieChartRenderer().renderSVG(spec) == svg, "the same spec gives the same bytes")
            let text = String(decoding: svg, as: UTF8.self)
            #expect(text.contains("<svg") && text.contains(" role=\"img\" aria-labelledby=\"chart-title chart-desc\""))
            #expect(text.contains("<desc id=\"chart-desc\">\(SVGDocument.escaped(spec.altText))</desc>"))
            #expect(text.contains("<title id=\"chart-title\">\(SVGDocument.escaped(spec.title ?? ""))</title>"))
            #expect(!text.contains("id=\"surface") && !text.contains("id=\"glyph"), "ids renumbered")
            // Drawn back to pixels by librsvg, it matches the PNG: every pixel within the
            // antialiasing of two rasterizers (at most 2 % of pixels differ by more than 48 per
            // channel, and on average less than 3).
            let file = try directory.write("chart.svg", text)
            let drawn = directory.path + "/chart-svg.png"
            let result = try Self.run(
                "/usr/bin/rsvg-convert",
                ["-w", "\(spec.width)", "-h", "\(spec.height)", "-b", "white", "-o", drawn, file])
            #expect(result.status == 0, "\(result.standardError)")
            let fromSVG = try DecodedPNG(Array(try Data(contentsOf: URL(fileURLWithPath: drawn))))
            let fromPNG = try DecodedPNG(try PieChartRenderer().render(spec).png)
            #expect(fromSVG.width == fromPNG.width && fromSVG.height == fromPNG.height)
            var far = 0
            var total = 0
            for (a, b) in zip(fromSVG.pixels, fromPNG.pixels) {
                let difference = ReferenceChartTests.largestChannelDifference(a, b)
                total += difference
                if difference > 48 { far += 1 }
            }
            #expect(Double(far) / Double(fromPNG.pixels.count) < 0.02, "\(far) pixels far apart")
            #expect(Double(total) / Double(fromPNG.pixels.count) < 3, "mean difference \(total / fromPNG.pixels.count)")
        }
    }

    @Test func svgTextIsEscapedByScalar() throws {
        let spec = try ChartSpec(
            title: "\u{600}<script>&\"", slices: [.init(label: "a\u{301}<b>", value: 1), .init(label: "x", value: 1)])
        let text = String(decoding: try PieChartRenderer().renderSVG(spec), as: UTF8.self)
        #expect(!text.contains("<script") && !text.contains("<b>"))
        #expect(text.contains("\u{600}&lt;script&gt;&amp;&quot;"))
    }

    // MARK: Cards

    @Test func aCardIs1200By630AndMirrorsForRightToLeft() throws {
        func card(_ locale: String) throws -> DecodedPNG {
            let chart = try ChartSpec(
                slices: [.init(label: "Comedy", value: 3), .init(label: "Drama", value: 1)],
                locale: try LanguageTag(parsing: locale))
            let card = try ShareCard(
                title: "Television", question: "Favourite?", highlight: "Winner: Comedy", footer: "Results",
                chart: chart)
            let bytes = try PieChartRenderer().render(card: card)
            #expect(try PieChartRenderer().render(card: card) == bytes)
            return try DecodedPNG(bytes)
        }
        let ltr = try card("en")
        let rtl = try card("he")
        #expect(ltr.width == 1200 && ltr.height == 630)
        // The accent band is on the start side.
        let accent = Palette.slices[0].rgb
        #expect(ltr.color(x: 4, y: 300) == accent && ltr.color(x: 1195, y: 300) != accent)
        #expect(rtl.color(x: 1195, y: 300) == accent && rtl.color(x: 4, y: 300) != accent)
    }

    // MARK: Reports

    static func report(locale: String = "en", live: Bool = false) throws -> ChartReport {
        let tag = try LanguageTag(parsing: locale)
        let answers = [("Comedy", 1234), ("Drama", 2), ("喜剧 Reality", 1)]
        let chart = try ChartSpec(slices: answers.map { .init(label: $0.0, value: $0.1) }, locale: tag)
        let section = ChartReport.Section(
            heading: "Which show?", summary: "Winner: Comedy", chart: chart, columns: ["Answer", "Votes", "Share"],
            rows: answers.map { ChartReport.Row(label: $0.0, votes: "\($0.1)", share: "x") },
            total: ChartReport.Row(label: "Total", votes: "1237", share: "100%", emphasized: true))
        var second = section
        second.heading = "Second question, 二"
        return ChartReport(
            title: "Television Trends 电视", coverLines: ["Open 1 to 29 November", "1,237 ballots"],
            notice: live ? "Live counts" : nil, sections: [section, second], pageLabel: "Page {page} of {pages}",
            madeLine: "Made on 30 November 2026", locale: tag, paper: .of(tag), createdAt: "2026-11-30T00:00:00Z")
    }

    @Test func aReportReadsBackWithEveryWordAndNumberAndEmbeddedFonts() throws {
        let directory = try TemporaryDirectory()
        let report = try Self.report()
        let pdf = try PieChartRenderer().renderPDF(report)
        #expect(try PieChartRenderer().renderPDF(report) == pdf, "the same report gives the same bytes")
        let file = directory.path + "/report.pdf"
        try Data(pdf).write(to: URL(fileURLWithPath: file))
        let text = try Self.run("/usr/bin/pdftotext", ["-layout", file, "-"])
        #expect(text.status == 0, "\(text.standardError)")
        for word in [
            "Television Trends 电视", "Which show?", "Second question, 二", "Comedy", "Drama", "喜剧 Reality", "1234",
            "1237", "Page 1 of 3", "Page 3 of 3", "Made on 30 November 2026", "1,237 ballots",
        ] {
            #expect(text.standardOutput.contains(word), "pdftotext does not find “\(word)”")
        }
        let info = try Self.run("/usr/bin/pdfinfo", [file])
        #expect(info.status == 0 && info.standardError.isEmpty, "\(info.standardError)")
        #expect(info.standardOutput.contains("Pages:           3"))
        #expect(info.standardOutput.contains("Title:           Television Trends 电视"))
        #expect(info.standardOutput.contains("Page size:       612 x 792 pts (letter)"), "en is en-US: Letter")
        #expect(info.standardOutput.contains("CreationDate:    Mon Nov 30 00:00:00 2026 UTC"))
        #expect(String(decoding: pdf, as: UTF8.self).contains("/Lang (en)"))
        let fonts = try Self.run("/usr/bin/pdffonts", [file])
        let rows = fonts.standardOutput.split(separator: "\n").dropFirst(2)
        #expect(!rows.isEmpty)
        for row in rows {
            let columns = row.split(separator: " ", omittingEmptySubsequences: true)
            // name, type…, encoding, emb, sub, uni, object, ID: emb and sub are 5th and 4th from the end.
            #expect(columns.count >= 6 && columns[columns.count - 5] == "yes", "not embedded: \(row)")
            #expect(columns[columns.count - 4] == "yes", "not subset: \(row)")
        }
        // A4 where the locale uses it, with the language declared.
        let french = try PieChartRenderer().renderPDF(try Self.report(locale: "fr"))
        let frenchFile = directory.path + "/fr.pdf"
        try Data(french).write(to: URL(fileURLWithPath: frenchFile))
        let frenchInfo = try Self.run("/usr/bin/pdfinfo", [frenchFile])
        #expect(frenchInfo.standardOutput.contains("(A4)") && frenchInfo.standardError.isEmpty)
        #expect(String(decoding: french, as: UTF8.self).contains("/Lang (fr)"))
    }

    @Test func aRightToLeftReportIsMirrored() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/ar.pdf"
        try Data(try PieChartRenderer().renderPDF(try Self.report(locale: "ar-EG"))).write(
            to: URL(fileURLWithPath: file))
        let page = try Self.run("/usr/bin/pdftotext", ["-f", "2", "-l", "2", "-bbox", file, "-"])
        #expect(page.status == 0)
        // The heading starts at the right margin: its box ends near the page's right edge.
        let heading = try #require(
            page.standardOutput.split(separator: "\n").first { $0.contains(">show?<") })
        let xMax = try #require(heading.firstMatch(of: /xMax="([0-9.]+)"/).flatMap { Double($0.1) })
        #expect(xMax > 595 - 56 - 40, "the heading's right end is at \(xMax) of a 595-point page")
    }
}

/// The committed references of the other formats (`make update-reference`), drawn again.
@Suite("Reference documents", .timeLimit(.minutes(2)))
struct ReferenceDocumentTests {
    static var reference: String { ReferenceChartTests.directory }
    /// The PNGs of docs/reference/ that are not charts (`ReferenceChartTests` compares the rest).
    static let pictures: Set<String> = ["share-card.png", "report-page-2.png"]

    @Test func theShareCardMatchesItsReference() throws {
        let fresh = try DecodedPNG(try PieChartRenderer().render(card: try ReferenceCharts.card()))
        let committed = try DecodedPNG(
            Array(try Data(contentsOf: URL(fileURLWithPath: Self.reference + "/share-card.png"))))
        #expect(ReferenceChartTests.differences(fresh: fresh, committed: committed).count == 0)
    }

    @Test func theSVGAndThePDFAreTheCommittedBytes() throws {
        let svg = try PieChartRenderer().renderSVG(try ReferenceCharts.all().first { $0.name == "tv-new-shows" }!.spec)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: Self.reference + "/tv-new-shows.svg"))) == svg)
        let pdf = try PieChartRenderer().renderPDF(try ReferenceCharts.report())
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: Self.reference + "/report.pdf"))) == pdf)
    }

    /// A page of the report, as poppler draws it, against the committed picture of it.
    @Test func aReportPageLooksLikeItsReference() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/report.pdf"
        try Data(try PieChartRenderer().renderPDF(try ReferenceCharts.report())).write(to: URL(fileURLWithPath: file))
        let drawn = directory.path + "/page"
        let result = try DocumentTests.run(
            "/usr/bin/pdftoppm", ["-r", "72", "-f", "2", "-l", "2", "-png", "-singlefile", file, drawn])
        #expect(result.status == 0, "\(result.standardError)")
        let fresh = try DecodedPNG(Array(try Data(contentsOf: URL(fileURLWithPath: drawn + ".png"))))
        let committed = try DecodedPNG(
            Array(try Data(contentsOf: URL(fileURLWithPath: Self.reference + "/report-page-2.png"))))
        #expect(fresh.width == committed.width && fresh.height == committed.height)
        var far = 0
        for (a, b) in zip(fresh.pixels, committed.pixels) where ReferenceChartTests.largestChannelDifference(a, b) > 32
        {
            far += 1
        }
        // Poppler's own antialiasing may move a few edge pixels between its versions.
        #expect(
            Double(far) / Double(max(1, committed.pixels.count)) < 0.002,
            "\(far) pixels differ from docs/reference/report-page-2.png by more than 32")
    }
}

extension DocumentTests {
    /// A title may hold the words Cairo's catalog is marked with: the language still goes into the
    /// catalog the trailer names, and the title stays as written.
    @Test func theLanguageGoesIntoTheCatalogWhateverTheTitleSays() throws {
        var report = try Self.report(locale: "de")
        report.title = "Poll /Type /Catalog results"
        let pdf = try PieChartRenderer().renderPDF(report)
        let text = String(decoding: pdf, as: UTF8.self)
        #expect(text.firstMatch(of: /<< \/Lang \(de\) \/Type \/Catalog/) != nil, "no /Lang in the catalog")
        let directory = try TemporaryDirectory()
        let file = directory.path + "/t.pdf"
        try Data(pdf).write(to: URL(fileURLWithPath: file))
        let info = try Self.run("/usr/bin/pdfinfo", [file])
        #expect(
            info.standardOutput.contains("Title:           Poll /Type /Catalog results") && info.standardError.isEmpty)
    }
}
