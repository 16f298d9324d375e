import Foundation

/// A directory under the system's temporary directory, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let template = NSTemporaryDirectory() + "surveycharts-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else { throw CocoaError(.fileWriteUnknown) }
        path = String(decoding: bytes.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

/// The package's built executables, found beside the test bundle.
enum Executable {
    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    final class Running {
        let process: Process
        let output = Pipe()
        let error = Pipe()
        init(_ process: Process) { self.process = process }

        func finish() -> Result {
            let out = output.fileHandleForReading.readDataToEndOfFile()
            let err = error.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Result(
                status: process.terminationStatus, standardOutput: String(decoding: out, as: UTF8.self),
                standardError: String(decoding: err, as: UTF8.self))
        }
    }

    static func url(_ name: String) -> URL {
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        let beside = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        let argumentDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return argumentDirectory.appendingPathComponent(name)
    }

    static func start(_ arguments: [String], name: String = "surveycharts", environment: [String: String]? = nil)
        throws -> Running
    {
        let process = Process()
        process.executableURL = url(name)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let running = Running(process)
        process.standardOutput = running.output
        process.standardError = running.error
        try process.run()
        return running
    }

    static func run(_ arguments: [String], name: String = "surveycharts") throws -> Result {
        try start(arguments, name: name).finish()
    }
}
