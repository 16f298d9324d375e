import Foundation
import Testing

@testable import PieChart

/// Every slice identifiable: own colours up to 12 slices (colour-blind safe), colour and
/// pattern beyond; and "<1%" for a share that has votes but rounds to 0.
@Suite("Slice colours, patterns and tiny shares", .timeLimit(.minutes(2)))
struct SliceStyleTests {
    /// sRGB → CIELAB (D65) after simulating a colour-vision deficiency with Machado et al. (2009)
    /// at full severity.
    static func lab(_ color: RGBColor, deficiency: [[Double]]) -> [Double] {
        func linear(_ channel: UInt8) -> Double {
            let value = Double(channel) / 255
            return value <= 0.040_45 ? value / 12.92 : pow((value + 0.055) / 1.055, 2.4)
        }
        let rgb = [linear(color.red), linear(color.green), linear(color.blue)]
        let seen = deficiency.map { row in min(1, max(0, zip(row, rgb).map(*).reduce(0, +))) }
        let xyz = [
            (0.4124 * seen[0] + 0.3576 * seen[1] + 0.1805 * seen[2]) / 0.950_47,
            0.2126 * seen[0] + 0.7152 * seen[1] + 0.0722 * seen[2],
            (0.0193 * seen[0] + 0.1192 * seen[1] + 0.9505 * seen[2]) / 1.088_83,
        ]
        let f = xyz.map { $0 > 0.008_856 ? cbrt($0) : 7.787 * $0 + 16.0 / 116 }
        return [116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])]
    }

    static let visions: [(String, [[Double]])] = [
        ("normal", [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
        (
            "protanopia",
            [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
        ),
        (
            "deuteranopia",
            [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
        ),
        (
            "tritanopia",
            [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
        ),
    ]

    @Test func twelveColoursStayApartForEveryKindOfVision() {
        let palette = Palette.slices
        #expect(palette.count == 12 && Set(palette).count == 12)
        #expect(Array(palette.prefix(8)) == Palette.okabeIto)
        for (name, matrix) in Self.visions {
            let points = palette.map { Self.lab($0, deficiency: matrix) }
            for a in palette.indices {
                for b in palette.indices where b > a {
                    let distance = sqrt(zip(points[a], points[b]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +))
                    #expect(distance >= 15, "\(palette[a]) and \(palette[b]) are \(distance) apart with \(name)")
                }
            }
            // Not too close to the white background either (slices are bordered in white).
            let white = Self.lab(RGBColor(hex: 0xFFFFFF), deficiency: matrix)
            for (color, point) in zip(palette, points) {
                let distance = sqrt(zip(point, white).map { ($0 - $1) * ($0 - $1) }.reduce(0, +))
                #expect(distance >= 15, "\(color) is \(distance) from white with \(name)")
            }
        }
    }

    @Test func upToTwelveSlicesEachHaveTheirOwnColour() {
        var generator = SeededGenerator(seed: 12)
        for count in 1...12 {
            for _ in 0..<200 {
                let values = (0..<count).map { _ in Int.random(in: 0...3, using: &generator) }
                let styles = Palette.styles(forValues: values)
                #expect(Set(styles.map(\.color)).count == count, "\(values)")
                #expect(styles.allSatisfy { $0.pattern == .solid })
            }
        }
    }

    @Test func beyondTwelveEverySliceHasItsOwnColourAndPattern() {
        var generator = SeededGenerator(seed: 64)
        for round in 0..<2000 {
            let count = Int.random(in: 13...64, using: &generator)
            let values = (0..<count).map { _ in Int.random(in: 0...3, using: &generator) }
            let styles = Palette.styles(forValues: values)
            #expect(Set(styles).count == count, "round \(round): \(values)")
            let drawn = values.indices.filter { values[$0] > 0 }
            guard drawn.count >= 2 else { continue }
            for (a, b) in zip(drawn, drawn.dropFirst() + [drawn[0]]) {
                #expect(styles[a].color != styles[b].color, "round \(round): slices \(a) and \(b) touch")
            }
        }
    }

    @Test func aPatternedSliceIsDrawnWithItsPatternInPieAndLegend() throws {
        let slices = (0..<13).map {
            ChartSpec.Slice(label: "Answer \($0 + 1)", value: $0 == 12 ? 40 : $0 == 0 ? 30 : 3)
        }
        let spec = try ChartSpec(title: nil, slices: slices, width: 640, height: 400)
        let rendered = try PieChartRenderer().render(spec)
        let image = try DecodedPNG(rendered.png)
        let layout = rendered.layout
        let wedge = try #require(layout.wedges.first { $0.sliceIndex == 12 })
        #expect(wedge.pattern != .solid)
        // Along a circle inside the wedge, a solid wedge has one colour; a patterned one has two.
        func coloursAlong(_ wedge: ChartLayout.Wedge) -> Set<UInt32> {
            Set(
                // Near the rim, away from the percentage label and the borders.
                stride(from: 0.25, through: 0.75, by: 0.01).map { fraction -> UInt32 in
                    let angle = wedge.startAngle + (wedge.endAngle - wedge.startAngle) * fraction
                    let point = PieAngle.point(center: wedge.apex, radius: layout.radius * 0.92, angle: angle)
                    return image.color(at: point, scale: 1)
                })
        }
        #expect(coloursAlong(wedge).count > 2)
        let solid = try #require(layout.wedges.first { $0.sliceIndex == 0 })
        #expect(coloursAlong(solid).count == 1)
        let entry = try #require(layout.legend.first { $0.sliceIndex == 12 })
        #expect(entry.pattern == wedge.pattern && entry.color == wedge.color)
        let swatchColours = Set(
            stride(from: entry.swatch.x + 1, to: entry.swatch.maxX - 1, by: 0.5).map {
                image.color(at: Point(x: $0, y: entry.swatch.y + entry.swatch.height / 2), scale: 1)
            })
        #expect(swatchColours.count > 1, "the legend swatch shows the pattern")
    }

    @Test func aShareThatRoundsToZeroReadsLessThanOnePercent() throws {
        let slices = [
            ChartSpec.Slice(label: "Many", value: 995), ChartSpec.Slice(label: "One", value: 1),
            ChartSpec.Slice(label: "None", value: 0),
        ]
        let spec = try ChartSpec(title: nil, slices: slices, width: 640, height: 400)
        let layout = try PieChartRenderer().layout(spec)
        #expect(layout.percentages == [100, 0, 0])
        #expect(layout.legend[1].figures.text == "1 vote · <1%")
        #expect(layout.legend[2].figures.text == "0 votes · 0%")
        #expect(spec.altText == "Many: 100%, One: <1%, None: 0%")
        if let label = layout.percentLabels.first(where: { $0.sliceIndex == 1 }) {
            #expect(label.text.text == "<1%")
        }
        #expect(ChartText.percent(0, votes: 1) == "<1%" && ChartText.percent(0, votes: 0) == "0%")
        #expect(ChartText.percent(37, votes: 5) == "37%")
    }
}
