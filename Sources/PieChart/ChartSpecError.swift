/// A chart spec that cannot be drawn, with the field that is wrong.
///
/// `field` is a JSON path such as `slices[2].value`; `message` says what a valid value looks
/// like, so the caller can fix the spec without reading the source.
public struct ChartSpecError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Stable machine-readable codes, for HTTP clients and tests.
    public enum Code: String, Sendable {
        case malformedJSON = "malformed_json"
        case unknownField = "unknown_field"
        case missingField = "missing_field"
        case wrongType = "wrong_type"
        case outOfRange = "out_of_range"
        case tooLarge = "too_large"
        case legendDoesNotFit = "legend_does_not_fit"
    }

    /// What kind of problem this is.
    public var code: Code
    /// The JSON path of the offending field (`slices[2].value`), or `$` for the whole document.
    public var field: String
    /// What is wrong and what a valid value looks like.
    public var message: String
    /// Where in our sources the problem was detected.
    public var location: String

    /// Creates an error; `location` defaults to the caller's file and line.
    public init(
        _ code: Code, field: String, _ message: String, fileID: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.field = field
        self.message = message
        self.location = "\(fileID):\(line)"
    }

    /// One line: `field: message`.
    public var description: String { "\(field): \(message)" }

    public static func == (lhs: ChartSpecError, rhs: ChartSpecError) -> Bool {
        lhs.code == rhs.code && lhs.field == rhs.field && lhs.message == rhs.message
    }
}

/// Rendering failed for a reason outside the spec (Cairo or libpng refused, memory ran out).
public struct ChartRenderError: Error, CustomStringConvertible, Sendable {
    /// What failed, in words an operator can act on.
    public var message: String
    /// Where in our sources the failure was detected.
    public var location: String

    /// Creates an error; `location` defaults to the caller's file and line.
    public init(_ message: String, fileID: String = #fileID, line: Int = #line) {
        self.message = message
        self.location = "\(fileID):\(line)"
    }

    public var description: String { "chart rendering failed: \(message) (\(location))" }
}
