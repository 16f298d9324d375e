/// Where in a survey, or in an import document, a value is: `surveys[0].questions[1].text`.
///
/// Errors carry it as a value, so a reader (the admin form, which marks its own fields) matches
/// its components instead of parsing text back.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// One step: a key of an object, or an index of a list.
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    /// A path of `components`.
    public init(_ components: [Component]) { self.components = components }

    /// A path of one key (`"title"`).
    public init(stringLiteral key: String) { components = [.key(key)] }

    /// This path, then `key`.
    public func key(_ key: String) -> FieldPath { FieldPath(components + [.key(key)]) }

    /// This path, then list index `index`.
    public func index(_ index: Int) -> FieldPath { FieldPath(components + [.index(index)]) }

    /// This path without its first `count` components (a survey's fields within a document).
    public func dropping(_ prefix: FieldPath) -> FieldPath? {
        guard components.starts(with: prefix.components) else { return nil }
        return FieldPath(Array(components.dropFirst(prefix.components.count)))
    }

    /// `$` for the whole document; `a.b[0].c` otherwise.
    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key): text += (text.isEmpty ? "" : ".") + key
            case .index(let index): text += "[\(index)]"
            }
        }
        return text.isEmpty ? "$" : text
    }

    /// The whole document.
    public static let document = FieldPath([])

    /// A ballot's field for question `id` (`q12`).
    public static func ballotQuestion(_ id: Int64) -> FieldPath { FieldPath([.key("q\(id)")]) }

    /// Question `q` of a survey (`questions[2]`).
    public static func question(_ q: Int) -> FieldPath { FieldPath("questions").index(q) }

    /// A question of the survey that an edit leaves out, by its id (`removedQuestions[12]`).
    public static func removedQuestion(_ id: Int64) -> FieldPath {
        FieldPath("removedQuestions").index(Int(truncatingIfNeeded: id))
    }

    /// Answer `a` of question `q` of a survey (`questions[2].answers[0]`).
    public static func answer(_ a: Int, ofQuestion q: Int) -> FieldPath { question(q).key("answers").index(a) }
}
