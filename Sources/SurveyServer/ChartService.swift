import ChartCache
import Foundation
import PieChart
import Surveys
import Synchronization

/// The charts a results page can show for one question (art direction through `<picture>`).
public enum QuestionChartVariant: String, CaseIterable, Sendable {
    /// 640×400, legend beside the pie: screens wider than a phone.
    case wide
    /// 340 points wide, legend below the pie, taller with more answers: phones.
    case narrow

    /// The canvas in points for a question with `answers` answers.
    public func size(answers: Int) -> (width: Int, height: Int) {
        switch self {
        case .wide: return (ChartService.chartWidth, ChartService.chartHeight)
        case .narrow:
            // The pie needs about 280 points; every legend row about 22 (more when labels wrap).
            return (ChartService.narrowChartWidth, min(1400, max(400, 300 + 22 * answers)))
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

    /// The current name called `fileName`, and its variant; nil when the name is not current.
    func named(_ fileName: String) -> (ChartName, QuestionChartVariant)? {
        all.first { $0.name.fileName == fileName }.map { ($0.name, $0.variant) }
    }
}

/// Joins the store, the chart spec, the cache and the renderer: store → spec → cache → renderer.
public final class ChartService: Sendable {
    let store: any SurveyStore
    let cache: ChartCache
    let renderer: PieChartRenderer
    let today: @Sendable () -> CalendarDay
    /// Question id → (survey completed?, when looked up): a chart hit needs no database read
    /// more than once a second.
    private let questionStates = Mutex<[Int64: (completed: Bool, checked: ContinuousClock.Instant)]>([:])

    /// Size of the wide question chart, in points.
    public static let chartWidth = 640, chartHeight = 400
    /// Width of the narrow (phone) question chart, in points: a 360 px screen shows it at full size.
    public static let narrowChartWidth = 340

    init(
        store: any SurveyStore, cache: ChartCache, renderer: PieChartRenderer,
        today: @escaping @Sendable () -> CalendarDay
    ) {
        self.store = store
        self.cache = cache
        self.renderer = renderer
        self.today = today
    }

    /// The spec of a question's chart in `variant` at `scale`. It has no title: the page shows
    /// the question as the heading right above it.
    public static func spec(for question: Question, variant: QuestionChartVariant = .wide, scale: Int = 1) throws
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
            return (
                ChartName.question(question.id, key: key, scale: 1), ChartName.question(question.id, key: key, scale: 2)
            )
        }
        let (one, two) = try pair(.wide)
        let (narrowOne, narrowTwo) = try pair(.narrow)
        return QuestionChartNames(one: one, two: two, narrowOne: narrowOne, narrowTwo: narrowTwo)
    }

    /// A requested chart file name, parsed: `q<id>-<16 hex>[@2x].png`.
    struct QuestionChartName {
        var questionID: Int64
        var scale: Int
    }

    static func parseQuestionChartName(_ name: String) -> QuestionChartName? {
        // Bytes, not String operations: this runs on every chart request.
        var bytes = Array(name.utf8)[...]
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
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
        let id = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - 48) }
        return QuestionChartName(questionID: id, scale: scale)
    }

    /// What the last look-up said about a question, if it is fresh: true when its survey is
    /// completed. Never reads the database (the event-loop fast path calls it).
    func knownServable(questionID: Int64) -> Bool? {
        guard let known = questionStates.withLock({ $0[questionID] }), ContinuousClock.now - known.checked < .seconds(1)
        else { return nil }
        return known.completed
    }

    /// Whether a question's chart may be served: only charts of completed surveys are.
    func mayServe(questionID: Int64) async throws -> Bool {
        let now = ContinuousClock.now
        if let known = questionStates.withLock({ $0[questionID] }), now - known.checked < .seconds(1) {
            return known.completed
        }
        let survey = try await store.survey(holdingQuestion: questionID)
        let completed = survey?.state(on: today()) == .completed
        questionStates.withLock { $0[questionID] = (completed, now) }
        return completed
    }

    /// Renders (through the cache) the chart a request names, if it is the current chart of a
    /// question of a completed survey. Nil for any other name: the caller answers 404.
    func renderOnMiss(_ fileName: String) async throws -> CachedChart? {
        guard let parsed = Self.parseQuestionChartName(fileName),
            let survey = try await store.survey(holdingQuestion: parsed.questionID),
            survey.state(on: today()) == .completed,
            let question = survey.questions.first(where: { $0.id == parsed.questionID })
        else { return nil }
        guard let (current, variant) = try Self.names(for: question).named(fileName) else { return nil }
        let spec = try Self.spec(for: question, variant: variant, scale: parsed.scale)
        return try await cache.chart(named: current) { [renderer] in try renderer.render(spec).png }
    }

    /// Renders an arbitrary spec through the cache, under its content-addressed name.
    func render(_ spec: ChartSpec) async throws -> CachedChart {
        var unscaled = spec
        unscaled.scale = 1
        let name = ChartName.adHoc(key: ChartKey(material: unscaled.cacheKeyMaterial), scale: spec.scale)
        return try await cache.chart(named: name) { [renderer] in try renderer.render(spec).png }
    }
}
