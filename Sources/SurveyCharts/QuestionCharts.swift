import ChartCache
import Localization
import PieChart
import Surveys
import Synchronization

/// One way a results page shows a question's chart (art direction through `<picture>`).
///
/// A new variant is one declaration below, added to `all`: its file names, its pre-rendering,
/// its `<source>` on the results page and its URLs in `results.json` all come from the list.
public struct QuestionChartVariant: Sendable, Hashable, CustomStringConvertible {
    /// How the canvas grows with the answers: a fixed width, and a height that starts at
    /// `base + perAnswer × answers` and grows, within `heights`, until every text of the chart is
    /// at least `ChartLayout.minimumReadableTextSize` (many or long answers make the chart taller,
    /// never its text smaller).
    struct SizeRule: Sendable, Hashable {
        var width: Int
        var base: Int
        var perAnswer: Int
        var heights: ClosedRange<Int>
    }

    /// The variant's name in logs and tests (`wide`).
    public let name: String
    /// The key of its URLs in `results.json` (DESIGN "HTTP": `chart`, `narrowChart`).
    public let resultsKey: String
    /// The media condition under which a page shows it; nil for the default `<img>`.
    public let media: String?
    /// The pixel densities it is drawn at.
    public let scales: [Int]
    let sizeRule: SizeRule

    /// 640×400 or taller, legend beside the pie: screens wider than a phone. The default image.
    public static let wide = QuestionChartVariant(
        name: "wide", resultsKey: "chart", media: nil, scales: [1, 2],
        sizeRule: SizeRule(width: 640, base: 400, perAnswer: 0, heights: 400...1600))
    /// 340 points wide, legend below the pie, taller with more answers: phones (a 360 px screen shows
    /// it at full size). The pie needs about 280 points; every legend row about 22.
    public static let narrow = QuestionChartVariant(
        name: "narrow", resultsKey: "narrowChart", media: "(max-width: 679px)", scales: [1, 2],
        sizeRule: SizeRule(width: 340, base: 300, perAnswer: 22, heights: 400...2400))

    /// Every variant, the default (no media condition) first.
    public static let all: [QuestionChartVariant] = [.wide, .narrow]

    /// The height a question with `answers` answers starts from, before its text is measured.
    func startingHeight(answers: Int) -> Int {
        let (rows, tooMany) = sizeRule.perAnswer.multipliedReportingOverflow(by: max(0, answers))
        let (height, tooTall) = sizeRule.base.addingReportingOverflow(rows)
        guard !tooMany, !tooTall else { return sizeRule.heights.upperBound }
        return min(sizeRule.heights.upperBound, max(sizeRule.heights.lowerBound, height))
    }

    /// The canvas in points of `spec`'s chart in this variant: its width, and the height at which
    /// its text is readable. Measures text with Pango: call it where blocking work runs.
    func size(of spec: ChartSpec) -> (width: Int, height: Int) {
        var start = spec
        start.width = sizeRule.width
        start.height = startingHeight(answers: spec.slices.count)
        let height = ChartLayout.height(
            fitting: start, within: start.height...sizeRule.heights.upperBound, measurer: PangoTextMeasurer())
        return (sizeRule.width, height)
    }

    public var description: String { name }

    public static func == (left: Self, right: Self) -> Bool { left.name == right.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// One current chart file of a question: a variant at one scale.
public struct QuestionChartFile: Sendable {
    /// Its file name in the chart directory.
    public var name: ChartName
    public var variant: QuestionChartVariant
    public var scale: Int

    /// Where the static handler serves it.
    public var url: String { "/piecharts/" + name.fileName }
}

/// The current chart files of one question: each variant at each of its scales.
public struct QuestionChartNames: Sendable {
    /// Every current file, in `QuestionChartVariant.all`'s order, each variant's scales ascending.
    public var all: [QuestionChartFile]

    /// The current file called `fileName`; nil when it is not current.
    public func named(_ fileName: String) -> QuestionChartFile? {
        all.first { $0.name.fileName == fileName }
    }

    /// The file of `variant` at `scale`.
    public func file(_ variant: QuestionChartVariant, scale: Int) -> QuestionChartFile? {
        all.first { $0.variant == variant && $0.scale == scale }
    }
}

/// A requested file name that has the shape of a question's chart: `q<id>-<16 hex>[@2x].png`, or
/// `q<id>-<16 hex>.svg`.
public struct QuestionChartRequest: Sendable, Hashable {
    /// The question the name claims.
    public var questionID: Int64
    /// 1 or 2.
    public var scale: Int
    /// Whether it names the SVG chart.
    public var isSVG: Bool

    /// Parses `fileName`; nil for any other shape (API charts, junk).
    public init?(fileName: String) {
        // Bytes, not String operations: this runs on every chart request.
        var bytes = Array(fileName.utf8)[...]
        guard bytes.popFirst() == UInt8(ascii: "q"), bytes.count > 21 else { return nil }
        isSVG = bytes.suffix(4).elementsEqual(".svg".utf8)
        guard isSVG || bytes.suffix(4).elementsEqual(".png".utf8) else { return nil }
        bytes.removeLast(4)
        var scale = 1
        if !isSVG, bytes.suffix(3).elementsEqual("@2x".utf8) {
            scale = 2
            bytes.removeLast(3)
        }
        guard bytes.count > 17, bytes[bytes.endIndex - 17] == UInt8(ascii: "-") else { return nil }
        let hex = bytes.suffix(16)
        guard hex.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        let digits = bytes.dropLast(17)
        // Canonical decimal only (found by fuzzing: `q05-…` named question 5), so one chart has one name.
        guard let first = digits.first, (49...57).contains(first), digits.count <= 18,
            digits.allSatisfy({ (48...57).contains($0) })
        else { return nil }
        questionID = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - 48) }
        self.scale = scale
    }
}

