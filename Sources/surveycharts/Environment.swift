import Foundation

/// Defaults from `SURVEYCHARTS_*` environment variables, so every option can be set either way
/// (the flag wins).
enum Environment {
    static func string(_ name: String, _ fallback: String) -> String {
        ProcessInfo.processInfo.environment["SURVEYCHARTS_\(name)"] ?? fallback
    }

    static func int(_ name: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment["SURVEYCHARTS_\(name)"].flatMap(Int.init) ?? fallback
    }

    static func flag(_ name: String) -> Bool {
        ["1", "true", "yes"].contains(ProcessInfo.processInfo.environment["SURVEYCHARTS_\(name)"]?.lowercased() ?? "")
    }
}
