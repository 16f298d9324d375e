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

    /// Removes the directory. A writer that a test left running (a queued pool job, a child
    /// process being killed) can add a file while it is being removed: look again for a second.
    deinit {
        for _ in 0..<20 {
            try? FileManager.default.removeItem(atPath: path)
            guard FileManager.default.fileExists(atPath: path) else { return }
            usleep(50_000)
        }
    }

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

/// This process's environment without `SURVEYCHARTS_*` variables: a test states every option it
/// relies on, and one set in the shell that runs the tests must not make it pass (or fail) by accident.
public var cleanEnvironment: [String: String] {
    ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SURVEYCHARTS_") }
}

/// A child process that did not do what a test waited for in time. By the time this is thrown the
/// child has been ended (SIGTERM, then SIGKILL), so a stuck child never outlives its test, and the
/// description names the child and what was awaited, for the failure the test reports.
public struct ChildTimeout: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Bounded waits on child processes: a child that hangs fails its test instead of hanging the run.
public enum ChildProcess {
    /// How long a command-line run may take: generous for a loaded 2-core machine (runs take
    /// seconds), and inside the suites' time limits, so the failure names the child, not the suite.
    public static let defaultTimeout: Duration = .seconds(60)
    /// How long a child has between SIGTERM and SIGKILL: enough to stop gracefully, not to stall.
    public static let terminationGrace: Duration = .seconds(3)

