import ArgumentParser
import Foundation
import PieChart

/// `surveycharts render SPEC.json --output chart.png [--scale 2]`
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render one chart spec (JSON) to a PNG or SVG file.",
        discussion: """
            SPEC.json holds {"title", "slices": [{"label", "value"}], "width", "height", "scale", "theme", \
            "locale"}; only "slices" is required. Use - to read the spec from standard input. An output name \
            ending in .svg writes SVG (vectors, the same layout), anything else PNG. A bad spec exits with \
            status 65 and one line naming the field; nothing is written then.
            """
    )

    @Argument(help: ArgumentHelp("The chart spec, as JSON (- for standard input).", valueName: "SPEC.json"))
    var spec: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the PNG or SVG.", valueName: "chart.png"))
    var output: String

    @Option(help: "Pixels per point (1...3), overriding the spec's scale.")
    var scale: Int?

    @Option(
        help: ArgumentHelp(
            "Encode lossless RGB with libpng at this zlib level (0...9) instead of the fast palette encoder: every pixel exact, slower.",
            valueName: "level"))
    var compressionLevel: Int?

    func validate() throws {
        if let compressionLevel, !(0...9).contains(compressionLevel) {
            throw ValidationError("--compression-level must be 0...9, got \(compressionLevel)")
        }
    }

    func run() throws {
        do {
            try renderChart()
        } catch let failure as CommandFailure {
            failure.exit()
        }
    }

    private func renderChart() throws {
        let bytes: Data
        do {
            bytes =
                spec == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: spec))
        } catch {
            throw CommandFailure("cannot read \(spec): \(error.localizedDescription)", exitCode: .ioError)
        }
        do {
            var chart = try ChartSpec(json: bytes)
            if let scale {
                chart.scale = scale
                try chart.validate()
            }
            if output.lowercased().hasSuffix(".svg") {
                let svg = try PieChartRenderer().renderSVG(chart)
                try AtomicFile.write(svg, to: output)
                print("\(output): SVG, \(chart.width)×\(chart.height) points, \(svg.count) bytes")
                return
            }
            let rendered = try PieChartRenderer(
                options: .init(
                    encoder: compressionLevel.map { .libpng(compressionLevel: $0, rowFilter: .adaptive) } ?? .fast)
            ).render(chart)
            try AtomicFile.write(rendered.png, to: output)
            var note = "\(output): \(rendered.pixelWidth)×\(rendered.pixelHeight), \(rendered.png.count) bytes"
            if rendered.unknownGlyphs > 0 {
                note += " (warning: \(rendered.unknownGlyphs) characters have no glyph in the installed fonts)"
            }
            print(note)
        } catch let error as ChartSpecError {
            throw CommandFailure("\(spec): \(error)", exitCode: .dataError)
        } catch let error as ChartRenderError {
            throw CommandFailure(error.description, exitCode: .software)
        }
    }
}
