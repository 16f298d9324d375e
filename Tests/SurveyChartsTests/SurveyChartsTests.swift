import ChartCache
import Foundation
import Localization
import PieChart
import Surveys
import TestSupport
import Testing

@testable import SurveyCharts

@Suite("Question charts", .timeLimit(.minutes(2)))
struct QuestionChartsTests {
    static let question = Question(
        id: 12, text: "Favourite?",
        answers: [.init(id: 1, text: "Comedy", votes: 3), .init(id: 2, text: "Drama", votes: 1)])

    @Test func apiChartNamesAreContentAddressedAndRecognised() {
        let key = ChartKey(material: Array("spec".utf8))
        #expect(APIChartNames.name(key: key).fileName == "c-\(key.shortHex).png")
        #expect(APIChartNames.name(key: key, scale: 2).fileName == "c-\(key.shortHex)@2x.png")
        #expect(APIChartNames.isAPIChart(APIChartNames.name(key: key, scale: 2).fileName))
        #expect(APIChartNames.svgName(key: key).fileName == "c-\(key.shortHex).svg")
        #expect(APIChartNames.isAPIChart(APIChartNames.svgName(key: key).fileName))
        for other in [
            "q1-\(key.shortHex).png", "c-\(key.shortHex).pdf", "c-\(key.shortHex)@2x.svg", "c-0123.png",
            "c-0123456789ABCDEF.png",
        ] {
            #expect(!APIChartNames.isAPIChart(other), "\(other)")
        }
    }

    @Test func namesCarryTheQuestionAndAKeyPerVariantAndScale() throws {
        let names = try QuestionCharts.names(for: Self.question, in: .english)
        let all = names.all.map(\.name.fileName)
        #expect(Set(all).count == 4)
        for file in names.all {
            let (name, scale) = (file.name, file.scale)
            let request = try #require(QuestionChartRequest(fileName: name.fileName))
            #expect(request == QuestionChartRequest(fileName: name.fileName))
            #expect(request.questionID == 12 && request.scale == scale)
            #expect(try ChartName(validating: name.fileName) == name)
        }
        #expect(try #require(names.file(.wide, scale: 1)).name.fileName.hasPrefix("q12-"))
        #expect(try #require(names.file(.wide, scale: 2)).name.fileName.hasSuffix("@2x.png"))
        #expect(names.named(names.file(.narrow, scale: 2)!.name.fileName)?.variant == .narrow)
        #expect(names.named("q12-0000000000000000.png") == nil)
    }

    @Test func namesChangeWithVotesAndLabelsOnly() throws {
        let same = try QuestionCharts.names(for: Self.question, in: .english)
        #expect(try QuestionCharts.names(for: Self.question, in: .english).all.map(\.name) == same.all.map(\.name))
        var voted = Self.question
        voted.answers[1].votes += 1
        var relabelled = Self.question
        relabelled.answers[0].text = "Comedies"
        for changed in [voted, relabelled] {
            let names = try QuestionCharts.names(for: changed, in: .english)
            #expect(Set(names.all.map(\.name)).isDisjoint(with: same.all.map(\.name)))
        }
    }

    @Test func specsMatchTheirVariant() throws {
        let wide = try QuestionCharts.spec(for: Self.question, in: .english, variant: .wide, scale: 2)
        #expect(wide.width == 640 && wide.height == 400 && wide.scale == 2 && wide.title == nil)
        let narrow = try QuestionCharts.spec(for: Self.question, in: .english, variant: .narrow)
        #expect(narrow.width == 340 && narrow.height == 400)
        #expect(narrow.slices.map(\.label) == ["Comedy", "Drama"] && narrow.slices.map(\.value) == [3, 1])
        #expect(narrow.locale == .english)
    }

