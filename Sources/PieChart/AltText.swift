extension ChartSpec {
    /// The text alternative for the chart image: the data it shows, in order, with the shown
    /// percentages ("Comedy 40 %, Drama 40 %, Reality 20 %"; a share that has votes but
    /// rounds to 0 reads "<1 %"), or "No votes yet" when nobody voted.
    public var altText: String {
        let percentages = Percentages.largestRemainder(slices.map(\.value))
        if percentages.allSatisfy({ $0 == 0 }) {
            return ChartText.noVotes + ": " + slices.map { ChartText.singleLine($0.label) }.joined(separator: ", ")
        }
        return slices.indices.map {
            let shown = percentages[$0] == 0 && slices[$0].value > 0 ? "<1" : String(percentages[$0])
            return "\(ChartText.singleLine(slices[$0].label)) \(shown) %"
        }
        .joined(separator: ", ")
    }
}
