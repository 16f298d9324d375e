import Localization

/// The demo data `serve` loads into a new, empty database, dated around `today` so that it
/// always shows: the seed's Television Trends (completed, with its votes), an open survey, a
/// completed survey in Chinese, a completed survey with 12 answers to one question (one of them
/// with a single vote out of 996, which reads "<1%"), and one in Egyptian Arabic (right to left,
/// with Arabic-Indic digits).
public enum DemoSurveys {
    /// The demo document for `today`.
    public static func document(today: CalendarDay) -> SurveyDocument {
        typealias A = SurveyDocument.AnswerEntry
        return SurveyDocument(surveys: [
            .init(
                title: "Television Trends", opens: today.adding(days: -30), closes: today.adding(days: -2),
                questions: [
                    .init(
                        text: "What is your favorite type of TV show?",
                        answers: [
                            A(text: "Comedy", votes: 2), A(text: "Drama", votes: 2), A(text: "Reality", votes: 1),
                        ]),
                    .init(
                        text: "How many new shows will you try this Fall?",
                        answers: [
                            A(text: "Hardly any: I already watch too much TV!", votes: 5),
                            A(text: "Maybe 3-5", votes: 1),
                            A(text: "I'm a TV fiend, I'll try them all at least once!", votes: 2),
                        ]),
                ]),
            .init(
                title: "Weekend Viewing", opens: today.adding(days: -3), closes: today.adding(days: 11),
                questions: [
                    .init(
                        text: "When do you watch most?",
                        answers: [A(text: "Friday night"), A(text: "Saturday"), A(text: "Sunday"), A(text: "Weekdays")]),
                    .init(
                        text: "How do you watch?",
                        answers: [A(text: "Streaming"), A(text: "Broadcast"), A(text: "Cable"), A(text: "I don't")]),
                ]),
            .init(
                title: "电视节目调查", opens: today.adding(days: -20), closes: today.adding(days: -1),
                questions: [
                    .init(
                        text: "你最喜欢哪种类型的电视节目？",
                        answers: [
                            A(text: "喜剧", votes: 14), A(text: "电视剧", votes: 9), A(text: "真人秀", votes: 6),
                            A(text: "纪录片", votes: 3),
                        ]),
                    .init(
                        text: "这个秋天你会尝试多少新节目？",
                        answers: [A(text: "几乎不", votes: 0), A(text: "三到五个", votes: 0), A(text: "全部", votes: 0)]),
                ], language: try! LanguageTag(parsing: "zh-Hans")),

            .init(
                title: "Streaming Habits", opens: today.adding(days: -14), closes: today.adding(days: -3),
                questions: [
                    .init(
                        text: "Which streaming service do you use most?",
                        answers: [
                            A(text: "Netflix", votes: 301), A(text: "Prime Video", votes: 190),
                            A(text: "Disney+", votes: 142), A(text: "YouTube", votes: 118), A(text: "Max", votes: 74),
                            A(text: "Apple TV+", votes: 51), A(text: "Paramount+", votes: 39),
                            A(text: "Peacock", votes: 30), A(text: "Crunchyroll", votes: 22),
                            A(text: "Mubi", votes: 16), A(text: "BritBox", votes: 12),
                            A(text: "A service nobody else has heard of", votes: 1),
                        ]),
                    .init(
                        text: "Do you share your password?",
                        answers: [
                            A(text: "Yes, with family", votes: 410), A(text: "Yes, with friends", votes: 96),
                            A(text: "No", votes: 490),
                        ]),
                ]),
            .init(
                title: "استطلاع البرامج التلفزيونية", opens: today.adding(days: -12), closes: today.adding(days: -1),
                questions: [
                    .init(
                        text: "ما نوع البرامج التلفزيونية المفضل لديك؟",
                        answers: [
                            A(text: "الكوميديا", votes: 21), A(text: "الدراما", votes: 17),
                            A(text: "تلفزيون الواقع", votes: 8), A(text: "الأفلام الوثائقية (Documentaries)", votes: 4),
                        ]),
                    .init(
                        text: "كم برنامجًا جديدًا ستجرّب هذا الخريف؟",
                        answers: [
                            A(text: "لا شيء تقريبًا", votes: 12), A(text: "من ٣ إلى ٥", votes: 25),
                            A(text: "كلها!", votes: 13),
                        ]),
                ], language: try! LanguageTag(parsing: "ar-EG")),
        ])
    }
}
