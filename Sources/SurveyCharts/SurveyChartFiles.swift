import ChartCache
import PieChart
import Surveys
import Synchronization

/// Answers requests for chart files: store → chart spec → cache → renderer, with one store
/// lookup per request at most.
public final class SurveyChartFiles: Sendable {
    let store: any SurveyStore
    let cache: ChartCache
    let renderer: PieChartRenderer
    let today: @Sendable () -> CalendarDay
    /// Question id → its survey (nil: no such question) and when it was looked up: a chart hit
    /// reads the database at most once a second per question, and does calendar work only then.
    private let recentSurveys = Mutex<[Int64: RecentSurvey]>([:])
    typealias RecentSurvey = (survey: Survey?, servable: Bool, checked: ContinuousClock.Instant)
    /// Survey id → the survey and when it was looked up, for cards and reports.
    private let recentByID = Mutex<[Int64: RecentSurvey]>([:])
    private static let freshness: Duration = .seconds(1)
    private static let keptSurveys = 4096

    /// How `file(named:existing:)` answered.
    public enum Answer<Existing: Sendable>: Sendable {
        /// No chart may be served under that name (unknown, not current, or its survey is not completed).
        case notFound
        /// The file already exists; `existing` found it.
        case existing(Existing)
        /// The file was rendered (or published by another writer meanwhile) and is on disk now.
        case rendered(CachedChart)
    }

    /// Uses `store` for surveys, `cache` for files, `renderer` for pixels, `today` for the calendar.
    public init(
        store: any SurveyStore, cache: ChartCache, renderer: PieChartRenderer,
        today: @escaping @Sendable () -> CalendarDay
    ) {
        self.store = store
        self.cache = cache
        self.renderer = renderer
        self.today = today
    }

    /// Answers a request for the chart file `fileName`:
    /// - a question's chart is served only while its survey is completed; an existing file is
    ///   served whatever its key (old links keep working until prune), and a missing one is
    ///   rendered only under the question's current name;
    /// - any other chart (API charts) is served if `existing` finds it, never rendered here.
    ///
    /// `existing` looks for the file where the caller keeps files (memory, then disk). The survey
    /// is looked up once, and only for question charts.
    public func file<Existing: Sendable>(
        named fileName: String, existing: (String) async throws -> Existing?
    ) async throws -> Answer<Existing> {
        if let document = SurveyDocumentRequest(fileName: fileName) {
            return try await self.document(document, named: fileName, existing: existing)
        }
        guard let request = QuestionChartRequest(fileName: fileName) else {
            return try await existing(fileName).map { .existing($0) } ?? .notFound
        }
        let found = try await survey(holdingQuestion: request.questionID)
        guard found.servable, let survey = found.survey else { return .notFound }
        if let found = try await existing(fileName) { return .existing(found) }
        guard let question = survey.questions.first(where: { $0.id == request.questionID }) else { return .notFound }
        if request.isSVG {
            let spec = try await cache.pool.run { () throws -> ChartSpec? in
                try SurveyDocuments.svgName(for: question, in: survey.language).fileName == fileName
                    ? SurveyDocuments.svgSpec(for: question, in: survey.language) : nil
            }
            guard let spec, let name = try? ChartName(validating: fileName) else { return .notFound }
            return .rendered(try await cache.chart(named: name) { [renderer] in try renderer.renderSVG(spec) })
        }
        // Naming and sizing measure text: blocking work, on the pool.
        let planned = try await cache.pool.run { () throws -> (QuestionChartFile, ChartSpec)? in
            guard let current = try QuestionCharts.names(for: question, in: survey.language).named(fileName) else {
                return nil
            }
            return (
                current,
                try QuestionCharts.spec(
                    for: question, in: survey.language, variant: current.variant, scale: current.scale)
            )
        }
        guard let (current, spec) = planned else { return .notFound }
        return .rendered(try await cache.chart(named: current.name) { [renderer] in try renderer.render(spec).png })
    }

    /// A survey's card or report: served while the survey is completed, rendered under its current name only.
    private func document<Existing: Sendable>(
        _ request: SurveyDocumentRequest, named fileName: String, existing: (String) async throws -> Existing?
    ) async throws -> Answer<Existing> {
        let found = try await survey(id: request.surveyID)
        guard found.servable, let survey = found.survey else { return .notFound }
        if let found = try await existing(fileName) { return .existing(found) }
        guard let current = try await currentDocument(request.kind, of: survey, live: false),
            current.name.fileName == fileName
        else { return .notFound }
        return .rendered(try await cache.chart(named: current.name, render: current.render))
    }

