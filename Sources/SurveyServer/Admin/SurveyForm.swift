import Foundation
import Localization
import Surveys

/// The operators' survey form: its fields as typed, read from a post or made from a survey, and
/// turned into the store's `SurveyEntry`.
///
/// Field names: `title`, `language`, `opens`, `closes`; per question block `q<i>.id` (hidden), `q<i>.text`,
/// `q<i>.order`; per answer `q<i>.a<j>.id` (hidden), `q<i>.a<j>.text`, `q<i>.a<j>.order`. Blank
/// blocks are ignored, an answer whose text is cleared is removed, and the order fields sort.
struct SurveyForm: Sendable {
    struct AnswerRow: Sendable {
        var id: Int64?
        var text = ""
        var order = ""
        /// Votes it holds (shown beside it; such an answer cannot be removed).
        var votes = 0
    }

    struct QuestionRow: Sendable {
        var id: Int64?
        var text = ""
        var order = ""
        var answers: [AnswerRow] = []
    }

    var title = ""
    /// A BCP 47 tag with a catalog (`zh-Hans`, `ar-EG`); blank keeps the survey's language (a new
    /// survey takes the site's default).
    var language = ""
    var opens = ""
    var closes = ""
    var questions: [QuestionRow] = []

    /// Most question blocks and answers per block a post may hold.
    static let maximumQuestions = 100
    static let maximumAnswersPerBlock = SurveyDocument.maximumAnswers + 8

    /// A field of the form, as errors name it and the page marks it.
    enum Field: Sendable, Hashable {
        case title, language, opens, closes
        /// A question block as a whole (its answers, say).
        case question(Int)
        case questionText(Int)
        case questionOrder(Int)
        case answerText(question: Int, answer: Int)
        case answerOrder(question: Int, answer: Int)

        /// Whether this field is in question block `q`.
        func isInQuestion(_ q: Int) -> Bool {
            switch self {
            case .question(let block), .questionText(let block), .questionOrder(let block),
                .answerText(let block, _), .answerOrder(let block, _):
                return block == q
            case .title, .language, .opens, .closes: return false
            }
        }
    }

    /// A problem found in the form, named by its field.
    struct FieldError: Error, Sendable {
        /// The form field, or nil for the form as a whole.
        var field: Field?
        /// What is wrong, in words that name the place (“Question 3, answer 2: …”).
        var message: String
    }

    /// A blank form for a new survey: open from today for a week, three questions of four answers.
    static func blank(today: CalendarDay, language: LanguageTag = .english) -> SurveyForm {
        var form = SurveyForm(language: language.description, opens: "\(today)", closes: "\(today.adding(days: 7))")
        form.addBlankRows(questions: 3, answersPerQuestion: 4)
        return form
    }

    /// The form of an existing survey, with room for more.
    init(_ survey: Survey) {
        title = survey.title
        language = survey.language.description
        opens = "\(survey.opens)"
        closes = "\(survey.closes)"
        questions = survey.questions.enumerated().map { q, question in
            QuestionRow(
                id: question.id, text: question.text, order: "\(q + 1)",
                answers: question.answers.enumerated().map { a, answer in
                    AnswerRow(id: answer.id, text: answer.text, order: "\(a + 1)", votes: answer.votes)
                })
        }
        addBlankRows(questions: 1, answersPerQuestion: 4)
    }

    init(title: String = "", language: String = "en", opens: String = "", closes: String = "") {
        self.title = title
        self.language = language
        self.opens = opens
        self.closes = closes
    }

    /// Adds blank answers to every block (two, at least up to `answersPerQuestion`) and `questions`
    /// blank blocks, so that a form without scripts can grow.
    mutating func addBlankRows(questions extra: Int, answersPerQuestion: Int) {
        for q in questions.indices {
            let wanted = max(questions[q].answers.count + 2, answersPerQuestion)
            while questions[q].answers.count < min(wanted, Self.maximumAnswersPerBlock) {
                questions[q].answers.append(AnswerRow(order: "\(questions[q].answers.count + 1)"))
            }
        }
        for _ in 0..<extra where questions.count < Self.maximumQuestions {
            questions.append(
                QuestionRow(
                    order: "\(questions.count + 1)",
                    answers: (0..<answersPerQuestion).map { AnswerRow(order: "\($0 + 1)") }))
        }
    }

