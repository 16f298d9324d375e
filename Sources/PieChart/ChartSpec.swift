import Foundation
import Localization

/// Everything needed to draw one pie chart: the input of `render` and of `POST /api/charts/pie`.
///
/// A spec is validated on construction and on decoding, so every value of this type can be
/// drawn. Sizes are in points; the PNG has `width × scale` by `height × scale` pixels.
public struct ChartSpec: Sendable, Hashable, Codable {
    /// One answer of a question: its text and its votes.
    public struct Slice: Sendable, Hashable, Codable {
        /// The answer text shown in the legend.
        public var label: String
        /// A non-negative whole number (votes).
        public var value: Int

        /// Creates a slice. Validation happens when the spec is built.
        public init(label: String, value: Int) {
            self.label = label
            self.value = value
        }
    }

    /// Colours of the background and the text.
    public enum Theme: String, Sendable, Hashable, Codable, CaseIterable {
        case light
        case dark
    }

    /// Limits enforced by validation.
    public enum Limits {
        /// Most slices a chart may have.
        public static let maximumSlices = 64
        /// Longest label or title, in characters (grapheme clusters).
        public static let maximumLabelLength = 300
        /// Longest title or label in UTF-8 bytes: one character may carry any number of combining
        /// marks, so characters alone do not bound the work of shaping it.
        public static let maximumLabelBytes = 1200
        /// Allowed width and height, in points.
        public static let sizeRange = 100...4096
        /// Allowed HiDPI scale factors.
        public static let scaleRange = 1...3
        /// Largest PNG, in pixels (`width × scale × height × scale`): 4096×4096.
        public static let maximumPixels = 4096 * 4096
        /// Largest slice value: every integer up to here is exact in a JSON double.
        public static let maximumValue = 9_007_199_254_740_991
    }

    /// Optional heading drawn above the pie.
    public var title: String?
    /// The answers, in the order they are drawn (never sorted).
    public var slices: [Slice]
    /// Width in points, 100...4096.
    public var width: Int
    /// Height in points, 100...4096.
    public var height: Int
    /// Pixels per point, 1...3.
    public var scale: Int
    /// Background and text colours.
    public var theme: Theme
    /// The language of the chart's own words and numbers ("14 票 · 44%", "No votes yet"), and its
    /// direction: a right-to-left locale mirrors the chart. One of the catalogs' languages.
    public var locale: LanguageTag

    /// Creates a validated spec.
    /// - Throws: `ChartSpecError` naming the first invalid field.
    public init(
        title: String? = nil, slices: [Slice], width: Int = 640, height: Int = 400, scale: Int = 1,
        theme: Theme = .light, locale: LanguageTag = .english
    ) throws {
        self.title = title
        self.locale = locale
        self.slices = slices
        self.width = width
        self.height = height
        self.scale = scale
        self.theme = theme
        try validate()
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case title, slices, width, height, scale, theme, locale
    }

    /// Decodes through the same strict parser as `init(json:)`: unknown fields are refused and
    /// errors are `ChartSpecError`s that name the field, whichever way a spec arrives.
    public init(from decoder: Decoder) throws {
        try self.init(parsed: try JSONValue(from: decoder))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(title, forKey: .title)
        try container.encode(slices, forKey: .slices)
        try container.encode(width, forKey: .width)
        try container.encode(height, forKey: .height)
        try container.encode(scale, forKey: .scale)
        try container.encode(theme, forKey: .theme)
        try container.encode(locale, forKey: .locale)
    }

    /// Checks every rule of DESIGN "Chart rendering → Input".
    /// - Throws: `ChartSpecError` naming the first invalid field.
    public func validate() throws {
        if let title {
            try Self.validateText(title, field: "title", allowEmpty: true)
        }
        guard !slices.isEmpty else {
            throw ChartSpecError(.outOfRange, field: "slices", "must hold at least 1 slice, got none")
        }
        guard slices.count <= Limits.maximumSlices else {
            throw ChartSpecError(
                .outOfRange, field: "slices",
                "must hold at most \(Limits.maximumSlices) slices, got \(slices.count)")
        }
        for (index, slice) in slices.enumerated() {
            try Self.validateText(slice.label, field: "slices[\(index)].label", allowEmpty: false)
            guard slice.value >= 0 else {
                throw ChartSpecError(
                    .outOfRange, field: "slices[\(index)].value",
                    "must be a non-negative whole number, got \(slice.value)")
            }
            guard slice.value <= Limits.maximumValue else {
                throw ChartSpecError(
                    .outOfRange, field: "slices[\(index)].value",
                    "must be at most \(Limits.maximumValue), got \(slice.value)")
            }
        }
        if slices.reduce(0, { $0 &+ $1.value }) > Limits.maximumValue {
            throw ChartSpecError(
                .outOfRange, field: "slices", "the values must add up to at most \(Limits.maximumValue)")
        }
        for (name, value) in [("width", width), ("height", height)] where !Limits.sizeRange.contains(value) {
            throw ChartSpecError(
                .outOfRange, field: name,
                "must be \(Limits.sizeRange.lowerBound)...\(Limits.sizeRange.upperBound) points, got \(value)")
        }
        guard Limits.scaleRange.contains(scale) else {
            throw ChartSpecError(
                .outOfRange, field: "scale",
                "must be \(Limits.scaleRange.lowerBound)...\(Limits.scaleRange.upperBound), got \(scale)")
        }
        let pixels = width * scale * height * scale
        guard pixels <= Limits.maximumPixels else {
            throw ChartSpecError(
                .tooLarge, field: "scale",
                "\(width)×\(height) at scale \(scale) is \(pixels) pixels; the largest chart is "
                    + "\(Limits.maximumPixels) pixels (4096×4096): lower the scale or the size")
        }
        guard Catalogs.supports(locale) else {
            throw ChartSpecError(
                .outOfRange, field: "locale",
                "has no catalog for \"\(locale)\"; use one of \(Catalogs.tags.map(\.description).joined(separator: ", "))"
            )
        }
    }

