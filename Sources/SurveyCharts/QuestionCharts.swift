import ChartCache
import PieChart
import Surveys

/// The charts a results page can show for one question (art direction through `<picture>`).
public enum QuestionChartVariant: String, CaseIterable, Sendable {
    /// 640×400, legend beside the pie: screens wider than a phone.
    case wide
    /// 340 points wide, legend below the pie, taller with more answers: phones.
    case narrow

    /// The canvas in points for a question with `answers` answers.
    public func size(answers: Int) -> (width: Int, height: Int) {
        switch self {
        case .wide: return (QuestionCharts.wideWidth, QuestionCharts.wideHeight)
        case .narrow:
            // The pie needs about 280 points; every legend row about 22 (more when labels wrap).
            return (QuestionCharts.narrowWidth, min(1400, max(400, 300 + 22 * answers)))
        }
    }
}

/// The current chart files of one question: each variant at 1x and 2x.
public struct QuestionChartNames: Sendable {
    /// The wide chart, 1x and 2x.
    public var one: ChartName, two: ChartName
    /// The narrow chart, 1x and 2x.
    public var narrowOne: ChartName, narrowTwo: ChartName

    /// Every current name, with its variant and scale.
    public var all: [(name: ChartName, variant: QuestionChartVariant, scale: Int)] {
        [(one, .wide, 1), (two, .wide, 2), (narrowOne, .narrow, 1), (narrowTwo, .narrow, 2)]
    }

    /// The current name called `fileName`, with its variant and scale; nil when it is not current.
    public func named(_ fileName: String) -> (name: ChartName, variant: QuestionChartVariant, scale: Int)? {
        all.first { $0.name.fileName == fileName }
    }
}

/// A requested file name that has the shape of a question's chart: `q<id>-<16 hex>[@2x].png`.
public struct QuestionChartRequest: Sendable, Hashable {
    /// The question the name claims.
    public var questionID: Int64
    /// 1 or 2.
    public var scale: Int

    /// Parses `fileName`; nil for any other shape (API charts, junk).
    public init?(fileName: String) {
        // Bytes, not String operations: this runs on every chart request.
        var bytes = Array(fileName.utf8)[...]
        guard bytes.popFirst() == UInt8(ascii: "q"), bytes.count > 21, bytes.suffix(4).elementsEqual(".png".utf8)
        else { return nil }
        bytes.removeLast(4)
        var scale = 1
        if bytes.suffix(3).elementsEqual("@2x".utf8) {
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
    /// Size of the wide question chart, in points.
    public static let wideWidth = 640, wideHeight = 400
    /// Width of the narrow (phone) question chart, in points: a 360 px screen shows it at full size.
    public static let narrowWidth = 340

    /// The spec of a question's chart in `variant` at `scale`. It has no title: the page shows
    /// the question as the heading right above it.
    public static func spec(
        for question: Question, variant: QuestionChartVariant = .wide, scale: Int = 1
    ) throws
        -> ChartSpec
    {
        let size = variant.size(answers: question.answers.count)
        return try ChartSpec(
            title: nil, slices: question.answers.map { .init(label: $0.text, value: $0.votes) },
            width: size.width, height: size.height, scale: scale)
    }

    /// The current file names of a question's charts, every variant at 1x and 2x. They change
    /// when the votes, the labels or the renderer change.
    public static func names(for question: Question) throws -> QuestionChartNames {
        func pair(_ variant: QuestionChartVariant) throws -> (ChartName, ChartName) {
            let key = ChartKey(material: try spec(for: question, variant: variant, scale: 1).cacheKeyMaterial)
            return (name(question.id, key: key, scale: 1), name(question.id, key: key, scale: 2))
        }
        let (one, two) = try pair(.wide)
        let (narrowOne, narrowTwo) = try pair(.narrow)
        return QuestionChartNames(one: one, two: two, narrowOne: narrowOne, narrowTwo: narrowTwo)
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

    /// Every current chart name of `surveys`' questions (what prune keeps).
    public static func currentNames(of surveys: [Survey]) throws -> Set<ChartName> {
        var names = Set<ChartName>()
        for survey in surveys {
            for question in survey.questions { names.formUnion(try Self.names(for: question).all.map(\.name)) }
        }
        return names
    }
}