    /// Reads a posted form. Unknown or repeated fields are refused: they mean a forged post.
    init(fields: [(name: String, value: String)], votes: [Int64: Int] = [:]) throws {
        var seen = Set<String>()
        var blocks: [Int: QuestionRow] = [:]
        var answers: [Int: [Int: AnswerRow]] = [:]
        for (name, value) in fields {
            guard seen.insert(name).inserted else {
                throw FieldError(
                    field: nil, message: "The form sent the field “\(name)” twice; reload it and try again.")
            }
            switch name {
            case "title": title = value
            case "language": language = value.trimmingCharacters(in: .whitespaces)
            case "opens": opens = value.trimmingCharacters(in: .whitespaces)
            case "closes": closes = value.trimmingCharacters(in: .whitespaces)
            case "csrf", "action": break
            default:
                guard let (q, a, part) = Self.parseName(name) else {
                    throw FieldError(field: nil, message: "The form sent an unexpected field “\(name)”.")
                }
                if let a {
                    var row = answers[q, default: [:]][a] ?? AnswerRow()
                    switch part {
                    case "id": row.id = try Self.id(value, name)
                    case "text": row.text = value
                    default: row.order = value
                    }
                    answers[q, default: [:]][a] = row
                } else {
                    var block = blocks[q] ?? QuestionRow()
                    switch part {
                    case "id": block.id = try Self.id(value, name)
                    case "text": block.text = value
                    default: block.order = value
                    }
                    blocks[q] = block
                }
            }
        }
        for q in Set(blocks.keys).union(answers.keys).sorted() {
            var block = blocks[q] ?? QuestionRow()
            block.answers = (answers[q] ?? [:]).sorted { $0.key < $1.key }.map { _, row in
                var row = row
                if let id = row.id { row.votes = votes[id] ?? 0 }
                return row
            }
            questions.append(block)
        }
    }

