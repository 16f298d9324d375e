import Foundation

/// A directory under the system's temporary directory, removed when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    /// Its absolute path.
    public let path: String

    /// Creates a new, empty directory.
    public init() throws {
        let template = NSTemporaryDirectory() + "surveycharts-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else { throw CocoaError(.fileWriteUnknown) }
        path = String(decoding: bytes.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` inside the directory and returns the file's path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// The directory's entries, sorted, dotfiles included.
    public func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

/// The package's built executables, found beside the test bundle.
public enum Executable {
    /// How a finished process ended and what it printed.
    public struct Result: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// A started process.
    public final class Running: @unchecked Sendable {
        public let process: Process
        let output = Pipe()
        let error = Pipe()
        init(_ process: Process) { self.process = process }

        /// The process id.
        public var pid: Int32 { process.processIdentifier }

        /// Waits for the process to end and collects its output.
        public func finish() -> Result {
            let out = output.fileHandleForReading.readDataToEndOfFile()
            let err = error.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Result(
                status: process.terminationStatus, standardOutput: String(decoding: out, as: UTF8.self),
                standardError: String(decoding: err, as: UTF8.self))
        }
    }

    /// The path of the package executable `name`.
    public static func url(_ name: String) -> URL {
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        let beside = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        let argumentDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return argumentDirectory.appendingPathComponent(name)
    }

    /// Starts `name` with `arguments`.
    public static func start(_ arguments: [String], name: String = "surveycharts", environment: [String: String]? = nil)
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

    /// Runs `name` with `arguments` to the end.
    public static func run(_ arguments: [String], name: String = "surveycharts") throws -> Result {
        try start(arguments, name: name).finish()
    }
}
