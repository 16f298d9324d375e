/// Shown percentages: whole numbers that always add up to exactly 100.
public enum Percentages {
    /// Rounds `values` to integer percentages by the largest-remainder (Hamilton) method.
    ///
    /// Each share is first rounded down; the points still missing to reach 100 go to the largest
    /// remainders. Ties go to the larger value, then to the earlier slice, so the result is
    /// deterministic. Exact integer arithmetic: no floating-point drift. All zeros give all zeros.
    ///
    /// - Precondition: every value is non-negative and the sum times 100 fits in `Int`.
    public static func largestRemainder(_ values: [Int]) -> [Int] {
        let total = values.reduce(0, +)
        guard total > 0 else { return values.map { _ in 0 } }
        var shares = values.map { $0.multipliedFullWidth(by: 100) }.map { product -> (Int, Int) in
            let (quotient, remainder) = total.dividingFullWidth(product)
            return (quotient, remainder)
        }
        let missing = 100 - shares.reduce(0) { $0 + $1.0 }
        let order = values.indices.sorted { a, b in
            if shares[a].1 != shares[b].1 { return shares[a].1 > shares[b].1 }
            if values[a] != values[b] { return values[a] > values[b] }
            return a < b
        }
        for index in order.prefix(missing) {
            shares[index].0 += 1
        }
        return shares.map(\.0)
    }
}