    /// Waits until `process` has exited, at most until `deadline`; whether it has.
    public static func waitForExit(_ process: Process, until deadline: ContinuousClock.Instant) -> Bool {
        // Polled: Foundation reaps the child itself, and offers no wait with a deadline.
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return false }
            usleep(5_000)
        }
        process.waitUntilExit()  // returns at once now; makes the termination status final
        return true
    }

    /// Ends `process` if it still runs: SIGTERM, then SIGKILL once `grace` has passed; waits for it.
    public static func end(_ process: Process, grace: Duration = terminationGrace) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        if !waitForExit(process, until: ContinuousClock.now + grace) {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()  // SIGKILL cannot be caught or blocked: this wait ends
        }
    }

    /// Reads the pipes `descriptors` until each is at end of file, `enough` holds for what was read,
    /// or `deadline` passes. All are read at once, so a child that fills one pipe while we wait on
    /// another cannot block us both. Returns the bytes of each and whether every pipe ended.
    public static func read(
        _ descriptors: [Int32], until deadline: ContinuousClock.Instant,
        enough: ([[UInt8]]) -> Bool = { _ in false }
    ) -> (bytes: [[UInt8]], ended: Bool) {
        var bytes = Array(repeating: [UInt8](), count: descriptors.count)
        var isOpen = Array(repeating: true, count: descriptors.count)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while isOpen.contains(true) {
            let left = milliseconds(until: deadline)
            guard left > 0, !enough(bytes) else { break }
            var polled = descriptors.indices.filter { isOpen[$0] }.map {
                pollfd(fd: descriptors[$0], events: Int16(POLLIN), revents: 0)
            }
            let ready = poll(&polled, nfds_t(polled.count), Int32(min(left, 1000)))
            if ready < 0 && errno != EINTR { break }
            for entry in polled where entry.revents != 0 {
                guard let index = descriptors.firstIndex(of: entry.fd) else { continue }
                let count = buffer.withUnsafeMutableBytes { Glibc.read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    bytes[index] += buffer[0..<count]
                } else if count == 0 || errno != EINTR {
                    isOpen[index] = false
                }
            }
        }
        return (bytes, !isOpen.contains(true))
    }

    static func milliseconds(until deadline: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (deadline - ContinuousClock.now).components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// The last `count` characters of `text`, for a failure message that stays readable.
    static func tail(_ text: String, _ count: Int = 4000) -> String {
        text.count <= count ? text : "…" + text.suffix(count)
    }
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
        public let output = Pipe()
        public let error = Pipe()
        /// Its standard input; closed by `input(_:)` or `finish()`, so nothing waits for more.
        public let standardInput = Pipe()
        /// The command line, for failure messages.
        public let command: String
        init(_ process: Process, command: String) {
            self.process = process
            self.command = command
        }

        /// A child still running when its test lets go of it (a test that threw between its start
        /// and its `finish`) is killed, and continued first if it was stopped, so none outlives the run.
        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGCONT)
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        /// Writes `text` to the process's standard input and closes it.
        public func input(_ text: String) {
            standardInput.fileHandleForWriting.write(Data(text.utf8))
            try? standardInput.fileHandleForWriting.close()
        }

        /// The process id.
        public var pid: Int32 { process.processIdentifier }

        /// Waits, at most `timeout`, for the process to end, and collects its output. A process
        /// still running then (or still holding its output open) is ended, SIGTERM then SIGKILL,
        /// and `ChildTimeout` says it was waited for `waitingFor` ("to exit" unless told).
        public func finish(
            within timeout: Duration = ChildProcess.defaultTimeout, waitingFor: String = "to exit"
        )
            throws -> Result
        {
            try? standardInput.fileHandleForWriting.close()
            let deadline = ContinuousClock.now + timeout
            let read = ChildProcess.read(
                [output.fileHandleForReading.fileDescriptor, error.fileHandleForReading.fileDescriptor],
                until: deadline)
            let out = String(decoding: read.bytes[0], as: UTF8.self)
            let err = String(decoding: read.bytes[1], as: UTF8.self)
            guard read.ended, ChildProcess.waitForExit(process, until: deadline) else {
                ChildProcess.end(process)
                throw ChildTimeout(
                    description: "timed out after \(timeout) waiting for `\(command)` (pid \(pid)) \(waitingFor)"
                        + (read.ended ? "" : " (its output was still open)")
                        + "; ended it with SIGTERM, then SIGKILL. Its standard error: \(ChildProcess.tail(err))"
                        + " Its standard output: \(ChildProcess.tail(out))")
            }
            return Result(status: process.terminationStatus, standardOutput: out, standardError: err)
        }

        /// Reads standard output, at most `timeout`, until it holds `text` and ends a line; what it
        /// read. A process that exits first, or stays silent, is ended and `ChildTimeout` names it.
        public func waitForOutput(_ text: String, within timeout: Duration = .seconds(60)) throws -> String {
            let deadline = ContinuousClock.now + timeout
            let read = ChildProcess.read([output.fileHandleForReading.fileDescriptor], until: deadline) {
                let seen = String(decoding: $0[0], as: UTF8.self)
                return seen.contains(text) && seen.hasSuffix("\n")
            }
            let seen = String(decoding: read.bytes[0], as: UTF8.self)
            guard seen.contains(text) && seen.hasSuffix("\n") else {
                ChildProcess.end(process)
                throw ChildTimeout(
                    description: "`\(command)` (pid \(pid)) "
                        + (read.ended ? "closed its output" : "timed out after \(timeout)")
                        + " before printing \"\(text)\"; ended it. It printed: \(ChildProcess.tail(seen))")
            }
            return seen
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

    /// Starts `name` with `arguments`. A `wrapper` (such as `setpriv --reuid 65534 --`) runs it
    /// through another command.
    public static func start(
        _ arguments: [String], name: String = "surveycharts", environment: [String: String]? = nil,
        wrapper: [String] = []
    ) throws -> Running {
        let executable = url(name).path
        guard let command = wrapper.first else { return try launch(executable, arguments, environment: environment) }
        return try launch(command, Array(wrapper.dropFirst()) + [executable] + arguments, environment: environment)
    }

    /// Starts any program (`/usr/bin/env python3 …`, `/usr/bin/prlimit`) with `arguments`, to be
    /// finished, bounded, like a package executable.
    public static func start(
        program: String, _ arguments: [String], environment: [String: String]? = nil
    ) throws
        -> Running
    {
        try launch(program, arguments, environment: environment)
    }

    private static func launch(
        _ path: String, _ arguments: [String], environment: [String: String]?
    ) throws
        -> Running
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment ?? cleanEnvironment
        let command = ([URL(fileURLWithPath: path).lastPathComponent] + arguments).joined(separator: " ")
        let running = Running(process, command: command)
        process.standardOutput = running.output
        process.standardError = running.error
        process.standardInput = running.standardInput
        try process.run()
        return running
    }

    /// Runs `name` with `arguments` to the end, at most `timeout` (then it is ended and the run throws).
    public static func run(
        _ arguments: [String], name: String = "surveycharts", timeout: Duration = ChildProcess.defaultTimeout
    ) throws -> Result {
        try start(arguments, name: name).finish(within: timeout)
    }

    /// Runs a `surveycharts serve` that must refuse to start (a bad option, an unusable file) and
    /// returns how it ended. `--port 0` and `--exit-with-parent` come first, so a serve that starts
    /// after all takes no real port and cannot outlive the tests; past `timeout` it is ended and
    /// the run throws `ChildTimeout`. Pass where its data would go (`ServerTests.Site.scratchArguments`).
    public static func refusedServe(
        _ arguments: [String], wrapper: [String] = [], timeout: Duration = .seconds(30)
    ) throws -> Result {
        try start(["serve", "--port", "0", "--exit-with-parent"] + arguments, wrapper: wrapper)
            .finish(within: timeout, waitingFor: "to refuse to start and exit")
    }
}