    private static func validateText(_ text: String, field: String, allowEmpty: Bool) throws {
        if !allowEmpty && text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ChartSpecError(.outOfRange, field: field, "must not be empty")
        }
        guard text.utf8.count <= Limits.maximumLabelBytes else {
            throw ChartSpecError(
                .outOfRange, field: field,
                "must be at most \(Limits.maximumLabelBytes) bytes of UTF-8, got \(text.utf8.count)")
        }
        guard text.count <= Limits.maximumLabelLength else {
            throw ChartSpecError(
                .outOfRange, field: field,
                "must be at most \(Limits.maximumLabelLength) characters, got \(text.count)")
        }
        if text.unicodeScalars.contains(where: { $0.value == 0 }) {
            throw ChartSpecError(.outOfRange, field: field, "must not contain NUL characters")
        }
    }

    /// The version of the drawing code. It is part of every cache key, so a change to how charts
    /// look gives every chart a new name. Bump it whenever the pixels change.
    public static let rendererVersion = "piechart-6"

    /// The canonical form of this spec: sorted keys, defaults filled in, no insignificant
    /// whitespace. Equal specs give equal bytes, whatever JSON they were parsed from.
    public var canonicalBytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a validated spec of strings and integers cannot fail.
        return Array(try! encoder.encode(self))
    }

    /// The bytes a cache key is computed from: the canonical spec and the renderer version.
    public var cacheKeyMaterial: [UInt8] {
        canonicalBytes + Array("\n\(Self.rendererVersion)".utf8)
    }
}

extension ChartSpec {
    /// Parses and validates a JSON chart spec, naming the first wrong field on failure.
    ///
    /// Stricter than `JSONDecoder` on the struct: unknown fields are refused (a misspelt `titel`
    /// would be ignored otherwise), and values must be whole non-negative numbers.
    /// - Throws: `ChartSpecError`.
    public init(json bytes: some Collection<UInt8>) throws {
        try self.init(parsed: try JSONValue.parse(bytes))
    }

