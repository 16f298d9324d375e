import Foundation
import Localization

/// The import and export format of DESIGN "Import format".
///
/// Ids are optional on import; `votes` defaults to 0. Export writes every id, so export → import
/// round-trips.
public struct SurveyDocument: Sendable, Hashable, Codable {
    /// An answer: optional id, text, votes.
    public struct AnswerEntry: Sendable, Hashable, Codable {
        public var id: Int64?
        public var text: String
        public var votes: Int?

        public init(id: Int64? = nil, text: String, votes: Int? = nil) {
            self.id = id
            self.text = text
            self.votes = votes
        }
    }

    /// A question: optional id, text, answers.
    public struct QuestionEntry: Sendable, Hashable, Codable {
        public var id: Int64?
        public var text: String
        public var answers: [AnswerEntry]

        public init(id: Int64? = nil, text: String, answers: [AnswerEntry]) {
            self.id = id
            self.text = text
            self.answers = answers
        }
    }

    /// A survey: optional id, title, the days it is open, questions.
    public struct SurveyEntry: Sendable, Hashable, Codable {
        public var id: Int64?
        public var title: String
        public var opens: CalendarDay
        public var closes: CalendarDay
        public var questions: [QuestionEntry]
        /// The survey's language (a BCP 47 tag with a catalog). Absent in a document: the
        /// importer's `--default-language` for a new survey, the current one for an edit.
        public var language: LanguageTag?

        public init(
            id: Int64? = nil, title: String, opens: CalendarDay, closes: CalendarDay, questions: [QuestionEntry],
            language: LanguageTag? = nil
        ) {
            self.id = id
            self.title = title
            self.opens = opens
            self.closes = closes
            self.questions = questions
            self.language = language
        }
    }

    /// The surveys.
    public var surveys: [SurveyEntry]

    /// Creates a document.
    public init(surveys: [SurveyEntry]) { self.surveys = surveys }

    /// Longest title, question or answer text, in characters.
    public static let maximumTextLength = 300
    /// Longest text in UTF-8 bytes: a character may hold any number of combining marks, so the
    /// character count alone does not bound the work of shaping and drawing it.
    public static let maximumTextBytes = 1200
    /// Most answers per question (a chart holds at most 64 slices).
    public static let maximumAnswers = 64

    /// Parses a document, naming the JSON path of the first problem.
    /// - Throws: `SurveyStoreError` (`invalidImport`).
    public init(json: Data) throws {
        do {
            self = try JSONDecoder().decode(SurveyDocument.self, from: json)
        } catch let error as DecodingError {
            throw Self.describe(error)
        }
        try validate()
    }

