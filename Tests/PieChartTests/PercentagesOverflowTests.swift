import Testing

@testable import PieChart

/// `largestRemainder` is defined for every `[Int]`: it used to trap when the sum overflowed and
/// could trap (or show nonsense) for negative values.
@Suite("Percentages of extreme values", .timeLimit(.minutes(2)))
struct PercentagesOverflowTests {
    @Test func valuesWhoseSumOverflowsIntAreStillExact() {
        #expect(Percentages.largestRemainder([Int.max, Int.max]) == [50, 50])
        #expect(Percentages.largestRemainder([Int.max, Int.max, Int.max]) == [34, 33, 33])
        #expect(Percentages.largestRemainder([Int.max, 0, Int.max]) == [50, 0, 50])
        #expect(Percentages.largestRemainder([Int.max, 1]) == [100, 0])
        #expect(Percentages.largestRemainder([1, Int.max]) == [0, 100])
        #expect(Percentages.largestRemainder([Int.max]) == [100])
        let many = Percentages.largestRemainder([Int](repeating: Int.max, count: 64))
        #expect(many.reduce(0, +) == 100 && many.allSatisfy { $0 == 1 || $0 == 2 })
    }

    @Test func anyNegativeValueGivesAllZeros() {
        #expect(Percentages.largestRemainder([-1, 2]) == [0, 0])
        #expect(Percentages.largestRemainder([5, -4]) == [0, 0])
        #expect(Percentages.largestRemainder([Int.min, Int.max]) == [0, 0])
        #expect(Percentages.largestRemainder([Int.max / 2, -(Int.max / 2) + 1]) == [0, 0])
        #expect(Percentages.largestRemainder([Int.min]) == [0])
    }

    @Test func ordinaryInputsAreUnchanged() {
        #expect(Percentages.largestRemainder([]) == [])
        #expect(Percentages.largestRemainder([0, 0]) == [0, 0])
        #expect(Percentages.largestRemainder([5, 1, 2]) == [63, 12, 25])
        #expect(Percentages.largestRemainder([1, 1, 1]) == [34, 33, 33])
        // Right at ChartSpec's largest total.
        #expect(Percentages.largestRemainder([9_007_199_254_740_990, 1]) == [100, 0])
    }
}
