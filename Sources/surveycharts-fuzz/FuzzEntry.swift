import Foundation
import FuzzTargets

/// The target named by `SURVEYCHARTS_FUZZ_TARGET` (one of `FuzzTargets.all`), chosen once.
let selectedTarget: @Sendable ([UInt8]) -> Void = {
    let name = ProcessInfo.processInfo.environment["SURVEYCHARTS_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.all[name] else {
        let names = FuzzTargets.all.keys.sorted().joined(separator: ", ")
        FileHandle.standardError.write(
            Data("surveycharts-fuzz: set SURVEYCHARTS_FUZZ_TARGET to one of \(names)\n".utf8))
        exit(64)
    }
    return target
}()

#if SURVEYCHARTS_FUZZING
    import CFuzzerDriver

    /// libFuzzer's entry point: one input, one call of the selected target.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        selectedTarget(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    }

    /// The executable's entry point under the name SwiftPM links as `main`: it hands over to
    /// libFuzzer's driver, which parses libFuzzer's flags and calls `fuzzOneInput`.
    @_cdecl("surveycharts_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
    }
#else
    /// Without libFuzzer (an ordinary build): replays the files given on the command line through
    /// the selected target, as `make test` does with the whole corpus.
    @main
    struct ReplayFuzzInputs {
        static func main() throws {
            for path in CommandLine.arguments.dropFirst() {
                selectedTarget(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
                print("ok \(path)")
            }
        }
    }
#endif
