import Localization

extension ChartSpec {
    /// The text alternative for the chart image, in the chart's language: the data it shows, in
    /// order, with the shown percentages ("Comedy: 40%, Drama: 40%, Reality: 20%"; a share that
    /// has votes but rounds to 0 reads "<1%"), or "No votes yet" and the answers when nobody voted.
    public var altText: String {
        let localizer = Localizer(locale)
        let percentages = Percentages.largestRemainder(slices.map(\.value))
        let separator = localizer.text(.listSeparator)
        if percentages.allSatisfy({ $0 == 0 }) {
            return localizer.text(
                .chartAltNoVotes,
                ["answers": slices.map { ChartText.singleLine($0.label) }.joined(separator: separator)])
        }
        return slices.indices.map {
            localizer.text(
                .chartAltEntry,
                [
                    "answer": ChartText.singleLine(slices[$0].label),
                    "percent": localizer.share(percentages[$0], votes: slices[$0].value),
                ])
        }
        .joined(separator: separator)
    }
}
