import ArgumentParser
import Foundation
import PieChart

/// `surveycharts demo`: renders the reference charts and prints their paths.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Render the reference charts (Television Trends and the hard cases) and print their paths."
    )

    @OptionGroup var charts: ChartsDirectoryOption

    @Option(help: "Pixels per point (1...3).")
    var scale: Int = 1

    func run() throws {
        do {
            try FileManager.default.createDirectory(atPath: charts.chartsDir, withIntermediateDirectories: true)
        } catch {
            CommandFailure(
                "cannot create the chart directory \(charts.chartsDir): \(error.localizedDescription)",
                exitCode: .cantCreate
            ).exit()
        }
        let renderer = PieChartRenderer()
        do {
            for (name, spec) in try ReferenceCharts.all() {
                var scaled = spec
                scaled.scale = scale
                try scaled.validate()
                let rendered = try renderer.render(scaled)
                let path = "\(charts.chartsDir)/\(name)\(scale == 1 ? "" : "@\(scale)x").png"
                try AtomicFile.write(rendered.png, to: path)
                print(
                    "\(path)  \(rendered.pixelWidth)×\(rendered.pixelHeight)  \(rendered.png.count) bytes  alt: \(spec.altText)"
                )
            }
            if scale == 1 {
                // The other formats: an SVG of the seed's chart, the share card, the report.
                let svg = try renderer.renderSVG(try ReferenceCharts.all().first { $0.name == "tv-new-shows" }!.spec)
                try AtomicFile.write(svg, to: "\(charts.chartsDir)/tv-new-shows.svg")
                try AtomicFile.write(
                    try renderer.render(card: try ReferenceCharts.card()), to: "\(charts.chartsDir)/share-card.png")
                try AtomicFile.write(
                    try renderer.renderPDF(try ReferenceCharts.report()), to: "\(charts.chartsDir)/report.pdf")
                print("\(charts.chartsDir)/tv-new-shows.svg, share-card.png, report.pdf")
            }
        } catch let failure as CommandFailure {
            failure.exit()
        } catch {
            CommandFailure("\(error)", exitCode: .software).exit()
        }
    }
}
