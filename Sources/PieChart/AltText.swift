extension ChartSpec {
    /// The text alternative for the chart image: the data it shows, in order, with the shown
    /// percentages ("Comedy 40 %, Drama 40 %, Reality 20 %"), or "No votes yet" when nobody voted.
    public var altText: String {
        let percentages = Percentages.largestRemainder(slices.map(\.value))
        if percentages.allSatisfy({ $0 == 0 }) {
            return ChartText.noVotes + ": " + slices.map { ChartText.singleLine($0.label) }.joined(separator: ", ")
        }
        return slices.indices.map { "\(ChartText.singleLine(slices[$0].label)) \(percentages[$0]) %" }
            .joined(separator: ", ")
    }
}
