import Foundation
import Testing

@testable import SurveyServer

@Suite("Voted cookies")
struct BallotIntegrityTests {
    @Test func base64URLMatchesFoundationAndRoundTrips() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let expected = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let encoded = BallotIntegrity.base64URL(bytes)
            #expect(encoded == expected, "\(length) bytes")
            #expect(BallotIntegrity.base64URLDecoded(Substring(encoded)) == bytes, "\(length) bytes")
        }
        #expect(BallotIntegrity.base64URL([0xFB, 0xFF]) == "-_8")
    }
}