    /// `q3.a2.text` → (3, 2, "text"); `q3.order` → (3, nil, "order").
    private static func parseName(_ name: String) -> (Int, Int?, String)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, parts[0].first == "q",
            let q = Int(parts[0].dropFirst()), (0..<maximumQuestions).contains(q),
            let part = parts.last, ["id", "text", "order"].contains(part)
        else { return nil }
        if parts.count == 2 { return (q, nil, String(part)) }
        guard parts[1].first == "a", let a = Int(parts[1].dropFirst()), (0..<maximumAnswersPerBlock).contains(a)
        else { return nil }
        return (q, a, String(part))
    }

    private static func id(_ value: String, _ name: String) throws -> Int64? {
        if value.isEmpty { return nil }
        guard let id = Int64(value), id > 0 else {
            throw FieldError(field: nil, message: "The form's hidden field “\(name)” is not an id; reload it.")
        }
        return id
    }

    /// Where each entry of `entry()` came from in the form, to name fields in errors.
    struct Origins {
        var questions: [Int] = []
        var answers: [[Int]] = []
        /// The blank blocks that held a question, by its id: the questions the form removes.
        var removedQuestions: [Int64: Int] = [:]
    }

    /// The survey the form describes, in the order its order fields give, without blank rows.
    func entry() throws -> (SurveyDocument.SurveyEntry, Origins) {
        guard let opensDay = CalendarDay(opens) else {
            throw FieldError(field: .opens, message: "Opens: must be a date like 2026-12-01, got “\(opens)”.")
        }
        guard let closesDay = CalendarDay(closes) else {
            throw FieldError(field: .closes, message: "Closes: must be a date like 2026-12-01, got “\(closes)”.")
        }
        var tag: LanguageTag?
        if !language.isEmpty {
            do { tag = try LanguageTag(parsing: language) } catch {
                throw FieldError(field: .language, message: "Language: \(error).")
            }
        }
        if let tag, !Catalogs.supports(tag) {
            throw FieldError(
                field: .language,
                message: "Language: there is no catalog for “\(tag)”; use one of "
                    + Catalogs.tags.map(\.description).joined(separator: ", ") + " (with a region if you like: ar-EG).")
        }
        var origins = Origins()
        var entries: [SurveyDocument.QuestionEntry] = []
        func isBlank(_ text: String) -> Bool { text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        // A blank block is ignored; one that had an id is a question being removed (the store
        // refuses that when its answers hold votes).
        for q in questions.indices
        where isBlank(questions[q].text) && questions[q].answers.allSatisfy({ isBlank($0.text) }) {
            if let id = questions[q].id { origins.removedQuestions[id] = q }
        }
        let blocks = try questions.indices.filter { q in
            !(isBlank(questions[q].text) && questions[q].answers.allSatisfy { isBlank($0.text) })
        }.sorted {
            (try Self.order(questions[$0].order, .questionOrder($0)), $0)
                < (try Self.order(questions[$1].order, .questionOrder($1)), $1)
        }
        for q in blocks {
            let block = questions[q]
            let kept = try block.answers.indices.filter { !isBlank(block.answers[$0].text) }.sorted {
                (try Self.order(block.answers[$0].order, .answerOrder(question: q, answer: $0)), $0)
                    < (try Self.order(block.answers[$1].order, .answerOrder(question: q, answer: $1)), $1)
            }
            origins.questions.append(q)
            origins.answers.append(kept)
            entries.append(
                SurveyDocument.QuestionEntry(
                    id: block.id, text: block.text.trimmingCharacters(in: .whitespacesAndNewlines),
                    answers: kept.map {
                        .init(
                            id: block.answers[$0].id,
                            text: block.answers[$0].text.trimmingCharacters(in: .whitespacesAndNewlines))
                    }))
        }
        return (
            SurveyDocument.SurveyEntry(
                title: title.trimmingCharacters(in: .whitespacesAndNewlines), opens: opensDay, closes: closesDay,
                questions: entries, language: tag),
            origins
        )
    }

    private static func order(_ text: String, _ field: Field) throws -> Int {
        if text.trimmingCharacters(in: .whitespaces).isEmpty { return Int.max / 2 }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), (0...10_000).contains(value) else {
            throw FieldError(field: field, message: "Order: must be a whole number from 0 to 10000, got “\(text)”.")
        }
        return value
    }

    /// The store's complaint about `entry`, with its path (`questions[1].answers[0].text`) turned
    /// back into the form field and a place a person can find.
    func fieldError(_ error: SurveyStoreError, origins: Origins) -> FieldError {
        guard let path = error.path else { return FieldError(field: nil, message: error.message) }
        let sentence = error.message
        let steps = path.components
        if steps.count >= 4, steps[0] == .key("questions"), case .index(let e) = steps[1], steps[2] == .key("answers"),
            case .index(let f) = steps[3], e < origins.questions.count, f < origins.answers[e].count
        {
            return FieldError(
                field: .answerText(question: origins.questions[e], answer: origins.answers[e][f]),
                message: "Question \(e + 1), answer \(f + 1): \(sentence).")
        }
        if steps.count >= 2, steps[0] == .key("questions"), case .index(let e) = steps[1], e < origins.questions.count {
            let q = origins.questions[e]
            let place = steps.last == .key("answers") ? "Question \(e + 1), answers" : "Question \(e + 1)"
            return FieldError(
                field: steps.last == .key("text") ? .questionText(q) : .question(q), message: "\(place): \(sentence).")
        }
        if steps.count == 2, steps[0] == .key("removedQuestions"), case .index(let id) = steps[1],
            let block = origins.removedQuestions[Int64(id)]
        {
            return FieldError(field: .question(block), message: "Question \(block + 1): \(sentence).")
        }
        switch steps {
        case [.key("title")]: return FieldError(field: .title, message: "Title: \(sentence).")
        case [.key("opens")]: return FieldError(field: .opens, message: "Opens: \(sentence).")
        case [.key("language")]: return FieldError(field: .language, message: "Language: \(sentence).")
        case [.key("closes")]: return FieldError(field: .closes, message: "Closes: \(sentence).")
        case [.key("questions")]: return FieldError(field: nil, message: "Questions: \(sentence).")
        default: return FieldError(field: nil, message: "\(path): \(sentence).")
        }
    }
}
