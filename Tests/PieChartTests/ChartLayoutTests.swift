import Testing

@testable import PieChart

#if canImport(Glibc)
    import Glibc
#endif

/// Every rule of DESIGN "Chart rendering" that layout decides, checked on thousands of random specs.
@Suite("Chart layout properties", .timeLimit(.minutes(2)))
struct ChartLayoutTests {
    /// Checks the layout invariants; returns problems as text so failures show the seed and spec.
    static func problems(in layout: ChartLayout, spec: ChartSpec) -> [String] {
        var problems: [String] = []
        let canvas = Rect(x: 0, y: 0, width: Double(spec.width), height: Double(spec.height))
        let total = spec.slices.reduce(0) { $0 + $1.value }
        let sum = layout.percentages.reduce(0, +)
        if total > 0 && sum != 100 { problems.append("percentages sum to \(sum)") }
        if total == 0 && (sum != 0 || layout.noVotesMessage == nil) {
            problems.append("all-zero chart without message")
        }
        // Every slice is in the legend, in order.
        if layout.legend.map(\.sliceIndex) != Array(spec.slices.indices) {
            problems.append("legend lists \(layout.legend.map(\.sliceIndex)) of \(spec.slices.count) slices")
        }
        // The legend stays in its region and never covers the pie.
        for entry in layout.legend {
            for rect in [entry.swatch, entry.label.frame, entry.figures.frame] {
                if rect.intersectsDisc(center: layout.center, radius: layout.outerRadius) {
                    problems.append("legend entry \(entry.sliceIndex) covers the pie")
                }
                if !canvas.contains(rect, tolerance: 0.5) {
                    problems.append("legend entry \(entry.sliceIndex) off canvas")
                }
                if !layout.legendRegion.contains(rect, tolerance: 0.5) {
                    problems.append("legend entry \(entry.sliceIndex) outside its region")
                }
            }
        }
        for (a, b) in zip(layout.legend, layout.legend.dropFirst()) where a.frame.intersects(b.frame) {
            problems.append("legend entries \(a.sliceIndex) and \(b.sliceIndex) overlap")
        }
        // No slice loses its percentage silently: a label on the pie, or (only) the legend.
        let labelled = Set(layout.percentLabels.map(\.sliceIndex))
        let legendOnly = Set(layout.legendOnlySlices)
        let drawn = Set(spec.slices.indices.filter { spec.slices[$0].value > 0 })
        if labelled.union(legendOnly) != drawn || !labelled.isDisjoint(with: legendOnly) {
            problems.append(
                "labels \(labelled.sorted()) + legend-only \(legendOnly.sorted()) ≠ drawn \(drawn.sorted())")
        }
        // Outside labels never overlap each other, the pie, or leave the pie's region.
        let outside = layout.percentLabels.filter { !$0.isInside }
        for (i, a) in outside.enumerated() {
            if a.text.frame.intersectsDisc(center: layout.center, radius: layout.outerRadius) {
                problems.append("outside label \(a.sliceIndex) covers the pie")
            }
            if !layout.pieRegion.contains(a.text.frame, tolerance: 0.5) {
                problems.append("outside label \(a.sliceIndex) leaves the pie region")
            }
            if a.leader.count < 2 { problems.append("outside label \(a.sliceIndex) has no leader line") }
            for b in outside[(i + 1)...] where a.text.frame.intersects(b.text.frame) {
                problems.append("outside labels \(a.sliceIndex) and \(b.sliceIndex) overlap")
            }
        }
        // Inside labels lie within their wedge's disc.
        for label in layout.percentLabels where label.isInside {
            let wedge = layout.wedges.first { $0.sliceIndex == label.sliceIndex }!
            for corner in label.text.frame.corners where corner.distance(to: wedge.apex) > layout.radius + 1e-6 {
                problems.append("inside label \(label.sliceIndex) sticks out of the pie")
            }
        }
        // The legend and pie regions are disjoint, and the pie fits its region.
        if layout.pieRegion.intersects(layout.legendRegion) { problems.append("pie and legend regions overlap") }
        let pieBox = Rect(
            x: layout.center.x - layout.outerRadius, y: layout.center.y - layout.outerRadius,
            width: 2 * layout.outerRadius, height: 2 * layout.outerRadius)
        if !canvas.contains(pieBox, tolerance: 0.5) { problems.append("pie leaves the canvas") }
        // Wedges: spec order, clockwise from 12 o'clock, covering the circle once.
        if total > 0 {
            if layout.wedges.map(\.sliceIndex) != drawn.sorted() { problems.append("wedges out of order") }
            if abs(layout.wedges.first!.startAngle) > 1e-9 { problems.append("first wedge does not start at 12") }
            if abs(layout.wedges.last!.endAngle - 2 * Double.pi) > 1e-9 { problems.append("wedges do not close") }
            for (a, b) in zip(layout.wedges, layout.wedges.dropFirst()) where abs(a.endAngle - b.startAngle) > 1e-9 {
                problems.append("gap between wedges \(a.sliceIndex) and \(b.sliceIndex)")
            }
        }
        return problems
    }

