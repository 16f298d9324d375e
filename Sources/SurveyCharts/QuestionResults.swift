import Localization
import PieChart
import Surveys

/// A question's numbers as every page, export and chart shows them: the integer percentages
/// (largest remainder, summing to 100), the winners and the total.
public struct QuestionShares: Sendable {
    /// One answer's line.
    public struct Row: Sendable {
        public var answer: Answer
        public var percent: Int
        public var isWinner: Bool
    }

    public var rows: [Row]
    public var winners: [Answer]
    public var total: Int

    /// The shares of `question`'s votes.
    public init(_ question: Question) {
        let percentages = Percentages.largestRemainder(question.answers.map(\.votes))
        winners = question.winners
        let winnerIDs = Set(winners.map(\.id))
        rows = zip(question.answers, percentages).map {
            Row(answer: $0, percent: $1, isWinner: winnerIDs.contains($0.id))
        }
        total = question.totalVotes
    }
}

/// A question's results as a results page and `results.json` show them: its shares, and its
/// chart in every variant with the URLs of each scale.
public struct QuestionResults: Sendable {
    /// One variant's chart.
    public struct Chart: Sendable {
        public var variant: QuestionChartVariant
        /// The canvas in points (CSS pixels).
        public var width: Int, height: Int
        /// The URL of each scale, ascending.
        public var urls: [(scale: Int, url: String)]

        /// The URL at 1x (the `src`).
        public var url: String { urls.first?.url ?? "" }
        /// `url 1x, url 2x`, for `srcset`.
        public var srcset: String { urls.map { "\($0.url) \($0.scale)x" }.joined(separator: ", ") }
    }

    public var shares: QuestionShares
    /// Every variant's chart, in `QuestionChartVariant.all`'s order (the default first).
    public var charts: [Chart]
    /// The chart's text alternative: every answer with its votes and share.
    public var altText: String

    /// The results of `question` in `language`; throws when its chart spec breaks the spec's
    /// rules. Measures chart text: call it where blocking work runs.
    public init(_ question: Question, in language: LanguageTag) throws {
        shares = QuestionShares(question)
        let names = try QuestionCharts.names(for: question, in: language)
        charts = try QuestionChartVariant.all.map { variant in
            let spec = try QuestionCharts.spec(for: question, in: language, variant: variant)
            return Chart(
                variant: variant, width: spec.width, height: spec.height,
                urls: names.all.filter { $0.variant == variant }.map { ($0.scale, $0.url) })
        }
        altText = try QuestionCharts.spec(for: question, in: language).altText
    }
}