/// The rules that turn a survey's questions into charts: their specs, their file names, which
/// names are current, and which may be served. Pages, pre-render, prune and the HTTP layer all
/// ask here; nothing else knows them.
public enum QuestionCharts {
    /// The spec of a question's chart in `variant` at `scale`, in `language`. It has no title:
    /// the page shows the question as the heading right above it. Its height comes from
    /// measuring its text (memoized): call it where blocking work runs.
    public static func spec(
        for question: Question, in language: LanguageTag, variant: QuestionChartVariant = .wide, scale: Int = 1
    ) throws
        -> ChartSpec
    {
        var spec = try ChartSpec(
            title: nil, slices: question.answers.map { .init(label: $0.text, value: $0.votes) },
            width: variant.sizeRule.width, height: variant.startingHeight(answers: question.answers.count),
            scale: scale, locale: language)
        spec.height = heights.height(of: spec, in: variant)
        return spec
    }

    /// The measured heights of recent charts: pages, names and renders of one question ask
    /// for the same height many times. Bounded; emptied when full.
    final class MeasuredHeights: Sendable {
        private struct Key: Hashable {
            var variant: String
            var slices: [ChartSpec.Slice]
            var locale: LanguageTag
        }

        private let heights = Mutex<[Key: Int]>([:])
        static let kept = 4096

        func height(of spec: ChartSpec, in variant: QuestionChartVariant) -> Int {
            let key = Key(variant: variant.name, slices: spec.slices, locale: spec.locale)
            if let known = heights.withLock({ $0[key] }) { return known }
            let height = variant.size(of: spec).height
            heights.withLock { heights in
                if heights.count >= Self.kept { heights.removeAll(keepingCapacity: true) }
                heights[key] = height
            }
            return height
        }
    }

    static let heights = MeasuredHeights()

    /// The current file names of a question's charts, every variant at each of its scales. They
    /// change when the votes, the labels, the language or the renderer change.
    public static func names(for question: Question, in language: LanguageTag) throws -> QuestionChartNames {
        var files: [QuestionChartFile] = []
        for variant in QuestionChartVariant.all {
            let key = ChartKey(
                material: try spec(for: question, in: language, variant: variant, scale: 1).cacheKeyMaterial)
            for scale in variant.scales {
                files.append(
                    QuestionChartFile(name: name(question.id, key: key, scale: scale), variant: variant, scale: scale))
            }
        }
        return QuestionChartNames(all: files)
    }

    /// `q<question id>-<key>[@2x].png`: the question id lets a request find its survey in one
    /// lookup, and the key changes with anything that changes the picture.
    static func name(_ questionID: Int64, key: ChartKey, scale: Int) -> ChartName {
        // The shape is ours and always valid.
        try! ChartName(validating: "q\(questionID)-\(key.shortHex)\(scale == 1 ? "" : "@\(scale)x").png")
    }

    /// Whether charts of `survey` may be served on `day`: only results of completed surveys are public.
    public static func mayServe(_ survey: Survey, on day: CalendarDay) -> Bool {
        survey.state(on: day) == .completed
    }

    /// Every current file name of `surveys`' results (what prune keeps): each question's charts
    /// and SVG, each survey's card and report.
    public static func currentNames(of surveys: [Survey]) throws -> Set<ChartName> {
        Set(try surveys.flatMap { survey in try Prerenderer.charts(of: survey).map(\.name) })
    }
}
