import ChartCache
import Hummingbird
import StaticFiles
import SurveyCharts

/// `/piecharts`: the chart directory as a static file source, where a current chart that is not
/// on disk yet is drawn on the first request (`SurveyChartFiles`).
struct ChartFileSource: StaticFileSource {
    let chartFiles: SurveyChartFiles
    /// The chart directory's files, kept in memory while small.
    let charts: StaticFileStore
    let apiCharts: APICharts
    let pool: BlockingThreadPool

    func file(_ segments: [String]) async throws -> StaticFile? {
        guard segments.count == 1 else { return nil }
        let name = segments[0]
        // A chart still being drawn past the deadline is `ChartCacheError.busy`: 503, retry in 1 s.
        switch try await chartFiles.file(named: name, existing: { _ in try await charts.file(segments) }) {
        case .notFound:
            return nil
        case .existing(let file):
            if APIChartNames.isAPIChart(name) { await apiCharts.used(name, bytes: file.facts.size, pool: pool) }
            return file
        case .rendered(let chart):
            // The rendered bytes go to memory as they are; nothing is read back from disk.
            return charts.remember(
                segments, bytes: chart.bytes, modified: chart.modificationTime, device: chart.device,
                inode: chart.inode)
        }
    }

    func stream(_ file: StaticFile, range: Range<Int>, to writer: inout any ResponseBodyWriter) async throws {
        try await charts.stream(file, range: range, to: &writer)
    }
}