/// A response read off the wire by `RawHTTP`.
public struct RawHTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    /// The body bytes (empty for HEAD and 304).
    public var body: [UInt8]

    /// The first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A deliberately raw HTTP/1.1 client: it sends the request line exactly as given (no path
/// normalisation), so traversal attacks reach the server as an attacker would send them.
public enum RawHTTP {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Sends one request on a new connection to 127.0.0.1:`port` and reads the response to EOF.
    /// A `source` address (another loopback address, such as 127.0.0.2) plays a second client.
    public static func send(
        port: Int, method: String = "GET", target: String, headers: [String: String] = [:], body: [UInt8] = [],
        timeoutSeconds: Int = 60, stopAfterOneResponse: Bool = false, source: String? = nil
    ) throws -> RawHTTPResponse {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let raw = try exchange(
            port: port, Array(head.utf8) + body, timeoutSeconds: timeoutSeconds,
            stopAfterOneResponse: stopAfterOneResponse, source: source)
        return try parse(raw, isHead: method == "HEAD")
    }

    /// Sends `bytes` and returns everything the server answers until it closes the connection,
    /// or, with `stopAfterOneResponse`, until one response with a `Content-Length` is complete (for
    /// servers that keep the connection open, such as chromedriver).
    public static func exchange(
        port: Int, _ bytes: [UInt8], timeoutSeconds: Int = 60, stopAfterOneResponse: Bool = false,
        source: String? = nil
    ) throws -> [UInt8] {
        let descriptor = try connect(port: port, readTimeoutSeconds: timeoutSeconds, source: source)
        defer { close(descriptor) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { break }  // the server may answer (413) before reading it all
            offset += written
        }
        if !stopAfterOneResponse { shutdown(descriptor, Int32(SHUT_WR)) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && response.isEmpty { throw Failure(description: "read failed: errno \(errno)") }
            if count <= 0 { break }
            response += buffer[0..<count]
            if stopAfterOneResponse, let complete = completeResponseLength(response), response.count >= complete {
                break
            }
        }
        return response
    }

    /// A TCP connection to 127.0.0.1:`port` whose reads give up after `readTimeoutSeconds`; the
    /// caller closes the descriptor.
    public static func connect(port: Int, readTimeoutSeconds: Int, source: String? = nil) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket failed: errno \(errno)") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else {
                close(descriptor)
                throw Failure(description: "bind to \(source) failed: errno \(errno)")
            }
        }
        var timeout = timeval(tv_sec: readTimeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let failure = Failure(description: "connect to port \(port) failed: errno \(errno)")
            close(descriptor)
            throw failure
        }
        return descriptor
    }

    /// The length of the response at the start of `bytes` (head plus `Content-Length`), once the
    /// head is complete.
    public static func completeResponseLength(_ bytes: [UInt8]) -> Int? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { bytes[$0..<$0 + 4].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        guard let line = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { return nil }
        return end + 4 + length
    }

    /// Parses one response (head and body) from `raw`.
    public static func parse(_ raw: [UInt8], isHead: Bool) throws -> RawHTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, raw.count - 3)).first(where: { Array(raw[$0..<$0 + 4]) == separator }) else {
            throw Failure(description: "no complete response head in \(raw.count) bytes")
        }
        let lines = String(decoding: raw[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(description: "bad status line \(lines[0])")
        }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Array(raw[(end + 4)...])
        if isHead || status == 304 { body = [] }
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }) {
            body = try dechunked(body)
        }
        if let length = headers.first(where: { $0.0.lowercased() == "content-length" }).flatMap({ Int($0.1) }),
            body.count > length
        {
            body = Array(body.prefix(length))
        }
        return RawHTTPResponse(status: status, headers: headers, body: body)
    }

    /// A chunked body (RFC 9112 §7.1) as its content; nginx sends what it compresses so.
    static func dechunked(_ chunked: [UInt8]) throws -> [UInt8] {
        var content: [UInt8] = []
        var index = 0
        while true {
            guard
                let lineEnd = (index..<max(index, chunked.count - 1)).first(where: {
                    chunked[$0] == 13 && chunked[$0 + 1] == 10
                })
            else { throw Failure(description: "a chunk size line is cut off") }
            let sizeText = String(decoding: chunked[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                throw Failure(description: "bad chunk size \(sizeText)")
            }
            index = lineEnd + 2
            if size == 0 { return content }
            guard index + size <= chunked.count else { throw Failure(description: "a chunk is cut off") }
            content += chunked[index..<index + size]
            index += size + 2
        }
    }
}

