import Foundation
import Testing

@testable import PieChart

@Suite("Chart spec parsing and validation", .timeLimit(.minutes(2)))
struct ChartSpecTests {
    func parse(_ json: String) throws -> ChartSpec { try ChartSpec(json: Array(json.utf8)) }

    func expectError(
        _ json: String, field: String, code: ChartSpecError.Code, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let spec = try parse(json)
            Issue.record("expected \(code) at \(field), got a valid spec \(spec)", sourceLocation: sourceLocation)
        } catch let error as ChartSpecError {
            #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
            #expect(error.location.contains("ChartSpec.swift"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func parsesTheDesignExampleWithDefaults() throws {
        let spec = try parse(
            #"{"title": "Favourite show?", "slices": [{"label": "Comedy", "value": 2}, {"label": "Drama", "value": 2}]}"#
        )
        #expect(spec.title == "Favourite show?")
        #expect(spec.slices == [.init(label: "Comedy", value: 2), .init(label: "Drama", value: 2)])
        #expect(spec.width == 640 && spec.height == 400 && spec.scale == 1 && spec.theme == .light)
    }

    @Test func acceptsWholeNumbersWrittenAsDecimals() throws {
        let spec = try parse(#"{"slices": [{"label": "A", "value": 2.0}], "width": 300.0}"#)
        #expect(spec.slices[0].value == 2)
        #expect(spec.width == 300)
    }

    /// One character may carry thousands of combining marks: labels are bounded in bytes too.
    @Test func labelsAreBoundedInBytesNotOnlyCharacters() throws {
        let zalgo = "a" + String(repeating: "\u{0301}", count: 2000)
        #expect(zalgo.count == 1)
        expectError(#"{"slices": [{"label": "\#(zalgo)", "value": 1}]}"#, field: "slices[0].label", code: .outOfRange)
        expectError(
            #"{"title": "\#(zalgo)", "slices": [{"label": "A", "value": 1}]}"#, field: "title", code: .outOfRange)
        // 300 four-byte characters are still a valid label.
        let wide = String(repeating: "😀", count: 300)
        #expect(try parse(#"{"slices": [{"label": "\#(wide)", "value": 1}]}"#).slices[0].label == wide)
    }

    @Test func rejectsBadValues() {
        expectError(#"{"slices": [{"label": "A", "value": -1}]}"#, field: "slices[0].value", code: .outOfRange)
        expectError(
            #"{"slices": [{"label": "A", "value": 1}, {"label": "B", "value": 2.5}]}"#, field: "slices[1].value",
            code: .outOfRange)
        expectError(#"{"slices": [{"label": "A", "value": "3"}]}"#, field: "slices[0].value", code: .wrongType)
        expectError(#"{"slices": [{"label": "A", "value": true}]}"#, field: "slices[0].value", code: .wrongType)
        expectError(#"{"slices": [{"label": "A", "value": null}]}"#, field: "slices[0].value", code: .wrongType)
        expectError(#"{"slices": [{"label": "A", "value": 1e300}]}"#, field: "slices[0].value", code: .outOfRange)
        expectError(#"{"slices": [{"label": "A"}]}"#, field: "slices[0].value", code: .missingField)
    }

    @Test func rejectsValuesBeyondExactJSONIntegers() {
        #expect(throws: ChartSpecError.self) {
            try ChartSpec(slices: [.init(label: "A", value: ChartSpec.Limits.maximumValue + 1)])
        }
        // Each value fits, but their total would not be exact any more.
        #expect(throws: ChartSpecError.self) {
            try ChartSpec(
                slices: [
                    .init(label: "A", value: ChartSpec.Limits.maximumValue),
                    .init(label: "B", value: ChartSpec.Limits.maximumValue),
                ])
        }
    }

    @Test func rejectsInfiniteNumberLiterals() {
        expectError(#"{"slices": [{"label": "A", "value": 1e400}]}"#, field: "$", code: .malformedJSON)
    }

    @Test func rejectsBadSlicesLists() {
        expectError(#"{"slices": []}"#, field: "slices", code: .outOfRange)
        expectError(#"{"title": "x"}"#, field: "slices", code: .missingField)
        expectError(#"{"slices": {"label": "A"}}"#, field: "slices", code: .wrongType)
        expectError(#"{"slices": [3]}"#, field: "slices[0]", code: .wrongType)
        let many = (0..<65).map { #"{"label": "L\#($0)", "value": 1}"# }.joined(separator: ",")
        expectError(#"{"slices": [\#(many)]}"#, field: "slices", code: .outOfRange)
        let sixtyFour = (0..<64).map { #"{"label": "L\#($0)", "value": 1}"# }.joined(separator: ",")
        #expect(throws: Never.self) { try parse(#"{"slices": [\#(sixtyFour)], "width": 1200, "height": 900}"#) }
    }

    @Test func rejectsBadLabels() {
        let long = String(repeating: "x", count: 301)
        expectError(#"{"slices": [{"label": "\#(long)", "value": 1}]}"#, field: "slices[0].label", code: .outOfRange)
        let exactly300 = String(repeating: "é", count: 300)
        #expect(throws: Never.self) { try parse(#"{"slices": [{"label": "\#(exactly300)", "value": 1}]}"#) }
        expectError(#"{"slices": [{"label": "  ", "value": 1}]}"#, field: "slices[0].label", code: .outOfRange)
        expectError(#"{"slices": [{"label": 7, "value": 1}]}"#, field: "slices[0].label", code: .wrongType)
        expectError(#"{"slices": [{"label": "a\u0000b", "value": 1}]}"#, field: "slices[0].label", code: .outOfRange)
        expectError(#"{"slices": [{"value": 1}]}"#, field: "slices[0].label", code: .missingField)
        expectError(
            #"{"title": "\#(long)", "slices": [{"label": "A", "value": 1}]}"#, field: "title", code: .outOfRange)
        expectError(#"{"title": 5, "slices": [{"label": "A", "value": 1}]}"#, field: "title", code: .wrongType)
    }

    @Test(arguments: ["width", "height"])
    func rejectsSizesOutside100To4096(field: String) throws {
        for bad in [99, 4097, 0] {
            expectError(
                #"{"slices": [{"label": "A", "value": 1}], "\#(field)": \#(bad)}"#, field: field, code: .outOfRange)
        }
        for good in [100, 4096] {
            let spec = try parse(#"{"slices": [{"label": "A", "value": 1}], "\#(field)": \#(good)}"#)
            #expect((field == "width" ? spec.width : spec.height) == good)
        }
    }

    @Test func rejectsScalesOutside1To3AndHugeImages() throws {
        expectError(#"{"slices": [{"label": "A", "value": 1}], "scale": 0}"#, field: "scale", code: .outOfRange)
        expectError(#"{"slices": [{"label": "A", "value": 1}], "scale": 4}"#, field: "scale", code: .outOfRange)
        expectError(
            #"{"slices": [{"label": "A", "value": 1}], "width": 4096, "height": 4096, "scale": 2}"#, field: "scale",
            code: .tooLarge)
        #expect(try parse(#"{"slices": [{"label": "A", "value": 1}], "scale": 3}"#).scale == 3)
    }

    @Test func rejectsUnknownFieldsAndBadThemes() {
        expectError(#"{"titel": "x", "slices": [{"label": "A", "value": 1}]}"#, field: "titel", code: .unknownField)
        expectError(
            #"{"slices": [{"label": "A", "value": 1, "colour": "red"}]}"#, field: "slices[0].colour",
            code: .unknownField)
        expectError(#"{"slices": [{"label": "A", "value": 1}], "theme": "neon"}"#, field: "theme", code: .outOfRange)
    }

    @Test func rejectsMalformedDocuments() {
        expectError(#"{"slices": [{"label": "A", "value": 1}]"#, field: "$", code: .malformedJSON)
        expectError("", field: "$", code: .malformedJSON)
        expectError("[1, 2]", field: "$", code: .wrongType)
        expectError("\"slices\"", field: "$", code: .wrongType)
    }

    @Test func canonicalBytesIgnoreKeyOrderAndWhitespaceButNotContent() throws {
        let a = try parse(#"{"slices": [{"value": 2, "label": "Comedy"}], "width": 640, "title": "T"}"#)
        let b = try parse(#"{ "title":"T","slices":[ {"label":"Comedy","value":2.0} ] }"#)
        #expect(a.canonicalBytes == b.canonicalBytes)
        let c = try parse(#"{"title": "T", "slices": [{"label": "Comedy", "value": 3}]}"#)
        #expect(a.canonicalBytes != c.canonicalBytes)
        #expect(String(decoding: a.cacheKeyMaterial, as: UTF8.self).hasSuffix(ChartSpec.rendererVersion))
    }

    @Test func codableRoundTripKeepsValidation() throws {
        let spec = try Fixtures.newShows()
        let decoded = try JSONDecoder().decode(ChartSpec.self, from: try JSONEncoder().encode(spec))
        #expect(decoded == spec)
        #expect(throws: ChartSpecError.self) {
            try JSONDecoder().decode(ChartSpec.self, from: Data(#"{"slices": [{"label": "A", "value": -3}]}"#.utf8))
        }
        // One parser: Decodable refuses what `init(json:)` refuses, with the same error.
        for json in [
            #"{"slices": [{"label": "A", "value": 1}], "titel": "typo"}"#,
            #"{"slices": [{"label": "A", "value": 1, "colour": "red"}]}"#,
            #"{"slices": [{"label": "A", "value": 1.5}]}"#,
            #"{"slices": [{"label": "A", "value": true}]}"#,
            #"[1, 2]"#,
        ] {
            var viaInit: ChartSpecError?
            var viaDecodable: ChartSpecError?
            do { _ = try ChartSpec(json: Array(json.utf8)) } catch { viaInit = error as? ChartSpecError }
            do { _ = try JSONDecoder().decode(ChartSpec.self, from: Data(json.utf8)) } catch {
                viaDecodable = error as? ChartSpecError
            }
            #expect(
                viaInit != nil && viaInit?.code == viaDecodable?.code && viaInit?.field == viaDecodable?.field,
                "\(json)")
        }
    }

    @Test func altTextStatesTheData() throws {
        #expect(try Fixtures.favouriteType().altText == "Comedy: 40%, Drama: 40%, Reality: 20%")
        let none = try ChartSpec(slices: [.init(label: "Yes", value: 0), .init(label: "No", value: 0)])
        #expect(none.altText == "No votes yet. Answers: Yes, No")
        let multiline = try ChartSpec(slices: [.init(label: "A\nB", value: 1)])
        #expect(multiline.altText == "A B: 100%")
    }
}