    /// Many long answers make the chart taller, never its text smaller than 12 CSS px.
    @Test func manyLongAnswersMakeTallerChartsWithReadableText() throws {
        let long = Question(
            id: 13, text: "Long?",
            answers: (1...16).map {
                .init(
                    id: Int64($0), text: "A rather long answer number \($0) that will need to wrap over lines",
                    votes: $0 * 37)
            })
        #expect(try QuestionCharts.spec(for: long, in: .english, variant: .wide).height > 400, "the wide chart grew")
        for variant in QuestionChartVariant.all {
            let spec = try QuestionCharts.spec(for: long, in: .english, variant: variant)
            let layout = try ChartLayout(spec: spec, measurer: PangoTextMeasurer())
            #expect(layout.smallestTextSize >= ChartLayout.minimumReadableTextSize, "\(variant)")
            for entry in layout.legend {
                let extent = PangoTextMeasurer().measure(
                    entry.label.text, style: entry.label.style, maxWidth: entry.label.maxWidth,
                    maxLines: entry.label.maxLines)
                #expect(!extent.isTruncated, "\(variant): “\(entry.label.text)” is cut short")
            }
        }
    }

    /// The language is part of the chart: its words, its digits, its direction, so its name.
    @Test func namesChangeWithTheLanguage() throws {
        let english = try QuestionCharts.names(for: Self.question, in: .english).all.map(\.name)
        for tag in ["fr", "zh-Hans", "ar-EG"] {
            let other = try QuestionCharts.names(for: Self.question, in: try LanguageTag(parsing: tag)).all.map(\.name)
            #expect(Set(other).isDisjoint(with: english), "\(tag)")
        }
        let arabic = try QuestionCharts.spec(for: Self.question, in: try LanguageTag(parsing: "ar-EG"))
        #expect(arabic.altText == "Comedy: ٧٥٪؜، Drama: ٢٥٪؜")
    }

    @Test func requestsOfOtherShapesAreNotQuestionCharts() {
        for name in [
            "c-0123456789abcdef.png", "q-0123456789abcdef.png", "q12-0123456789abcde.png", "q12-0123456789ABCDEF.png",
            "q12-0123456789abcdef.jpg", "q12-0123456789abcdef@3x.png", "q1234567890123456789-0123456789abcdef.png",
            "qx-0123456789abcdef.png", "", "q012-0123456789abcdef.png", "q0-0123456789abcdef.png",
        ] {
            #expect(QuestionChartRequest(fileName: name) == nil, "\(name)")
        }
    }

    @Test func onlyCompletedSurveysAreServed() {
        let today = CalendarDay(ordinal: 1000)
        func survey(_ opens: Int, _ closes: Int) -> Survey {
            Survey(
                id: 1, title: "S", opens: today.adding(days: opens), closes: today.adding(days: closes), questions: [])
        }
        #expect(QuestionCharts.mayServe(survey(-10, -1), on: today))
        #expect(!QuestionCharts.mayServe(survey(-1, 1), on: today))
        #expect(!QuestionCharts.mayServe(survey(0, 0), on: today))
        #expect(!QuestionCharts.mayServe(survey(1, 5), on: today))
    }
}

@Suite("Chart files", .timeLimit(.minutes(2)))
struct SurveyChartFilesTests {
    static let today = CalendarDay(ordinal: 20_000)

    /// A completed survey (id 1, question 10) and an open one (id 2, question 20).
    static func site() async throws -> (TemporaryDirectory, SurveyChartFiles, ChartCache, [Survey]) {
        let directory = try TemporaryDirectory()
        let store = try SQLiteSurveyStore(configuration: .init(path: directory.path + "/surveys.sqlite3"))
        let answers: [SurveyDocument.AnswerEntry] = [.init(text: "Yes", votes: 3), .init(text: "No", votes: 1)]
        try await store.importDocument(
            SurveyDocument(surveys: [
                .init(
                    id: 1, title: "Done", opens: today.adding(days: -9), closes: today.adding(days: -1),
                    questions: [.init(id: 10, text: "Q?", answers: answers)]),
                .init(
                    id: 2, title: "Open", opens: today.adding(days: -1), closes: today.adding(days: 1),
                    questions: [.init(id: 20, text: "Q?", answers: answers)]),
            ]))
        let cache = try ChartCache(configuration: .init(directory: directory.path + "/charts"))
        let files = SurveyChartFiles(store: store, cache: cache, renderer: PieChartRenderer(), today: { today })
        let surveys = [try await store.survey(id: 1)!, try await store.survey(id: 2)!]
        return (directory, files, cache, surveys)
    }

