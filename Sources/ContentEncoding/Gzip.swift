import CGzip

/// gzip (RFC 1952) of whole bodies through zlib, for bodies compressed once and sent many times.
public enum Gzip {
    /// `bytes` as one gzip member at `level` (1 fastest … 9 smallest), or nil if zlib failed.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 9) -> [UInt8]? {
        let capacity = cgzip_bound(bytes.count)
        var output = [UInt8](repeating: 0, count: capacity)
        let written = output.withUnsafeMutableBufferPointer { out in
            cgzip_compress(
                bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, level, out.baseAddress, capacity)
        }
        guard written > 0 else { return nil }
        output.removeSubrange(written...)
        return output
    }

    /// `bytes` as one gzip member at `level`, or nil if zlib failed.
    public static func compress(_ bytes: [UInt8], level: Int32 = 9) -> [UInt8]? {
        bytes.withUnsafeBytes { compress($0, level: level) }
    }

    /// The content of one whole gzip member, or nil when `bytes` is not exactly one member or its
    /// content is longer than `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int) -> [UInt8]? {
        guard limit >= 0 else { return nil }
        var output = [UInt8](repeating: 0, count: limit)
        let written = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                cgzip_decompress(input.baseAddress, input.count, out.baseAddress, limit)
            }
        }
        guard written >= 0, let count = Int(exactly: written), count <= limit else { return nil }
        output.removeSubrange(count...)
        return output
    }
}
