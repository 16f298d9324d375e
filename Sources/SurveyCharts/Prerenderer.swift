import ChartCache
import Foundation
import PieChart
import Surveys

/// What a pre-render run did.
public struct PrerenderReport: Sendable, Hashable {
    /// Charts this run rendered.
    public var rendered = 0
    /// Charts that already existed (or that another process published meanwhile).
    public var skipped = 0
    /// Charts that failed, with the reason.
    public var failures: [String] = []
    /// Wall time.
    public var seconds = 0.0

    /// Charts handled per second.
    public var chartsPerSecond: Double { seconds > 0 ? Double(rendered + skipped + failures.count) / seconds : 0 }

    /// `rendered 12, skipped 0, failed 0, 0.1 s, 120 charts/s`
    public var summary: String {
        String(
            format: "rendered %d, skipped %d, failed %d, %.1f s, %.0f charts/s", rendered, skipped, failures.count,
            seconds, chartsPerSecond)
    }
}

/// Renders every chart (each variant the pages use, 1x and 2x) of completed surveys through the cache, so nothing is ever
/// rendered twice, even beside running servers and other pre-renders.
public struct Prerenderer: Sendable {
    let cache: ChartCache
    let renderer = PieChartRenderer()

    /// Uses `cache` (its pool decides how many charts render at once).
    public init(cache: ChartCache) { self.cache = cache }

    /// One file to make: its name, and how to draw it.
    public typealias Job = (name: ChartName, render: @Sendable () throws -> [UInt8])

    /// Every file of `survey`'s results: each question's chart in every variant at 1x and 2x and
    /// as SVG, the share card and the PDF report. Measures text: call it where blocking work runs.
    public static func charts(of survey: Survey, renderer: PieChartRenderer = PieChartRenderer()) throws -> [Job] {
        var jobs: [Job] = []
        for question in survey.questions {
            for chart in try QuestionCharts.names(for: question, in: survey.language).all {
                let spec = try QuestionCharts.spec(
                    for: question, in: survey.language, variant: chart.variant, scale: chart.scale)
                jobs.append((chart.name, { try renderer.render(spec).png }))
            }
            let vector = try SurveyDocuments.svgSpec(for: question, in: survey.language)
            jobs.append(
                (try SurveyDocuments.svgName(for: question, in: survey.language), { try renderer.renderSVG(vector) }))
        }
        if let card = try SurveyDocuments.card(for: survey), let name = try SurveyDocuments.cardName(for: survey) {
            jobs.append((name, { try renderer.render(card: card) }))
        }
        // A completed survey's report: dated from its close, so `today` does not enter it.
        let report = try SurveyDocuments.report(for: survey, live: false, today: survey.closes)
        let name = try SurveyDocuments.reportName(for: survey, live: false, today: survey.closes)
        jobs.append((name, { try renderer.renderPDF(report) }))
        return jobs
    }

    /// Renders the charts of `surveys`, reporting progress as (done, total).
    public func run(surveys: [Survey], progress: (@Sendable (Int, Int) -> Void)? = nil) async -> PrerenderReport {
        let start = ContinuousClock.now
        var report = PrerenderReport()
        var work: [Job] = []
        // Sizing charts measures their text: blocking work, on the pool.
        let planned = try? await cache.pool.run {
            surveys.map { survey -> (charts: [Job], failure: String?) in
                do { return (try Self.charts(of: survey, renderer: renderer), nil) } catch {
                    return ([], "survey \(survey.id): \(error)")
                }
            }
        }
        for plan in planned ?? [] {
            work += plan.charts
            if let failure = plan.failure { report.failures.append(failure) }
        }
        if planned == nil { report.failures.append("the pool stopped before the charts were planned") }
        let total = work.count
        // Keep the pool busy without queueing thousands of requests against their deadline.
        let inFlight = max(2, cache.configuration.blockingThreads * 2)
        await withTaskGroup(of: (String, Result<CacheOutcome, Error>).self) { group in
            var next = 0
            func addNext() {
                guard next < work.count else { return }
                let (name, render) = work[next]
                next += 1
                group.addTask { [cache] in
                    do {
                        let chart = try await cache.chart(named: name, render: render)
                        return (name.fileName, .success(chart.outcome))
                    } catch {
                        return (name.fileName, .failure(error))
                    }
                }
            }
            for _ in 0..<inFlight { addNext() }
            var done = 0
            for await (name, result) in group {
                switch result {
                case .success(.rendered): report.rendered += 1
                case .success: report.skipped += 1
                case .failure(let error): report.failures.append("\(name): \(error)")
                }
                done += 1
                progress?(done, total)
                addNext()
            }
        }
        let elapsed = ContinuousClock.now - start
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return report
    }
}
