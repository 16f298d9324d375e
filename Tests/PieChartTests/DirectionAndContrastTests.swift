import Foundation
import Localization
import Testing

@testable import PieChart

/// Right-to-left charts mirror, and every label drawn on a slice keeps WCAG AA contrast.
@Suite("Directions and contrast", .timeLimit(.minutes(2)))
struct DirectionAndContrastTests {
    static func spec(_ locale: String, width: Int = 640, height: Int = 400) throws -> ChartSpec {
        try ChartSpec(
            slices: [.init(label: "אחת", value: 5), .init(label: "שתיים", value: 3), .init(label: "שלוש", value: 2)],
            width: width, height: height, locale: try LanguageTag(parsing: locale))
    }

    @Test func rightToLeftChartsMirrorTheirLegendAndWedges() throws {
        let measurer = PangoTextMeasurer()
        let ltr = try ChartLayout(spec: try Self.spec("en"), measurer: measurer)
        let rtl = try ChartLayout(spec: try Self.spec("he"), measurer: measurer)
        #expect(!ltr.isMirrored && rtl.isMirrored)
        #expect(ltr.legend.count == 3 && rtl.legend.count == 3 && rtl.wedges.count == 3)
        // Beside the pie: left of it in right-to-left, right of it otherwise.
        #expect(ltr.legendRegion.x > ltr.pieRegion.maxX - 1 && rtl.legendRegion.maxX < rtl.pieRegion.x + 1)
        for entry in rtl.legend {
            // Swatch, then label, then figures, read from the right.
            #expect(entry.swatch.x > entry.label.frame.maxX && entry.label.frame.x > entry.figures.frame.maxX)
        }
        for entry in ltr.legend {
            #expect(entry.swatch.maxX < entry.label.frame.x && entry.label.frame.maxX < entry.figures.frame.x)
        }
        // The first answer starts at 12 o'clock and runs counter-clockwise: it ends the clock face.
        #expect(ltr.wedges.first?.startAngle == 0)
        #expect(abs((rtl.wedges.first?.endAngle ?? 0) - 2 * Double.pi) < 1e-9)
        // The same geometry, mirrored about the centre line.
        #expect(abs(rtl.center.x - (640 - ltr.center.x)) < 1e-9 && rtl.radius == ltr.radius)
        let narrow = try ChartLayout(spec: try Self.spec("ar", width: 340, height: 400), measurer: measurer)
        #expect(narrow.legendPlacement == .below && narrow.legend.count == 3)
        #expect(narrow.legend.allSatisfy { $0.swatch.x > $0.label.frame.maxX })
    }

    /// WCAG 2 contrast ratio of two colours.
    static func contrast(_ a: RGBColor, _ b: RGBColor) -> Double {
        let (light, dark) = (max(a.luminance, b.luminance), min(a.luminance, b.luminance))
        return (light + 0.05) / (dark + 0.05)
    }

    @Test func labelsOnSlicesKeepAAContrastForEveryColourAndPattern() throws {
        #expect(Palette.slices.count == 12)
        for colour in Palette.slices {
            #expect(Self.contrast(colour, colour.contrastingText) >= 4.5, "\(colour)")
        }
        // Each colour as drawn: a chart whose slice `i` is large enough for an inside label.
        var coloursSeen = Set<RGBColor>()
        for index in 0..<12 {
            let spec = try ChartSpec(
                slices: (0..<12).map { .init(label: "Answer \($0)", value: $0 == index ? 1000 : 20) })
            let layout = try ChartLayout(spec: spec, measurer: PangoTextMeasurer())
            let label = try #require(layout.percentLabels.first { $0.sliceIndex == index && $0.isInside })
            let wedge = try #require(layout.wedges.first { $0.sliceIndex == index })
            #expect(Self.contrast(wedge.color, label.color) >= 4.5, "\(wedge.color)")
            coloursSeen.insert(wedge.color)
        }
        #expect(coloursSeen == Set(Palette.slices))
        // Past 12 answers slices get patterns; a label inside a patterned slice sits on a plate of
        // the slice's own colour, so the stripes never pass behind its letters.
        let many = try ChartSpec(
            slices: (1...30).map { .init(label: "Answer \($0)", value: $0 == 13 ? 400 : 5) }, width: 900, height: 700)
        let layout = try ChartLayout(spec: many, measurer: PangoTextMeasurer())
        var platesSeen = 0
        for label in layout.percentLabels where label.isInside {
            let wedge = try #require(layout.wedges.first { $0.sliceIndex == label.sliceIndex })
            #expect(Self.contrast(wedge.color, label.color) >= 4.5)
            if wedge.pattern == .solid {
                #expect(label.plate == nil)
            } else {
                let plate = try #require(label.plate, "slice \(label.sliceIndex) is patterned but has no plate")
                #expect(
                    plate.x <= label.text.frame.x && plate.maxX >= label.text.frame.maxX
                        && plate.y <= label.text.frame.y && plate.maxY >= label.text.frame.maxY)
                platesSeen += 1
            }
        }
        #expect(platesSeen > 0, "the test must reach a patterned slice with an inside label")
    }
}
