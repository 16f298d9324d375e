import Testing

@testable import PieChart

@Suite("Largest-remainder percentages and the palette", .timeLimit(.minutes(2)))
struct PercentagesAndPaletteTests {
    @Test func theSeedsChartAddsUpTo100() {
        // The origin rounded each share on its own and showed 62 + 12 + 25 = 99.
        #expect(Percentages.largestRemainder([5, 1, 2]) == [63, 12, 25])
        #expect(Percentages.largestRemainder([2, 2, 1]) == [40, 40, 20])
        #expect(Percentages.largestRemainder([1, 1, 1]) == [34, 33, 33])
        #expect(Percentages.largestRemainder([0, 0]) == [0, 0])
        #expect(Percentages.largestRemainder([0, 7]) == [0, 100])
    }

    @Test func thousandsOfRandomInputsSumTo100AndStayWithinOnePoint() {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<5000 {
            let count = Int.random(in: 1...64, using: &generator)
            let values = (0..<count).map { _ in RandomSpecs.value(using: &generator) }
            let shown = Percentages.largestRemainder(values)
            let total = values.reduce(0, +)
            if total == 0 {
                #expect(shown.allSatisfy { $0 == 0 }, "round \(round)")
                continue
            }
            #expect(shown.reduce(0, +) == 100, "round \(round): \(values) → \(shown)")
            for (value, percent) in zip(values, shown) {
                let exact = Double(value) * 100 / Double(total)
                #expect(
                    Double(percent) >= exact.rounded(.down) && Double(percent) <= exact.rounded(.up), "round \(round)")
                if value == 0 { #expect(percent == 0) }
            }
        }
    }

    @Test func neighboursNeverShareAColourEvenBeyondThePalette() {
        var generator = SeededGenerator(seed: 7)
        for round in 0..<3000 {
            let count = Int.random(in: 1...64, using: &generator)
            let values = (0..<count).map { _ in Int.random(in: 0...3, using: &generator) }
            let colors = Palette.colors(forValues: values)
            #expect(colors.count == values.count)
            let drawn = values.indices.filter { values[$0] > 0 }
            guard drawn.count >= 2 else { continue }
            for (a, b) in zip(drawn, drawn.dropFirst() + [drawn[0]]) {
                #expect(colors[a] != colors[b], "round \(round): slices \(a) and \(b) of \(values)")
            }
        }
        // 9 equal slices: the ninth would wrap to the first colour and touch the first slice.
        let nine = Palette.colors(forValues: Array(repeating: 1, count: 9))
        #expect(nine[8] != nine[0] && nine[8] != nine[7])
    }

    @Test func paletteIsOkabeItoAndTextContrasts() {
        #expect(Palette.okabeIto.count == 8)
        #expect(Set(Palette.okabeIto).count == 8)
        #expect(Palette.okabeIto.contains(RGBColor(hex: 0xE69F00)))
        #expect(RGBColor(hex: 0x0072B2).contrastingText == RGBColor(hex: 0xFFFFFF))
        #expect(RGBColor(hex: 0xF0E442).contrastingText == RGBColor(hex: 0x000000))
    }
}