    /// The current name of `survey`'s card or report, and how to draw it (blocking work: on the pool).
    public func currentDocument(
        _ kind: SurveyDocumentRequest.Kind, of survey: Survey, live: Bool
    ) async throws -> (name: ChartName, render: @Sendable () throws -> [UInt8])? {
        let day = today()
        return try await cache.pool.run { [renderer] () throws -> (ChartName, @Sendable () throws -> [UInt8])? in
            switch kind {
            case .card:
                guard let card = try SurveyDocuments.card(for: survey),
                    let name = try SurveyDocuments.cardName(for: survey)
                else { return nil }
                return (name, { try renderer.render(card: card) })
            case .report:
                let report = try SurveyDocuments.report(for: survey, live: live, today: day)
                return (SurveyDocuments.reportName(of: report, survey: survey.id), { try renderer.renderPDF(report) })
            }
        }.map { (name: $0.0, render: $0.1) }
    }

    /// The report of a survey whose results are not published, with its live counts, drawn on the
    /// pool and never stored: the chart directory is public.
    public func liveReport(of survey: Survey) async throws -> [UInt8] {
        let day = today()
        return try await cache.pool.run { [renderer] in
            try renderer.renderPDF(try SurveyDocuments.report(for: survey, live: true, today: day))
        }
    }

    /// A completed survey's card or report through the cache.
    public func documentFile(
        _ kind: SurveyDocumentRequest.Kind, of survey: Survey, live: Bool
    ) async throws
        -> CachedChart?
    {
        guard let current = try await currentDocument(kind, of: survey, live: live) else { return nil }
        return try await cache.chart(named: current.name, render: current.render)
    }

    /// Renders an arbitrary spec through the cache, under its content-addressed name (the chart API).
    public func render(_ spec: ChartSpec, as format: ChartRequest.Format = .png) async throws -> CachedChart {
        var unscaled = spec
        unscaled.scale = 1
        if format == .svg {
            let vector = unscaled
            let name = APIChartNames.svgName(key: ChartKey(material: vector.cacheKeyMaterial))
            return try await cache.chart(named: name) { [renderer] in try renderer.renderSVG(vector) }
        }
        let name = APIChartNames.name(key: ChartKey(material: unscaled.cacheKeyMaterial), scale: spec.scale)
        return try await cache.chart(named: name) { [renderer] in try renderer.render(spec).png }
    }

    /// Survey `id` (nil: none) and whether its files may be served (cards and reports).
    public func survey(id: Int64) async throws -> (survey: Survey?, servable: Bool) {
        try await recent(recentByID, id) { try await store.survey(id: id) }
    }

    /// The survey holding `questionID` (nil: none) and whether its charts may be served.
    private func survey(holdingQuestion questionID: Int64) async throws -> (survey: Survey?, servable: Bool) {
        try await recent(recentSurveys, questionID) { try await store.survey(holdingQuestion: questionID) }
    }

    /// A survey from `memo` when it was looked up under a second ago, else from `lookup` (one store
    /// read), with whether its files may be served today.
    private func recent(
        _ memo: borrowing Mutex<[Int64: RecentSurvey]>, _ key: Int64, lookup: () async throws -> Survey?
    ) async throws -> (survey: Survey?, servable: Bool) {
        let now = ContinuousClock.now
        if let known = memo.withLock({ $0[key] }), now - known.checked < Self.freshness {
            return (known.survey, known.servable)
        }
        let survey: Survey?
        do {
            survey = try await lookup()
        } catch let error as SurveyStoreError where error.code == .database || error.code == .busy {
            // The database is away: what the last lookup found still holds (stale if error), so
            // files on disk keep serving through an outage.
            if let known = memo.withLock({ $0[key] }) { return (known.survey, known.servable) }
            throw error
        }
        let servable = survey.map { QuestionCharts.mayServe($0, on: today()) } ?? false
        memo.withLock { surveys in
            if surveys.count >= Self.keptSurveys { surveys.removeAll(keepingCapacity: true) }
            surveys[key] = (survey, servable, now)
        }
        return (survey, servable)
    }
}