    @Test func aCurrentChartOfACompletedSurveyIsRenderedOnceThenFound() async throws {
        let (directory, files, cache, surveys) = try await Self.site()
        defer { cache.shutdown() }
        let name = try QuestionCharts.names(for: surveys[0].questions[0], in: .english).file(.wide, scale: 2)!.name
            .fileName
        guard case .rendered(let chart) = try await files.file(named: name, existing: { _ in nil as [UInt8]? }) else {
            Issue.record("not rendered")
            return
        }
        #expect(chart.name.fileName == name && Array(chart.bytes.prefix(4)) == [137, 80, 78, 71])
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/charts/" + name))
        #expect(Array(onDisk) == chart.bytes)
        let found = try await files.file(named: name) { fileName in
            FileManager.default.contents(atPath: directory.path + "/charts/" + fileName).map(Array.init)
        }
        guard case .existing(let bytes) = found else {
            Issue.record("an existing file was not used")
            return
        }
        #expect(bytes == chart.bytes)
        #expect(cache.statistics.renders == 1)
    }

    @Test func everythingElseIsNotFound() async throws {
        let (_, files, cache, surveys) = try await Self.site()
        defer { cache.shutdown() }
        let openName = try QuestionCharts.names(for: surveys[1].questions[0], in: .english).file(.wide, scale: 1)!.name
            .fileName
        let staleName = "q10-0123456789abcdef.png"
        for (name, existing) in [
            (openName, true),  // an open survey's chart is hidden even when the file exists
            (staleName, false),  // not the question's current name: never rendered
            ("q99-0123456789abcdef.png", false),  // no such question
            ("c-0123456789abcdef.png", false),  // an API chart that does not exist
        ] {
            let answer = try await files.file(named: name) { _ in existing ? [UInt8(1)] : nil }
            guard case .notFound = answer else {
                Issue.record("\(name) was served")
                continue
            }
        }
        // An old file of a completed survey's question is still served while it exists.
        guard case .existing = try await files.file(named: staleName, existing: { _ in [UInt8(1)] }) else {
            Issue.record("an old chart of a completed survey was refused")
            return
        }
        #expect(cache.statistics.renders == 0)
    }
}

/// What pages show: every reference chart's answers as a question, in every variant, sized by
/// `QuestionCharts`: no text below 12 CSS px (24 device px at 2x), measured from Pango's layouts.
@Suite("Readable chart text", .timeLimit(.minutes(3)))
struct ReadableChartTextTests {
    @Test(arguments: try! ReferenceCharts.all().map(\.name))
    func noVariantHasTextBelowTwelvePixels(_ name: String) throws {
        let spec = try #require(try ReferenceCharts.all().first { $0.name == name }).spec
        let question = Question(
            id: 1, text: spec.title ?? name,
            answers: spec.slices.enumerated().map { .init(id: Int64($0 + 1), text: $1.label, votes: $1.value) })
        for variant in QuestionChartVariant.all {
            for scale in variant.scales {
                let chart = try QuestionCharts.spec(for: question, in: spec.locale, variant: variant, scale: scale)
                let rendered = try PieChartRenderer().render(chart)
                // Layout sizes are points (CSS px); the PNG has `scale` device pixels per point.
                #expect(
                    rendered.layout.smallestTextSize >= ChartLayout.minimumReadableTextSize,
                    "\(name) \(variant) @\(scale)x: \(rendered.layout.smallestTextSize) pt")
                #expect(rendered.pixelWidth == chart.width * scale)
                #expect(rendered.unknownGlyphs == 0, "\(name) \(variant): glyphs missing")
            }
        }
    }
}