    @Test func thousandsOfRandomSpecsKeepEveryRule() throws {
        var generator = SeededGenerator(seed: 2026)
        var laidOut = 0
        for round in 0..<4000 {
            let spec = try RandomSpecs.spec(using: &generator)
            let layout: ChartLayout
            do {
                layout = try ChartLayout(spec: spec, measurer: MonospaceMeasurer())
            } catch let error as ChartSpecError {
                // Only a legend that cannot list every slice may refuse, and only on a small canvas.
                #expect(error.code == .legendDoesNotFit, "round \(round): \(error)")
                #expect(
                    spec.width * spec.height < spec.slices.count * 6000,
                    "round \(round): refused \(spec.width)×\(spec.height) with \(spec.slices.count) slices")
                continue
            }
            laidOut += 1
            let found = Self.problems(in: layout, spec: spec)
            #expect(
                found.isEmpty,
                "round \(round) (seed 2026), \(spec.width)×\(spec.height), \(spec.slices.count) slices: \(found)")
        }
        #expect(laidOut > 3000)
    }

    @Test func realPangoMetricsKeepEveryRule() throws {
        var generator = SeededGenerator(seed: 99)
        var laidOut = 0
        for round in 0..<300 {
            let spec = try RandomSpecs.spec(using: &generator, maxSlices: 24)
            let layout: ChartLayout
            do {
                layout = try ChartLayout(spec: spec, measurer: PangoTextMeasurer())
            } catch let error as ChartSpecError where error.code == .legendDoesNotFit {
                continue  // a small random canvas may be too small for its legend: a clear error, not a layout
            }
            laidOut += 1
            let found = Self.problems(in: layout, spec: spec)
            #expect(found.isEmpty, "round \(round) (seed 99): \(found)")
        }
        // Most random specs fit: the rules were checked on real layouts, not skipped.
        #expect(laidOut > 200, "only \(laidOut) of 300 specs were laid out")
    }

    @Test func commonCanvasesAlwaysFitUpTo64Slices() throws {
        var generator = SeededGenerator(seed: 5)
        for (width, height) in [(640, 400), (640, 480), (400, 600), (1200, 800)] {
            for count in [1, 2, 12, 24, 64] {
                let slices = (0..<count).map { _ in
                    ChartSpec.Slice(
                        label: RandomSpecs.label(using: &generator), value: RandomSpecs.value(using: &generator))
                }
                let spec = try ChartSpec(title: "Question", slices: slices, width: width, height: height)
                let layout = try ChartLayout(spec: spec, measurer: PangoTextMeasurer())
                #expect(Self.problems(in: layout, spec: spec).isEmpty)
            }
        }
    }

    @Test func radiusDependsOnlyOnTheCanvas() throws {
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<300 {
            let width = Int.random(in: 100...1600, using: &generator)
            let height = Int.random(in: 100...1200, using: &generator)
            let count = Int.random(in: 1...12, using: &generator)
            func layout(labelLength: Int, values: [Int]) throws -> ChartLayout? {
                let slices = values.enumerated().map {
                    ChartSpec.Slice(
                        label: String(repeating: "w", count: labelLength) + "\($0.offset)", value: $0.element)
                }
                let spec = try ChartSpec(title: "T", slices: slices, width: width, height: height)
                return try? ChartLayout(spec: spec, measurer: MonospaceMeasurer())
            }
            let values = (0..<count).map { _ in Int.random(in: 0...50, using: &generator) }
            guard let short = try layout(labelLength: 1, values: values),
                let long = try layout(labelLength: 280, values: values.reversed())
            else { continue }
            #expect(short.radius == long.radius, "\(width)×\(height)")
            #expect(short.center == long.center)
        }
    }

    @Test func legendGoesBesideOnWideCanvasesAndBelowOnNarrowOnes() throws {
        let wide = try ChartLayout(spec: Fixtures.newShows(), measurer: PangoTextMeasurer())
        #expect(wide.legendPlacement == .beside)
        #expect(wide.legend.allSatisfy { $0.frame.x >= wide.center.x + wide.outerRadius })
        let narrow = try ChartLayout(spec: Fixtures.newShows(width: 360, height: 520), measurer: PangoTextMeasurer())
        #expect(narrow.legendPlacement == .below)
        #expect(narrow.legend.allSatisfy { $0.frame.y >= narrow.center.y + narrow.outerRadius })
    }

    @Test func longLabelsWrapToThreeLinesAtMost() throws {
        let label = String(repeating: "documentary ", count: 25)
        let spec = try ChartSpec(slices: [.init(label: label, value: 3), .init(label: "Short", value: 1)])
        let layout = try ChartLayout(spec: spec, measurer: PangoTextMeasurer())
        let entry = layout.legend[0]
        #expect(entry.label.maxLines == 3)
        let extent = PangoTextMeasurer().measure(
            entry.label.text, style: entry.label.style, maxWidth: entry.label.maxWidth, maxLines: 3)
        #expect(extent.lineCount == 3)
        let oneLine = PangoTextMeasurer().measure("Short", style: entry.label.style, maxWidth: nil, maxLines: 1)
        #expect(entry.label.frame.height > 2.5 * oneLine.height)
    }

    @Test func slicesStartAtTwelveAndGoClockwiseInGivenOrder() throws {
        let layout = try ChartLayout(spec: Fixtures.newShows(), measurer: MonospaceMeasurer())
        #expect(layout.wedges.map(\.sliceIndex) == [0, 1, 2])
        #expect(abs(layout.wedges[0].endAngle - 2 * Double.pi * 5 / 8) < 1e-12)
        #expect(abs(layout.wedges[1].endAngle - 2 * Double.pi * 6 / 8) < 1e-12)
        // Clockwise: the first wedge's middle is to the right of centre (x grows), 12 o'clock is up.
        let firstMiddle = PieAngle.point(center: layout.center, radius: 10, angle: layout.wedges[0].midAngle)
        #expect(firstMiddle.x > layout.center.x)
        // The winner is pulled out, the others are not.
        #expect(layout.wedges.map(\.isPulledOut) == [true, false, false])
    }

    @Test func degenerateData() throws {
        let none = try ChartLayout(
            spec: ChartSpec(slices: [.init(label: "A", value: 0), .init(label: "B", value: 0)]),
            measurer: MonospaceMeasurer())
        #expect(none.wedges.isEmpty && none.percentLabels.isEmpty)
        #expect(none.noVotesMessage?.text == "No votes yet")
        #expect(none.legend.map(\.figures.text) == ["0 votes · 0%", "0 votes · 0%"])
        let single = try ChartLayout(
            spec: ChartSpec(slices: [
                .init(label: "A", value: 0), .init(label: "B", value: 9), .init(label: "C", value: 0),
            ]),
            measurer: MonospaceMeasurer())
        #expect(single.wedges.count == 1 && single.wedges[0].isPulledOut == false)
        #expect(single.percentLabels.map(\.text.text) == ["100%"])
        #expect(single.legend.map(\.figures.text) == ["0 votes · 0%", "9 votes · 100%", "0 votes · 0%"])
    }

    @Test func tinySlicesKeepTheirPercentageInTheLegend() throws {
        // 40 one-vote slices beside a giant: the pie cannot label them all without overlap.
        let slices =
            [ChartSpec.Slice(label: "Giant", value: 100_000)] + (1...40).map { .init(label: "S\($0)", value: 1) }
        let layout = try ChartLayout(spec: ChartSpec(slices: slices), measurer: PangoTextMeasurer())
        #expect(!layout.legendOnlySlices.isEmpty)
        #expect(Self.problems(in: layout, spec: try ChartSpec(slices: slices)).isEmpty)
        for index in layout.legendOnlySlices {
            #expect(layout.legend[index].figures.text.hasSuffix("%"))
        }
    }

    @Test func legendThatCannotFitIsRefusedNotTruncated() throws {
        let slices = (1...64).map { ChartSpec.Slice(label: "Answer number \($0)", value: $0) }
        #expect {
            try ChartLayout(spec: ChartSpec(slices: slices, width: 100, height: 100), measurer: PangoTextMeasurer())
        } throws: { error in
            (error as? ChartSpecError)?.code == .legendDoesNotFit && (error as? ChartSpecError)?.field == "slices"
        }
    }

    @Test func figuresGroupThousands() {
        #expect(ChartText.figures(votes: 1, percent: 3) == "1 vote · 3%")
        #expect(ChartText.figures(votes: 1_234_567, percent: 97) == "1,234,567 votes · 97%")
        #expect(ChartText.grouped(999) == "999")
        #expect(ChartText.figures(votes: 1_234_567, percent: 97, style: .compact) == "1,234,567 · 97%")
        #expect(ChartText.figures(votes: 1_234_567, percent: 97, style: .abbreviated) == "1.2M · 97%")
        #expect(ChartText.abbreviated(999) == "999" && ChartText.abbreviated(35_400) == "35k")
        #expect(ChartText.abbreviated(9_999) == "9.9k" && ChartText.abbreviated(4_600_000_000) == "4.6G")
    }
}
