/// Shown percentages: whole numbers that always add up to exactly 100.
public enum Percentages {
    /// Rounds `values` to integer percentages by the largest-remainder (Hamilton) method.
    ///
    /// Each share is first rounded down; the points still missing to reach 100 go to the largest
    /// remainders. Ties go to the larger value, then to the earlier slice, so the result is
    /// deterministic. Exact integer arithmetic: no floating-point drift.
    ///
    /// Defined for every `[Int]`, never trapping: all zeros give all zeros, and so does a list
    /// holding any negative value (a share of a negative count means nothing). Any non-negative
    /// values, `Int.max` included, are exact: the sum and the products by 100 are taken in 128
    /// bits, which no list of 64-bit values can overflow.
    public static func largestRemainder(_ values: [Int]) -> [Int] {
        let zeros = values.map { _ in 0 }
        guard values.allSatisfy({ $0 >= 0 }) else { return zeros }
        let total = values.reduce(Int128(0)) { $0 + Int128($1) }
        guard total > 0 else { return zeros }
        // Each value is at most the total, so each quotient is at most 100 and fits in `Int`.
        var shares = values.map { value -> (Int, Int128) in
            let (quotient, remainder) = (Int128(value) * 100).quotientAndRemainder(dividingBy: total)
            return (Int(quotient), remainder)
        }
        // The rounded-down shares add up to at most 100 and lose less than one point each, so
        // 0 ≤ missing < values.count.
        let missing = 100 - shares.reduce(0) { $0 + $1.0 }
        let order = values.indices.sorted { a, b in
            if shares[a].1 != shares[b].1 { return shares[a].1 > shares[b].1 }
            if values[a] != values[b] { return values[a] > values[b] }
            return a < b
        }
        for index in order.prefix(max(0, missing)) {
            shares[index].0 += 1
        }
        return shares.map(\.0)
    }
}
