import Foundation
import TestSupport
import Testing

/// Sharing and printing as readers meet them, in Chromium.
extension BrowserTests {
    @Test func theEmbedBoxHoldsTheSnippetAndPrintingLeavesOnlyTheResults() throws {
        let demo = try DemoSite(["--public-url", "https://surveys.example.org"])
        let browser = try Self.browser()
        try browser.open(demo.base + "/surveys/1")
        _ = try Self.chartReport(browser)
        // The box is read-only, labelled, and holds HTML that makes the same picture.
        let embed =
            try browser.run(
                """
                const box = document.querySelector('details.embed textarea');
                const label = document.querySelector(`label[for="${box.id}"]`);
                const parsed = new DOMParser().parseFromString(box.value, 'text/html');
                const img = parsed.querySelector('a > picture > img');
                return [box.readOnly, label !== null && label.textContent.trim().length > 0, img ? img.getAttribute('src') : '',
                  img ? img.alt : '', document.querySelector('img.chart').alt, parsed.querySelectorAll('script').length];
                """) as? [Any] ?? []
        #expect(embed.count == 6)
        #expect(embed.first as? Bool == true && embed[safe: 1] as? Bool == true)
        #expect(embed[safe: 2] as? String == "https://surveys.example.org/surveys/1/charts/1.png")
        #expect(embed[safe: 3] as? String == embed[safe: 4] as? String, "the snippet's alt text is the page's")
        #expect(embed[safe: 5] as? Int == 0)
        // Printed: the questions and tables, no site header, no embed boxes, a page per question.
        let directory = try TemporaryDirectory()
        let file = try directory.write("printed.pdf", "")
        try browser.printedPDF().write(to: URL(fileURLWithPath: file))
        let text = try Executable.start(program: "/usr/bin/pdftotext", [file, "-"]).finish(within: .seconds(30))
        #expect(text.status == 0, "\(text.standardError)")
        #expect(text.standardOutput.contains("What is your favorite type of TV show?"))
        #expect(text.standardOutput.contains("How many new shows will you try this Fall?"))
        #expect(!text.standardOutput.contains("SurveyCharts"), "the site header is printed")
        #expect(!text.standardOutput.contains("Embed this chart"), "the embed box is printed")
        let info = try Executable.start(program: "/usr/bin/pdfinfo", [file]).finish(within: .seconds(30))
        let pages = info.standardOutput.firstMatch(of: /Pages:\s+(\d+)/).flatMap { Int($0.1) } ?? 0
        #expect(pages >= 2, "each question starts a page: \(pages) pages")
        // The second question starts a page of its own.
        let secondQuestion = "How many new shows will you try this Fall?"
        var pageOfSecond = 0
        for page in 1...max(1, pages) {
            let text = try Executable.start(
                program: "/usr/bin/pdftotext", ["-f", "\(page)", "-l", "\(page)", file, "-"]
            )
            .finish(within: .seconds(30)).standardOutput
            if text.contains(secondQuestion) {
                pageOfSecond = page
                #expect(
                    !text.contains("What is your favorite type of TV show?"),
                    "the second question shares page \(page) with the first")
                break
            }
        }
        #expect(pageOfSecond >= 2)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
