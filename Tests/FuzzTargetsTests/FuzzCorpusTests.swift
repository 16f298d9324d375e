import Foundation
import FuzzTargets
import Testing

/// `make test` replays every saved fuzz input, the seeds and every crash `make fuzz` ever found,
/// through its target: a finding fixed once stays fixed.
@Suite("Fuzz corpus replay", .timeLimit(.minutes(5)))
struct FuzzCorpusTests {
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz").path

    static func inputs(_ kind: String, _ target: String) -> [String] {
        let directory = "\(fuzzRoot)/\(kind)/\(target)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(directory)/\($0)" }
    }

    @Test func everyTargetHasACorpusAndEveryCorpusATarget() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.fuzzRoot + "/corpus")
        #expect(Set(folders.filter { !$0.hasPrefix(".") }) == Set(FuzzTargets.all.keys))
        #expect(FuzzTargets.all.count >= 10)
    }

    @Test(arguments: FuzzTargets.all.keys.sorted())
    func everySavedInputStillPasses(target: String) throws {
        let run = try #require(FuzzTargets.all[target])
        let seeds = Self.inputs("corpus", target)
        #expect(seeds.count >= 3, "Fuzz/corpus/\(target) needs seed inputs")
        for path in seeds + Self.inputs("crashes", target) {
            run(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        }
    }
}