    /// Checks everything a decoder cannot: text lengths, dates in order, counts, unique ids.
    /// - Throws: `SurveyStoreError` (`invalidImport`) naming the JSON path of the first problem.
    public func validate() throws {
        func invalid(_ path: FieldPath, _ message: String) -> SurveyStoreError {
            SurveyStoreError(.invalidImport, field: path, message)
        }
        func checkText(_ text: String, _ path: FieldPath) throws {
            if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw invalid(path, "must not be empty") }
            if text.utf8.count > Self.maximumTextBytes {
                throw invalid(path, "must be at most \(Self.maximumTextBytes) bytes of UTF-8, got \(text.utf8.count)")
            }
            if text.count > Self.maximumTextLength {
                throw invalid(path, "must be at most \(Self.maximumTextLength) characters, got \(text.count)")
            }
            if text.unicodeScalars.contains(where: { $0.value == 0 }) { throw invalid(path, "must not contain NUL") }
        }
        var surveyIDs = Set<Int64>(), questionIDs = Set<Int64>(), answerIDs = Set<Int64>()
        func checkID(_ id: Int64?, _ seen: inout Set<Int64>, _ path: FieldPath, _ kind: String) throws {
            guard let id else { return }
            guard id > 0 else { throw invalid(path.key("id"), "must be a positive integer, got \(id)") }
            guard seen.insert(id).inserted else { throw invalid(path.key("id"), "\(kind) id \(id) appears twice") }
        }
        for (s, survey) in surveys.enumerated() {
            let path = FieldPath("surveys").index(s)
            try checkID(survey.id, &surveyIDs, path, "survey")
            try checkText(survey.title, path.key("title"))
            if let language = survey.language, !Catalogs.supports(language) {
                throw invalid(
                    path.key("language"),
                    "has no catalog for \"\(language)\"; use one of "
                        + Catalogs.tags.map(\.description).joined(separator: ", "))
            }
            guard survey.opens <= survey.closes else {
                throw invalid(path.key("closes"), "must not be before opens (\(survey.opens)), got \(survey.closes)")
            }
            guard !survey.questions.isEmpty else {
                throw invalid(path.key("questions"), "must hold at least one question")
            }
            var questionTexts: [String: Int] = [:]
            for (q, question) in survey.questions.enumerated() {
                let questionPath = path.key("questions").index(q)
                try checkID(question.id, &questionIDs, questionPath, "question")
                try checkText(question.text, questionPath.key("text"))
                if let first = questionTexts.updateValue(q, forKey: Self.comparable(question.text)) {
                    throw invalid(questionPath.key("text"), "repeats question \(first + 1) (“\(question.text)”)")
                }
                guard (2...Self.maximumAnswers).contains(question.answers.count) else {
                    throw invalid(
                        questionPath.key("answers"),
                        "must hold 2 to \(Self.maximumAnswers) answers, got \(question.answers.count)")
                }
                var answerTexts: [String: Int] = [:]
                var votes = 0
                for (a, answer) in question.answers.enumerated() {
                    let answerPath = questionPath.key("answers").index(a)
                    try checkID(answer.id, &answerIDs, answerPath, "answer")
                    try checkText(answer.text, answerPath.key("text"))
                    if let first = answerTexts.updateValue(a, forKey: Self.comparable(answer.text)) {
                        throw invalid(answerPath.key("text"), "repeats answer \(first + 1) (“\(answer.text)”)")
                    }
                    if let count = answer.votes, count < 0 {
                        throw invalid(answerPath.key("votes"), "must be a non-negative whole number, got \(count)")
                    }
                    // Past the cap a chart cannot draw the question, and counts near `Int64.max`
                    // overflow on the next ballot (see `Answer.maximumVotes`).
                    if let count = answer.votes, count > Answer.maximumVotes {
                        throw invalid(answerPath.key("votes"), "must be at most \(Answer.maximumVotes), got \(count)")
                    }
                    // At most 64 answers of at most 2^53 − 1 each: the sum cannot overflow.
                    votes += answer.votes ?? 0
                }
                if votes > Answer.maximumVotes {
                    throw invalid(
                        questionPath.key("answers"),
                        "the votes must add up to at most \(Answer.maximumVotes), got \(votes)")
                }
            }
        }
    }

    /// Texts that voters could not tell apart: case and surrounding spaces ignored.
    static func comparable(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// Turns a decoding error into a one-line message with the JSON path.
    static func describe(_ error: DecodingError) -> SurveyStoreError {
        func path(_ codingPath: [CodingKey]) -> FieldPath {
            FieldPath(codingPath.map { key in key.intValue.map { .index($0) } ?? .key(key.stringValue) })
        }
        switch error {
        case .keyNotFound(let key, let context):
            return SurveyStoreError(.invalidImport, field: path(context.codingPath + [key]), "is required")
        case .typeMismatch(let type, let context):
            return SurveyStoreError(.invalidImport, field: path(context.codingPath), "must be \(Self.typeName(type))")
        case .valueNotFound(let type, let context):
            return SurveyStoreError(
                .invalidImport, field: path(context.codingPath), "must be \(Self.typeName(type)), got null")
        case .dataCorrupted(let context):
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            if context.codingPath.isEmpty {
                return SurveyStoreError(
                    .invalidImport, field: .document, "is not valid JSON (\(detail ?? context.debugDescription))")
            }
            return SurveyStoreError(.invalidImport, field: path(context.codingPath), context.debugDescription)
        @unknown default:
            return SurveyStoreError(.invalidImport, field: .document, "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type: return "a whole number"
        case is [Any].Type: return "a list"
        default:
            let name = "\(type)"
            return name.hasPrefix("Array") ? "a list" : (name.hasPrefix("Dictionary") ? "an object" : "\(name)")
        }
    }

    /// The document with `language` given to every survey that names none (the importer's
    /// `--default-language`).
    public func withDefaultLanguage(_ language: LanguageTag) -> SurveyDocument {
        var document = self
        for index in document.surveys.indices where document.surveys[index].language == nil {
            document.surveys[index].language = language
        }
        return document
    }

    /// Pretty, sorted JSON.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

extension SurveyDocument.SurveyEntry {
    /// Checks the entry as an operator's edit: the import rules, with the field named relative to
    /// the survey (`questions[1].answers[0].text`).
    /// - Throws: `SurveyStoreError` (`invalidEdit`).
    public func validateAsEdit() throws {
        do {
            try SurveyDocument(surveys: [self]).validate()
        } catch let error as SurveyStoreError {
            let field = error.path?.dropping(FieldPath("surveys").index(0)).flatMap { $0.components.isEmpty ? nil : $0 }
            throw SurveyStoreError(.invalidEdit, field: field, error.message)
        }
    }
}

extension SurveyDocument.SurveyEntry {
    /// `survey` in the import format, with every id and vote.
    public init(_ survey: Survey) {
        self.init(
            id: survey.id, title: survey.title, opens: survey.opens, closes: survey.closes,
            questions: survey.questions.map { question in
                .init(
                    id: question.id, text: question.text,
                    answers: question.answers.map { .init(id: $0.id, text: $0.text, votes: $0.votes) })
            }, language: survey.language)
    }

    /// The entry without ids and votes: what a new survey may take from it.
    public var withoutIDsAndVotes: Self {
        var entry = self
        entry.id = nil
        for q in entry.questions.indices {
            entry.questions[q].id = nil
            for a in entry.questions[q].answers.indices {
                entry.questions[q].answers[a].id = nil
                entry.questions[q].answers[a].votes = nil
            }
        }
        return entry
    }
}
