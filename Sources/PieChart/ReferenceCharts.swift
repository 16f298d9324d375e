import Localization

/// The reference charts: the seed's two Television Trends questions and the hard cases. They are
/// what `surveycharts demo` draws, what `docs/reference/` shows, and what the tests compare every
/// fresh render against (`make update-reference` re-renders them after a deliberate change).
public enum ReferenceCharts {
    /// Every reference chart, by file name (without `.png`).
    public static func all() throws -> [(name: String, spec: ChartSpec)] {
        typealias Slice = ChartSpec.Slice
        return [
            (
                "tv-favourite-type",
                try ChartSpec(
                    title: "What is your favorite type of TV show?",
                    slices: [
                        Slice(label: "Comedy", value: 2), Slice(label: "Drama", value: 2),
                        Slice(label: "Reality", value: 1),
                    ])
            ),
            (
                "tv-new-shows",
                try ChartSpec(
                    title: "How many new shows will you try this Fall?",
                    slices: [
                        Slice(label: "Hardly any: I already watch too much TV!", value: 5),
                        Slice(label: "Maybe 3-5", value: 1),
                        Slice(label: "I'm a TV fiend, I'll try them all at least once!", value: 2),
                    ])
            ),
            (
                // The question chart's narrow (phone) variant: 340 points, legend below the pie.
                "tv-new-shows-narrow",
                try ChartSpec(
                    title: nil,
                    slices: [
                        Slice(label: "Hardly any: I already watch too much TV!", value: 5),
                        Slice(label: "Maybe 3-5", value: 1),
                        Slice(label: "I'm a TV fiend, I'll try them all at least once!", value: 2),
                    ], width: 340, height: 400)
            ),
            (
                "tv-new-shows-dark",
                try ChartSpec(
                    title: "How many new shows will you try this Fall?",
                    slices: [
                        Slice(label: "Hardly any: I already watch too much TV!", value: 5),
                        Slice(label: "Maybe 3-5", value: 1),
                        Slice(label: "I'm a TV fiend, I'll try them all at least once!", value: 2),
                    ], theme: .dark)
            ),
            (
                "twelve-tiny-slices",
                try ChartSpec(
                    title: "Which streaming services do you use most?",
                    slices: [
                        ("Netflix", 412), ("YouTube", 388), ("Prime Video", 97), ("Disney+", 61), ("Max", 12),
                        ("Hulu", 9), ("Apple TV+", 4), ("Paramount+", 3), ("Peacock", 2), ("Crunchyroll", 1),
                        ("Mubi", 1), ("Other", 1),
                    ].map { Slice(label: $0.0, value: $0.1) })
            ),
            (
                "long-labels",
                try ChartSpec(
                    title: "What would make you watch more public broadcasting in the evenings?",
                    slices: [
                        Slice(
                            label: "More documentaries about science, nature and history, shown before nine "
                                + "o'clock so that families can watch them together", value: 31),
                        Slice(label: "Fewer repeats", value: 12),
                        Slice(
                            label: "Local news with reporters who actually live in the region they report on, "
                                + "rather than syndicated bulletins from the capital", value: 22),
                        Slice(label: "Nothing: I do not own a television and I am quite happy that way", value: 9),
                    ])
            ),
            (
                "chinese",
                try ChartSpec(
                    title: "你最喜欢哪种类型的电视节目？",
                    slices: [
                        Slice(label: "喜剧", value: 14), Slice(label: "电视剧", value: 9),
                        Slice(label: "真人秀", value: 6), Slice(label: "纪录片", value: 3),
                    ], locale: try LanguageTag(parsing: "zh-Hans"))
            ),
            (
                // Right to left, in Egyptian Arabic: mirrored, with Arabic-Indic digits.
                "arabic",
                try ChartSpec(
                    title: nil,
                    slices: [
                        Slice(label: "الكوميديا", value: 21), Slice(label: "الدراما", value: 17),
                        Slice(label: "تلفزيون الواقع", value: 8),
                        Slice(label: "الأفلام الوثائقية (Documentaries)", value: 4),
                    ], locale: try LanguageTag(parsing: "ar-EG"))
            ),
            (
                "no-votes",
                try ChartSpec(
                    title: "Which night should the finale air?",
                    slices: [
                        Slice(label: "Friday", value: 0), Slice(label: "Saturday", value: 0),
                        Slice(label: "Sunday", value: 0),
                    ])
            ),
            (
                "single-slice",
                try ChartSpec(
                    title: "Would you recommend the show to a friend?",
                    slices: [Slice(label: "Yes", value: 42), Slice(label: "No", value: 0)])
            ),
            (
                "rtl-narrow",
                try ChartSpec(
                    title: "اللغة المفضلة · שפה מועדפת",
                    slices: [
                        Slice(label: "العربية", value: 7), Slice(label: "עברית", value: 5),
                        Slice(label: "English", value: 3),
                    ], width: 360, height: 480, locale: try LanguageTag(parsing: "he"))
            ),
            (
                "twenty-slices",
                try ChartSpec(
                    title: "Favourite of twenty answers",
                    slices: (1...20).map { Slice(label: "Answer \($0)", value: 22 - $0) }, width: 640, height: 480)
            ),
        ]
    }

    /// The reference share card: Television Trends' first question.
    public static func card() throws -> ShareCard {
        try ShareCard(
            title: "Television Trends", question: "What is your favorite type of TV show?",
            highlight: "Winners: Comedy, Drama", footer: "Results · November 29, 2026",
            chart: try all().first { $0.name == "tv-favourite-type" }!.spec)
    }

    /// The reference report: Television Trends, on A4, with Chinese text in a table.
    public static func report() throws -> ChartReport {
        let specs = try all()
        func section(_ name: String, heading: String, summary: String) throws -> ChartReport.Section {
            var spec = specs.first { $0.name == name }!.spec
            spec.title = nil
            let percentages = Percentages.largestRemainder(spec.slices.map(\.value))
            return ChartReport.Section(
                heading: heading, summary: summary, chart: spec, columns: ["Answer", "Votes", "Share"],
                rows: zip(spec.slices, percentages).map {
                    ChartReport.Row(label: $0.label, votes: "\($0.value)", share: "\($1)%")
                },
                total: ChartReport.Row(
                    label: "Total", votes: "\(spec.slices.map(\.value).reduce(0, +))", share: "100%", emphasized: true))
        }
        return ChartReport(
            title: "Television Trends",
            coverLines: ["Results · open November 1, 2026 to November 29, 2026", "8 ballots"],
            notice: nil,
            sections: [
                try section(
                    "tv-favourite-type", heading: "What is your favorite type of TV show?",
                    summary: "Winners: Comedy, Drama"),
                try section(
                    "chinese", heading: "你最喜欢哪种类型的电视节目？", summary: "获胜答案：喜剧"),
            ], pageLabel: "Page {page} of {pages}", madeLine: "Made on November 30, 2026",
            locale: try LanguageTag(parsing: "en-GB"), paper: .a4, createdAt: "2026-11-30T00:00:00Z")
    }
}
