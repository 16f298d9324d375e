import Hummingbird
import NIOCore
import Surveys

extension SurveyRequestContext {
    /// The survey id in the path, only in its one canonical form (`/surveys/1`, never `/surveys/01`
    /// or `/surveys/+1`): the voted cookie and every cache are keyed by the path, so one survey has
    /// one address.
    var surveyID: Int64? {
        guard let text = parameters.get("id") else { return nil }
        return Self.canonicalID(text)
    }

    /// `text` as an id when it is a canonical positive decimal that fits in 64 bits.
    static func canonicalID(_ text: some StringProtocol) -> Int64? {
        let digits = text.utf8
        guard let first = digits.first, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first), digits.count <= 19,
            digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return Int64(text)
    }
}

extension SurveyStore {
    /// The survey the path names, or the 404 page. A survey that has not opened is answered
    /// exactly like one that does not exist: its title, and that it exists at all, are not public.
    func publicSurvey(_ context: SurveyRequestContext, today: CalendarDay) async throws -> Survey {
        let survey = try await anySurvey(context)
        guard survey.state(on: today) != .upcoming else { throw ServiceError.noSuchSurvey() }
        return survey
    }

    /// The survey the path names, whatever its state (operators and ballots), or the 404 page.
    func anySurvey(_ context: SurveyRequestContext) async throws -> Survey {
        guard let id = context.surveyID, let survey = try await survey(id: id) else {
            throw ServiceError.noSuchSurvey()
        }
        return survey
    }
}

extension Response {
    /// An HTML page: `nosniff`, and the security headers `ErrorPagesMiddleware` adds to every page.
    static func html(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
        html(ByteBuffer(string: page), status: status)
    }

    /// An HTML page from bytes already rendered.
    static func html(_ page: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: page))
    }
}