/// A `surveycharts serve` process on an ephemeral port, stopped (SIGTERM) when released.
///
/// Its log goes to a temporary file (removed with the process): an unread pipe would fill up and
/// block the server's logging.
public final class ServerProcess: @unchecked Sendable {
    public let process = Process()
    /// The port it listens on.
    public let port: Int
    /// The port of its metrics listener (`--metrics-address 127.0.0.1:0`, which every test server has).
    public let metricsPort: Int
    /// The server's standard error (its request log).
    public let logPath: String
    /// What the server printed on standard output before it listened.
    public private(set) var startupOutput = ""

    /// Starts `surveycharts serve --port 0` with `arguments` and waits, at most `startupTimeout`,
    /// until it listens. A `wrapper` (such as `prlimit --nofile=256`) runs the server through
    /// another command. A server that neither listens nor exits in time is ended (SIGTERM, then
    /// SIGKILL) and `ChildTimeout` says what was awaited.
    public init(
        _ arguments: [String], wrapper: [String] = [], port fixedPort: Int = 0, startupTimeout: Duration = .seconds(60)
    ) throws {
        logPath = NSTemporaryDirectory() + "surveycharts-server-\(UUID().uuidString).log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: logPath])
        }
        let output = Pipe()
        process.environment = cleanEnvironment
        let serve =
            ["serve", "--port", String(fixedPort), "--metrics-address", "127.0.0.1:0", "--exit-with-parent"] + arguments
        if let command = wrapper.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = wrapper.dropFirst() + [Executable.url("surveycharts").path] + serve
        } else {
            process.executableURL = Executable.url("surveycharts")
            process.arguments = serve
        }
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        let listening = "listening on http://"
        let deadline = ContinuousClock.now + startupTimeout
        let read = ChildProcess.read([output.fileHandleForReading.fileDescriptor], until: deadline) {
            let seen = String(decoding: $0[0], as: UTF8.self)
            return seen.contains(listening) && seen.hasSuffix("\n")
        }
        let seen = String(decoding: read.bytes[0], as: UTF8.self)
        guard seen.contains(listening) && seen.hasSuffix("\n") else {
            // It closed its output (it is exiting: a few seconds more), or the deadline passed. No
            // `&&` here: its autoclosure would capture `self`, which is not initialized yet.
            var exited = false
            if read.ended { exited = ChildProcess.waitForExit(process, until: ContinuousClock.now + .seconds(10)) }
            if !exited { ChildProcess.end(process) }
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: logPath)
            if exited { throw RawHTTP.Failure(description: "server exited \(process.terminationStatus): \(log)") }
            let command = "surveycharts " + serve.joined(separator: " ")
            throw ChildTimeout(
                description: "timed out after \(startupTimeout) waiting for `\(command)` (pid "
                    + "\(process.processIdentifier)) to print \"\(listening)\"; ended it with SIGTERM, then "
                    + "SIGKILL. It printed: \(ChildProcess.tail(seen)) Its log: \(ChildProcess.tail(log))")
        }
        startupOutput = seen
        let line = seen.split(separator: "\n").first { $0.contains(listening) }!
        port = Int(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces))!
        let metricsLine = seen.split(separator: "\n").first { $0.contains("metrics on http://") }
        metricsPort = metricsLine.flatMap { Int($0.split(separator: ":").last!.split(separator: "/").first!) } ?? 0
    }

    /// Sends SIGTERM and waits, at most `timeout`; returns the exit status. A server that has not
    /// stopped by then is killed (SIGKILL), which its status shows (9, not 0), and this says so on
    /// standard error: `stop()` runs in `defer`, where it cannot throw.
    @discardableResult
    public func stop(within timeout: Duration = .seconds(30)) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        if !ChildProcess.waitForExit(process, until: ContinuousClock.now + timeout) {
            FileHandle.standardError.write(
                Data(
                    ("ServerProcess: surveycharts serve (pid \(process.processIdentifier)) did not stop within "
                        + "\(timeout) of SIGTERM; killed it (SIGKILL)\n").utf8))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// Whether the server's log holds `text` within `seconds` (the log is written by a background
    /// thread, so a line may land just after the response it describes).
    public func logContains(_ text: String, within seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if let log = try? String(contentsOfFile: logPath, encoding: .utf8), log.contains(text) { return true }
            usleep(20_000)
        } while Date() < deadline
        return false
    }

    /// The server's log so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func get(_ target: String, headers: [String: String] = [:]) throws -> RawHTTPResponse {
        try RawHTTP.send(port: port, target: target, headers: headers)
    }

    public func post(
        _ target: String, body: String, contentType: String = "application/x-www-form-urlencoded",
        headers: [String: String] = [:], source: String? = nil
    ) throws -> RawHTTPResponse {
        try RawHTTP.send(
            port: port, method: "POST", target: target,
            headers: headers.merging(["Content-Type": contentType]) { given, _ in given }, body: Array(body.utf8),
            source: source)
    }
}

