import ArgumentParser
import Foundation

/// A failure the user can fix: printed as one line on standard error, with a sysexits status.
struct CommandFailure: Error, CustomStringConvertible {
    /// sysexits(3) codes, so scripts can tell bad input from broken machines.
    enum Status: Int32 {
        case dataError = 65
        case noInput = 66
        case software = 70
        case cantCreate = 73
        case ioError = 74
    }

    var message: String
    var exitCode: Status

    init(_ message: String, exitCode: Status) {
        self.message = message
        self.exitCode = exitCode
    }

    var description: String { message }
}

extension CommandFailure {
    /// Prints the message and exits; used at the top of every command.
    func exit() -> Never {
        FileHandle.standardError.write(Data("surveycharts: \(message)\n".utf8))
        Foundation.exit(exitCode.rawValue)
    }
}

/// Writes whole files or nothing: a temporary file in the same directory, fsync, rename.
enum AtomicFile {
    static func write(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/.\(url.lastPathComponent).\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CommandFailure(
                "cannot write \(path): \(String(cString: strerror(errno))); check that \(directory) exists and is writable",
                exitCode: .cantCreate)
        }
        var written = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = Foundation.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                written += result
            }
        }
        if failure == 0 && fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw CommandFailure("cannot write \(path): \(String(cString: strerror(failure)))", exitCode: .ioError)
        }
    }
}