    /// The one parser behind `init(json:)` and `Decodable`.
    init(parsed value: JSONValue) throws {
        guard case .object(let root) = value else {
            throw ChartSpecError(.wrongType, field: "$", "must be a JSON object with \"slices\"")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = root.keys.sorted().first(where: { !known.contains($0) }) {
            throw ChartSpecError(
                .unknownField, field: unknown,
                "is not a chart spec field; expected one of \(known.sorted().joined(separator: ", "))")
        }
        var title: String?
        switch root["title"] {
        case nil, .null: title = nil
        case .string(let text): title = text
        case let other?: throw ChartSpecError(.wrongType, field: "title", "must be a string or null, got \(other.kind)")
        }
        guard let rawSlices = root["slices"] else {
            throw ChartSpecError(.missingField, field: "slices", "is required: a list of {\"label\", \"value\"}")
        }
        guard case .array(let sliceList) = rawSlices else {
            throw ChartSpecError(
                .wrongType, field: "slices", "must be a list of {\"label\", \"value\"}, got \(rawSlices.kind)")
        }
        guard sliceList.count <= Limits.maximumSlices else {
            throw ChartSpecError(
                .outOfRange, field: "slices",
                "must hold at most \(Limits.maximumSlices) slices, got \(sliceList.count)")
        }
        var slices: [Slice] = []
        for (index, rawSlice) in sliceList.enumerated() {
            let path = "slices[\(index)]"
            guard case .object(let slice) = rawSlice else {
                throw ChartSpecError(
                    .wrongType, field: path, "must be an object {\"label\", \"value\"}, got \(rawSlice.kind)")
            }
            if let unknown = slice.keys.sorted().first(where: { $0 != "label" && $0 != "value" }) {
                throw ChartSpecError(
                    .unknownField, field: "\(path).\(unknown)", "is not a slice field; expected label, value")
            }
            guard let label = slice["label"] else {
                throw ChartSpecError(.missingField, field: "\(path).label", "is required: the answer text")
            }
            guard case .string(let labelText) = label else {
                throw ChartSpecError(.wrongType, field: "\(path).label", "must be a string, got \(label.kind)")
            }
            guard let value = slice["value"] else {
                throw ChartSpecError(
                    .missingField, field: "\(path).value", "is required: a non-negative whole number")
            }
            slices.append(Slice(label: labelText, value: try value.wholeNumber(field: "\(path).value")))
        }
        func integer(_ key: String, default fallback: Int) throws -> Int {
            guard let raw = root[key], raw != .null else { return fallback }
            return try raw.wholeNumber(field: key)
        }
        var theme = Theme.light
        if let rawTheme = root["theme"], rawTheme != .null {
            guard case .string(let name) = rawTheme, let parsed = Theme(rawValue: name) else {
                throw ChartSpecError(
                    .outOfRange, field: "theme",
                    "must be one of \(Theme.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            theme = parsed
        }
        var locale = LanguageTag.english
        if let rawLocale = root["locale"], rawLocale != .null {
            guard case .string(let tag) = rawLocale else {
                throw ChartSpecError(
                    .wrongType, field: "locale", "must be a language tag string, got \(rawLocale.kind)")
            }
            do { locale = try LanguageTag(parsing: tag) } catch {
                throw ChartSpecError(.outOfRange, field: "locale", error.description)
            }
        }
        try self.init(
            title: title, slices: slices, width: integer("width", default: 640),
            height: integer("height", default: 400), scale: integer("scale", default: 1), theme: theme,
            locale: locale)
    }
}

/// A parsed JSON document that keeps numbers apart from booleans, so validation can name types.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The JSON type, for error messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    /// Accepts whole, finite, non-negative numbers (so `2` and `2.0`; never `2.5`, `-1`, `"2"` or `true`).
    func wholeNumber(field: String) throws -> Int {
        switch self {
        case .integer(let value):
            guard value >= 0 else {
                throw ChartSpecError(.outOfRange, field: field, "must be a non-negative whole number, got \(value)")
            }
            guard value <= ChartSpec.Limits.maximumValue else {
                throw ChartSpecError(
                    .outOfRange, field: field, "must be at most \(ChartSpec.Limits.maximumValue), got \(value)")
            }
            return Int(value)
        case .number(let value):
            guard value.isFinite else {
                throw ChartSpecError(.outOfRange, field: field, "must be a finite number, got \(value)")
            }
            guard value >= 0 else {
                throw ChartSpecError(.outOfRange, field: field, "must be a non-negative whole number, got \(value)")
            }
            guard value == value.rounded(.towardZero) else {
                throw ChartSpecError(.outOfRange, field: field, "must be a whole number, got \(value)")
            }
            guard value <= Double(ChartSpec.Limits.maximumValue) else {
                throw ChartSpecError(
                    .outOfRange, field: field, "must be at most \(ChartSpec.Limits.maximumValue), got \(value)")
            }
            return Int(value)
        default:
            throw ChartSpecError(.wrongType, field: field, "must be a number, got \(kind)")
        }
    }

    /// `bytes` as JSON, or the spec error that says it is not.
    static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw ChartSpecError(.malformedJSON, field: "$", "is not valid JSON (\(describe(error)))")
        }
    }

    static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        }
        return "\(error)"
    }
}

/// A request of the chart API: a chart spec and the file format to draw it in.
public struct ChartRequest: Sendable, Hashable {
    /// What the chart is drawn as.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// A PNG at the spec's scale.
        case png
        /// An SVG document (vectors; the scale does not apply).
        case svg
    }

    public var spec: ChartSpec
    public var format: Format

    /// Parses a chart spec with an optional `"format": "png" | "svg"` (default `png`), through the
    /// spec's own strict parser.
    /// - Throws: `ChartSpecError` naming the first wrong field.
    public init(json bytes: some Collection<UInt8>) throws {
        guard case .object(var root) = try JSONValue.parse(bytes) else {
            throw ChartSpecError(.wrongType, field: "$", "must be a JSON object with \"slices\"")
        }
        format = .png
        if let raw = root.removeValue(forKey: "format"), raw != .null {
            guard case .string(let name) = raw, let parsed = Format(rawValue: name) else {
                throw ChartSpecError(
                    .outOfRange, field: "format",
                    "must be one of \(Format.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            format = parsed
        }
        spec = try ChartSpec(parsed: .object(root))
    }
}
