import ChartCache
import Foundation
import Localization
import PieChart
import Surveys

/// The other files of a survey's results, each content-addressed like the charts and made once
/// through the cache: each question's chart as SVG (`q<question>-<key>.svg`), the share card
/// (`s<survey>-<key>.png`) and the PDF report (`r<survey>-<key>.pdf`). Their names change with
/// anything that changes the file: votes, texts, the language, the drawing code.
public enum SurveyDocuments {
    // MARK: SVG charts

    /// The spec of a question's SVG chart: the wide variant at 1x.
    public static func svgSpec(for question: Question, in language: LanguageTag) throws -> ChartSpec {
        try QuestionCharts.spec(for: question, in: language, variant: .wide, scale: 1)
    }

    /// `q<question>-<key>.svg`.
    public static func svgName(for question: Question, in language: LanguageTag) throws -> ChartName {
        let key = ChartKey(material: try svgSpec(for: question, in: language).cacheKeyMaterial + Array("\nsvg".utf8))
        return try! ChartName(validating: "q\(question.id)-\(key.shortHex).svg")
    }

    // MARK: Share cards

    /// The share card of `survey`: its title, its first question, that question's winners and
    /// chart, in its language. Nil for a survey without questions.
    public static func card(for survey: Survey) throws -> ShareCard? {
        guard let question = survey.questions.first else { return nil }
        let localizer = Localizer(survey.language)
        return try ShareCard(
            title: survey.title, question: question.text, highlight: winnersLine(question, localizer),
            footer: localizer.text(.cardFooter, ["date": localizer.date(survey.closes)]),
            chart: try QuestionCharts.spec(for: question, in: survey.language))
    }

    /// `s<survey>-<key>.png`, or nil for a survey without questions.
    public static func cardName(for survey: Survey) throws -> ChartName? {
        guard let card = try card(for: survey) else { return nil }
        return try! ChartName(validating: "s\(survey.id)-\(ChartKey(material: card.cacheKeyMaterial).shortHex).png")
    }

    /// "Winner: Comedy", "Winners: Comedy, Drama", or "No votes yet", in the survey's language.
    public static func winnersLine(_ question: Question, _ localizer: Localizer) -> String {
        let winners = QuestionShares(question).winners
        guard !winners.isEmpty else { return localizer.text(.resultsNoVotes) }
        return localizer.plural(.winners, count: winners.count) + localizer.text(.labelSeparator)
            + winners.map(\.text).joined(separator: localizer.text(.listSeparator))
    }

    // MARK: Reports

    /// The PDF report of `survey`. A completed survey's is dated the day its results were
    /// published; a `live` one (an operator's, while voting is open) is dated `today` and says
    /// on every page that its counts are not final.
    public static func report(for survey: Survey, live: Bool, today: CalendarDay) throws -> ChartReport {
        let localizer = Localizer(survey.language)
        let published = live ? today : survey.closes.adding(days: 1)
        let ballots = survey.questions.map(\.totalVotes).max() ?? 0
        let languageName =
            Locale(identifier: survey.language.description).localizedString(forIdentifier: survey.language.description)
            ?? survey.language.description
        let sections = try survey.questions.map { question -> ChartReport.Section in
            let shares = QuestionShares(question)
            return ChartReport.Section(
                heading: question.text, summary: winnersLine(question, localizer),
                chart: try QuestionCharts.spec(for: question, in: survey.language),
                columns: [
                    localizer.text(.resultsAnswer), localizer.text(.resultsVotes), localizer.text(.resultsShare),
                ],
                rows: shares.rows.map { row in
                    ChartReport.Row(
                        label: row.answer.text, votes: localizer.formatter.number(row.answer.votes),
                        share: localizer.share(row.percent, votes: row.answer.votes), emphasized: row.isWinner)
                },
                total: ChartReport.Row(
                    label: localizer.text(.resultsTotal), votes: localizer.formatter.number(shares.total),
                    share: shares.total > 0 ? localizer.formatter.percent(100) : "", emphasized: true))
        }
        return ChartReport(
            title: survey.title,
            coverLines: [
                localizer.text(
                    .resultsDates, ["opens": localizer.date(survey.opens), "closes": localizer.date(survey.closes)]),
                localizer.plural(.ballots, count: ballots),
                localizer.text(.reportLanguage, ["language": languageName]),
            ],
            notice: live ? localizer.text(.reportLive) : nil, sections: sections,
            pageLabel: localizer.catalog.text(.reportPage),
            madeLine: localizer.text(.reportMadeOn, ["date": localizer.date(published)]), locale: survey.language,
            paper: .of(survey.language), createdAt: "\(published)T00:00:00Z")
    }

    /// `r<survey>-<key>.pdf`.
    public static func reportName(for survey: Survey, live: Bool, today: CalendarDay) throws -> ChartName {
        reportName(of: try report(for: survey, live: live, today: today), survey: survey.id)
    }

    /// The name of `report`, survey `id`'s.
    public static func reportName(of report: ChartReport, survey id: Int64) -> ChartName {
        try! ChartName(validating: "r\(id)-\(ChartKey(material: report.cacheKeyMaterial).shortHex).pdf")
    }
}

/// A requested file name of the shape of a survey's document: `s<survey>-<16 hex>.png` (its card)
/// or `r<survey>-<16 hex>.pdf` (its report).
public struct SurveyDocumentRequest: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case card
        case report
    }

    public var kind: Kind
    public var surveyID: Int64

    /// Parses `fileName`; nil for any other shape.
    public init?(fileName: String) {
        var bytes = Array(fileName.utf8)[...]
        switch (bytes.popFirst(), bytes.suffix(4)) {
        case (UInt8(ascii: "s"), let suffix) where suffix.elementsEqual(".png".utf8): kind = .card
        case (UInt8(ascii: "r"), let suffix) where suffix.elementsEqual(".pdf".utf8): kind = .report
        default: return nil
        }
        bytes.removeLast(4)
        guard bytes.count > 17, bytes[bytes.endIndex - 17] == UInt8(ascii: "-") else { return nil }
        guard bytes.suffix(16).allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        let digits = bytes.dropLast(17)
        guard let first = digits.first, (49...57).contains(first), digits.count <= 18,
            digits.allSatisfy({ (48...57).contains($0) })
        else { return nil }
        surveyID = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - 48) }
    }
}