/// A client socket that sends what it is told, when it is told, and reads what comes back:
/// for tests of slow, stalled and flooding clients.
public final class RawConnection {
    /// The socket.
    public let descriptor: Int32

    /// Connects to 127.0.0.1:`port`; reads wait at most `readTimeoutSeconds`.
    public init(port: Int, readTimeoutSeconds: Int = 15) throws {
        descriptor = try RawHTTP.connect(port: port, readTimeoutSeconds: readTimeoutSeconds)
    }

    deinit { close(descriptor) }

    /// Changes how long a read waits for data.
    public func readTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends `text`; false when the server has closed the connection.
    @discardableResult
    public func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            == bytes.count
    }

    /// Reads what has arrived (waiting for the first bytes up to the read timeout).
    public func readSome() -> String {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
    }

    /// Reads until the server closes: what it sent, and whether it closed (rather than the
    /// read timing out with the connection still open).
    public func readUntilClosed() -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                received += buffer[0..<count]
                continue
            }
            if count < 0 && errno == EINTR { continue }
            // 0: the server closed; ECONNRESET: it closed with our bytes unread. Both are closed.
            let closed = count == 0 || errno == ECONNRESET
            return (String(decoding: received, as: UTF8.self), closed)
        }
    }
}

extension ServerProcess {
    /// The sum of the samples of metric `name` on `/metrics` whose labels contain `matching`
    /// (all of them when it is empty); nil when there is no such sample. Counters and gauges
    /// alike: values are read as numbers, whatever their format (`1`, `1.0`).
    public func metric(_ name: String, matching: String = "") throws -> Double? {
        let samples = try RawHTTP.send(port: metricsPort, target: "/metrics").text.split(separator: "\n").filter {
            line in
            guard !line.hasPrefix("#"), line.hasPrefix(name) else { return false }
            let rest = line.dropFirst(name.count)
            // `name` itself, not a longer name that starts with it.
            guard rest.first == " " || rest.first == "{" else { return false }
            // `contains("")` is false: an empty filter must match everything.
            return matching.isEmpty || rest.contains(matching)
        }.compactMap { Double($0.split(separator: " ").last ?? "") }
        return samples.isEmpty ? nil : samples.reduce(0, +)
    }
}

/// `GET /surveys/N/results.json`, decoded: what the tests read of it.
public struct ResultsJSON: Decodable, Sendable {
    /// One question's results.
    public struct Question: Decodable, Sendable {
        public var id: Int64
        public var text: String
        public var total: Int
        /// The wide chart's URLs by scale ("1x", "2x").
        public var chart: [String: String]
        /// The narrow chart's URLs by scale.
        public var narrowChart: [String: String]
        public var answers: [Answer]
    }

