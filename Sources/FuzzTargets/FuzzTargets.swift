import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PieChart
import SurveyCharts
import Surveys

@testable import SurveyServer

/// Every parser of outside input, as a fuzz target: bytes in, and a trap (a failed `check`, an
/// overflow, an out-of-range index) on any input that breaks a rule. libFuzzer drives them in
/// `make fuzz` (`surveycharts-fuzz`); `make test` replays the committed corpus through the same
/// functions (`FuzzCorpusTests`), so a crash found once stays fixed.
public enum FuzzTargets {
    /// The targets by name: the name is also the corpus folder, `Fuzz/corpus/<name>`.
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "http-date": httpDate,
        "conditional-plan": conditionalPlan,
        "static-path": staticPath,
        "chart-file-name": chartFileName,
        "ballot-form": ballotForm,
        "admin-form": adminForm,
        "cookies": cookies,
        "chart-spec": chartSpec,
        "import-document": importDocument,
        "client-address": clientAddress,
    ]

    /// Fails loudly: under libFuzzer a trap is a finding, with the input saved.
    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz rule broken: \(message())") }
    }

    static func text(_ data: [UInt8]) -> String { String(decoding: data, as: UTF8.self) }

    /// Up to `count` header values, one per line of `data`.
    static func lines(_ data: [UInt8], _ count: Int) -> [String?] {
        var parts = text(data).split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        while parts.count < count { parts.append("") }
        return parts.prefix(count).map { $0.isEmpty ? nil : $0 }
    }

    /// Any text: a date, or nil; a date formats back to itself.
    static func httpDate(_ data: [UInt8]) {
        guard let seconds = HTTPDate.seconds(text(data), now: 1_796_083_200) else { return }
        check(HTTPDate.seconds(HTTPDate.format(seconds), now: 1_796_083_200) == seconds, "date round trip")
    }

    /// Four header values (If-None-Match, If-Modified-Since, Range, If-Range) against files of
    /// several sizes: a partial answer is a non-empty range inside the file.
    static func conditionalPlan(_ data: [UInt8]) {
        let headers = lines(data, 4)
        let conditions = StaticFileRules.Conditions(
            ifNoneMatch: headers[0], ifModifiedSince: headers[1], range: headers[2], ifRange: headers[3])
        for size in [0, 1, 1000, Int.max / 2] {
            let file = StaticFileRules.FileFacts(size: size, modified: 784_111_777, etag: "\"abc\"")
            if case .partial(let range) = StaticFileRules.plan(for: conditions, file: file) {
                check(!range.isEmpty && range.lowerBound >= 0 && range.upperBound <= size, "range \(range) of \(size)")
            }
        }
    }

    /// A raw path: its segments never escape the root.
    static func staticPath(_ data: [UInt8]) {
        guard let segments = try? StaticFileRules.segments(ofRawPath: Substring(text(data))) else { return }
        for segment in segments {
            check(!segment.isEmpty && !segment.hasPrefix(".") && !segment.contains("/"), "segment \(segment)")
            check(!segment.utf8.contains(0) && !segment.contains("\\"), "segment \(segment)")
        }
    }

    /// A chart file name: a question chart's name parses to what it names, or to nothing.
    static func chartFileName(_ data: [UInt8]) {
        let name = text(data)
        guard let request = QuestionChartRequest(fileName: name) else { return }
        check(request.questionID >= 0 && (request.scale == 1 || request.scale == 2), "\(name)")
        check(name.hasPrefix("q\(request.questionID)-"), "\(name) is not question \(request.questionID)")
    }

    /// A ballot body: decoded fields, and the ids a ballot would take.
    static func ballotForm(_ data: [UInt8]) {
        let body = text(data)
        // A path id is canonical: it prints back as it was written.
        if let id = SurveyServer.canonicalID(body) { check(String(id) == body && id > 0, "id \(body)") }
        guard let fields = FormDecoding.fields(body) else { return }
        for (name, _) in fields where name.hasPrefix("q") {
            if let id = SurveyServer.canonicalID(name.dropFirst()) { check("q\(id)" == name, "question field \(name)") }
        }
    }

    /// An admin survey form: refused with a field error, or accepted.
    static func adminForm(_ data: [UInt8]) {
        guard let fields = FormDecoding.fields(text(data)) else { return }
        _ = try? SurveyForm(fields: fields, votes: [1: 3, 2: Int.max])
    }

    static let integrity = BallotIntegrity(secret: Array(repeating: 7, count: 32), policy: .one)

    /// A Cookie header: a forged voted cookie never counts.
    static func cookies(_ data: [UInt8]) {
        let value = text(data)
        var fields = HTTPFields()
        fields.append(HTTPField(name: .cookie, value: value))
        let head = HTTPRequest(method: .get, scheme: nil, authority: "x", path: "/surveys/1", headerFields: fields)
        let request = Request(head: head, body: .init(buffer: ByteBuffer()))
        check(!integrity.hasVoted(request, surveyID: 1), "a fuzzed voted cookie was accepted")
        _ = request.cookies[AdminAuthentication.cookieName]
        _ = AdminAuthentication.base64URLDecoded(value)
    }

    /// Chart spec JSON: refused with a field, or a spec inside the limits.
    static func chartSpec(_ data: [UInt8]) {
        guard let spec = try? ChartSpec(json: data) else { return }
        check(spec.width > 0 && spec.height > 0 && (1...3).contains(spec.scale), "spec size")
        _ = Percentages.largestRemainder(spec.slices.map(\.value))
    }

    /// The import format: refused with a JSON path, or a document that encodes and reads back.
    static func importDocument(_ data: [UInt8]) {
        guard let document = try? SurveyDocument(json: Data(data)) else { return }
        guard let encoded = try? JSONEncoder().encode(document) else { return }
        check((try? SurveyDocument(json: encoded)) == document, "import round trip")
    }

    static let proxies = TrustedProxies([IPNetwork("127.0.0.0/8")!, IPNetwork("fd00::/8")!])

    /// Addresses, CIDR ranges and X-Forwarded-For chains.
    static func clientAddress(_ data: [UInt8]) {
        let headers = lines(data, 2)
        if let first = headers[0], let address = IPAddress(first) {
            check(IPAddress(address.description) == address, "address round trip \(first)")
            _ = address.limitKey
        }
        if let first = headers[0], let network = IPNetwork(first) {
            check(network.prefixLength <= network.address.bytes.count * 8, "prefix of \(first)")
            check(network.contains(network.address), "\(first) holds its own address")
        }
        let client = proxies.client(peer: IPAddress("127.0.0.1"), forwardedFor: headers[1].map { [$0] } ?? [])
        check(client != nil, "a trusted peer always leaves a client")
    }
}
