import Foundation
import Testing

@testable import PieChart

/// Every committed reference chart (docs/reference/) matches a fresh render of its spec, pixel by
/// pixel: a changed digit, colour or edge fails. A deliberate change re-renders them with
/// `make update-reference`, in the same commit.
///
/// The committed files come from the default (palette) encoder, which keeps every flat area's
/// colour and moves an antialiased pixel by at most `PieChartRenderer.paletteTolerance` per
/// channel. So the fresh render is drawn lossless and may differ by exactly that, nothing more.
/// That holds only for the same pixels: unhinted text draws the same on every machine with the
/// same fonts and libraries, so this assumes the fonts scripts/install-deps.sh installs (DejaVu
/// Sans, WenQuanYi Micro Hei, and no other font that fontconfig prefers) and the Debian release's
/// Cairo, Pango, HarfBuzz and FreeType that last ran `make update-reference`.
@Suite("Reference charts", .timeLimit(.minutes(2)))
struct ReferenceChartTests {
    static let directory =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/docs/reference"

    /// Draws the fresh charts without the palette's rounding, so that the only difference allowed is
    /// the committed file's own.
    static let lossless = PieChartRenderer(options: .init(encoder: .fastTruecolor))

    /// Every PNG in docs/reference/, whatever its variant: a file there that nothing compares
    /// would look checked.
    static func committedFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter {
            $0.hasSuffix(".png") && !ReferenceDocumentTests.pictures.contains($0)
        }.sorted()
    }

    /// The reference chart and scale a file stands for: `<name>[@<scale>x].png`, as
    /// `surveycharts demo --charts-dir docs/reference [--scale N]` names what it writes.
    static func variant(of fileName: String) -> (chart: String, scale: Int) {
        let base = String(fileName.dropLast(".png".count))
        if base.hasSuffix("x"), let at = base.lastIndex(of: "@"),
            let scale = Int(base[base.index(after: at)..<base.index(before: base.endIndex)])
        {
            return (String(base[..<at]), scale)
        }
        return (base, 1)
    }

    static func committedImage(_ fileName: String) throws -> DecodedPNG {
        try DecodedPNG(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + fileName))))
    }

    /// Every reference chart at 1x and 2x; the narrow (`-narrow`, `rtl-narrow`) and dark (`-dark`)
    /// variants are reference charts of their own, so each variant is compared at both scales.
    @Test func everyReferenceChartHasACommittedImageAtEachScale() throws {
        let committed = Set(try Self.committedFiles())
        let names = try ReferenceCharts.all().map(\.name)
        for name in names {
            for file in [name + ".png", name + "@2x.png"] {
                #expect(committed.contains(file), "docs/reference/\(file) is missing: `make update-reference`")
            }
        }
        for variant in ["-narrow", "-dark"] {
            #expect(names.contains { $0.hasSuffix(variant) }, "no reference chart of the \(variant) variant")
        }
    }

    @Test(arguments: try ReferenceChartTests.committedFiles())
    func aFreshRenderMatchesTheCommittedImage(file: String) throws {
        let (chart, scale) = Self.variant(of: file)
        let known = try ReferenceCharts.all().first { $0.name == chart }
        let reference = try #require(
            known, "docs/reference/\(file): no reference chart is called \(chart) (ReferenceCharts.all())")
        var spec = reference.spec
        spec.scale = scale
        try spec.validate()
        let rendered = try Self.lossless.render(spec)
        #expect(
            rendered.unknownGlyphs == 0,
            "\(file): \(rendered.unknownGlyphs) characters have no glyph here: install the fonts (`make deps`)")
        let committed = try Self.committedImage(file)
        let fresh = try DecodedPNG(rendered.png)
        let sizes = "\(committed.width)×\(committed.height) pixels; a fresh render is \(fresh.width)×\(fresh.height)"
        try #require(fresh.width == committed.width && fresh.height == committed.height, "\(file) is \(sizes)")
        let found = Self.differences(fresh: fresh, committed: committed)
        let first = found.first.map { "(\($0.x), \($0.y))" } ?? "nowhere"
        let allowance = "\(PieChartRenderer.paletteTolerance) per channel, none in flat areas"
        let message =
            "\(file): \(found.count) pixels differ by more than the palette encoder moves them (\(allowance)), "
            + "the first at \(first), by up to \(found.largest); `make update-reference` if that is deliberate"
        #expect(found.count == 0, "\(message)")
    }

    /// Where a fresh lossless render and a committed chart differ by more than the encoder may have
    /// moved the committed pixel.
    struct Differences {
        var count = 0
        /// The largest channel difference of those pixels.
        var largest = 0
        var first: (x: Int, y: Int)?
    }

    /// Compares two images of the same size. A pixel whose four neighbours share its colour in the
    /// fresh render fills a flat area, which the encoder never moves, so it must match exactly;
    /// every other pixel may be off by `PieChartRenderer.paletteTolerance` on each channel.
    static func differences(fresh: DecodedPNG, committed: DecodedPNG) -> Differences {
        let (width, height) = (fresh.width, fresh.height)
        var found = Differences()
        for y in 0..<height {
            for x in 0..<width {
                let index = y * width + x
                let pixel = fresh.pixels[index]
                let other = committed.pixels[index]
                if pixel == other { continue }
                let difference = largestChannelDifference(pixel, other)
                let allowed = isFlat(fresh, x: x, y: y) ? 0 : PieChartRenderer.paletteTolerance
                guard difference > allowed else { continue }
                found.count += 1
                found.largest = max(found.largest, difference)
                if found.first == nil { found.first = (x: x, y: y) }
            }
        }
        return found
    }

    /// Whether the pixel and its four neighbours have one colour (as the encoder decides it).
    static func isFlat(_ image: DecodedPNG, x: Int, y: Int) -> Bool {
        guard x > 0, x < image.width - 1, y > 0, y < image.height - 1 else { return false }
        let pixel = image.color(x: x, y: y)
        return image.color(x: x - 1, y: y) == pixel && image.color(x: x + 1, y: y) == pixel
            && image.color(x: x, y: y - 1) == pixel && image.color(x: x, y: y + 1) == pixel
    }

    /// The largest difference of the red, green or blue channel of two 0xRRGGBB pixels.
    static func largestChannelDifference(_ a: UInt32, _ b: UInt32) -> Int {
        let red = abs(Int(a >> 16 & 0xFF) - Int(b >> 16 & 0xFF))
        let green = abs(Int(a >> 8 & 0xFF) - Int(b >> 8 & 0xFF))
        let blue = abs(Int(a & 0xFF) - Int(b & 0xFF))
        return max(red, green, blue)
    }

    /// The allowance is the encoder's and no wider: each reference chart through the palette encoder
    /// passes against its lossless render. (If this fails, the comparison is wrong, not the files.)
    @Test func theEncodersOwnRoundingPasses() throws {
        for (name, spec) in try ReferenceCharts.all() {
            let lossless = try DecodedPNG(try Self.lossless.render(spec).png)
            let encoded = try DecodedPNG(try PieChartRenderer().render(spec).png)
            let found = Self.differences(fresh: lossless, committed: encoded)
            #expect(found.count == 0, "\(name): \(found.count) pixels, by up to \(found.largest)")
        }
    }

    /// The smallest change a chart can show: one digit of one legend label ("Maybe 3-5" to
    /// "Maybe 3-6"), with the layout unchanged because digits are equally wide.
    @Test func theComparisonNoticesOneChangedDigit() throws {
        let original = try #require(try ReferenceCharts.all().first { $0.name == "tv-new-shows" }?.spec)
        var changed = original
        changed.slices = original.slices.map {
            ChartSpec.Slice(label: $0.label.replacingOccurrences(of: "3-5", with: "3-6"), value: $0.value)
        }
        try #require(changed != original, "tv-new-shows no longer has the label this test changes")
        let fresh = try DecodedPNG(try Self.lossless.render(changed).png)
        let committed = try Self.committedImage("tv-new-shows.png")
        try #require(fresh.width == committed.width && fresh.height == committed.height)
        #expect(Self.differences(fresh: fresh, committed: committed).count > 0)
    }

    @Test func theComparisonNoticesMissingText() throws {
        // The same chart without its title and with shorter labels must not pass as the reference.
        let committed = try Self.committedImage("tv-favourite-type.png")
        let altered = try ChartSpec(
            title: nil,
            slices: [.init(label: "C", value: 2), .init(label: "D", value: 2), .init(label: "R", value: 1)])
        let fresh = try DecodedPNG(try Self.lossless.render(altered).png)
        try #require(fresh.width == committed.width && fresh.height == committed.height)
        #expect(Self.differences(fresh: fresh, committed: committed).count > 0)
    }
}