    /// One answer's count.
    public struct Answer: Decodable, Sendable {
        public var id: Int64
        public var text: String
        public var votes: Int
        public var percent: Int
    }

    public var id: Int64
    public var title: String
    public var questions: [Question]
}

extension ServerProcess {
    /// Survey `id`'s results document; throws when the server does not answer 200 with one.
    public func results(_ id: Int) throws -> ResultsJSON {
        let response = try get("/surveys/\(id)/results.json")
        guard response.status == 200 else {
            throw CocoaError(
                .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "results.json: \(response.status)"])
        }
        return try JSONDecoder().decode(ResultsJSON.self, from: Data(response.body))
    }
}

/// Whether `bytes` start with the PNG signature.
public func isPNG(_ bytes: some Sequence<UInt8>) -> Bool {
    Array(bytes.prefix(8)) == [137, 80, 78, 71, 13, 10, 26, 10]
}

/// A Python script run beside a test (a process holding a lock, say). `start` returns once the
/// script has printed its first line, so the test knows it got that far.
public final class ScriptProcess: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    let standardInput = Pipe()
    /// The first line the script printed.
    public private(set) var firstLine = ""

    /// Runs `python3 -c source arguments...` and waits, at most `timeout`, for its first line of
    /// output. A script that exits or stays silent until then is ended and the start throws.
    public init(python source: String, arguments: [String], timeout: Duration = .seconds(30)) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", source] + arguments
        process.standardOutput = output
        process.standardInput = standardInput
        try process.run()
        let newline = UInt8(ascii: "\n")
        let read = ChildProcess.read(
            [output.fileHandleForReading.fileDescriptor], until: ContinuousClock.now + timeout
        ) { $0[0].contains(newline) }
        firstLine = String(decoding: read.bytes[0], as: UTF8.self)
        guard read.bytes[0].contains(newline) else {
            var exited = false
            if read.ended { exited = ChildProcess.waitForExit(process, until: ContinuousClock.now + .seconds(5)) }
            if !exited { ChildProcess.end(process) }
            throw ChildTimeout(
                description: "the Python script beside the test "
                    + (exited ? "exited (\(process.terminationStatus))" : "timed out after \(timeout)")
                    + " before printing its first line; it printed: \(firstLine)")
        }
    }

    deinit { stop() }

    /// A process that holds SQLite's write lock on `database` (`BEGIN EXCLUSIVE`) from its
    /// start until `input(_:)` sends it a line, then lets go and exits.
    public static func holdingTheWriteLock(of database: String) throws -> ScriptProcess {
        let holder = try ScriptProcess(
            python: """
                import sqlite3, sys
                db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
                db.execute("BEGIN EXCLUSIVE")
                print("locked", flush=True)
                sys.stdin.readline()
                db.execute("ROLLBACK")
                """, arguments: [database])
        guard holder.firstLine.hasPrefix("locked") else {
            holder.stop()
            throw ChildTimeout(description: "the lock holder printed \(holder.firstLine) instead of \"locked\"")
        }
        return holder
    }

    public var isRunning: Bool { process.isRunning }

    /// Writes `text` to the script's standard input and closes it (a script waiting on
    /// `sys.stdin.readline()` goes on).
    public func input(_ text: String) {
        // A script that died already has no reader: writing would raise SIGPIPE.
        if process.isRunning { try? standardInput.fileHandleForWriting.write(contentsOf: Data(text.utf8)) }
        try? standardInput.fileHandleForWriting.close()
    }

    /// Waits, at most `timeout`, for the script to end; its exit status. A script still running
    /// then is ended and the wait throws.
    @discardableResult
    public func waitUntilExit(within timeout: Duration = .seconds(60)) throws -> Int32 {
        guard ChildProcess.waitForExit(process, until: ContinuousClock.now + timeout) else {
            ChildProcess.end(process)
            throw ChildTimeout(
                description: "timed out after \(timeout) waiting for the Python script beside the test "
                    + "(pid \(process.processIdentifier)) to exit; ended it with SIGTERM, then SIGKILL")
        }
        return process.terminationStatus
    }

    /// Kills the script if it still runs, and waits for it.
    public func stop() {
        guard process.processIdentifier != 0 else { return }  // never started
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
