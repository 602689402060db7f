import CZlib

/// Compresses article bytes for the blob table (and, later, the wire) with zlib.
///
/// Prose compresses to about a third; content that does not shrink is stored raw, so a JPEG
/// dropped in the folder costs its size and no CPU on every read.
public enum BlobCodec {
    public enum Encoding: Int, Sendable { case raw = 0, deflate = 1 }

    public struct CorruptBlob: Error, CustomStringConvertible {
        public let detail: String
        public var description: String { "corrupt compressed blob: \(detail)" }
    }

    public static func encode(_ bytes: [UInt8]) -> (Encoding, [UInt8]) {
        guard bytes.count >= 64 else { return (.raw, bytes) }
        var bound = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        let rc = out.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &bound, src.baseAddress, uLong(src.count), 6)
            }
        }
        guard rc == Z_OK, Int(bound) < bytes.count else { return (.raw, bytes) }
        out.removeSubrange(Int(bound)...)
        return (.deflate, out)
    }

    /// Inflates to exactly `size` bytes; anything else is corruption.
    public static func decode(_ data: [UInt8], encoding: Encoding, size: Int) throws -> [UInt8] {
        switch encoding {
        case .raw:
            guard data.count == size else { throw CorruptBlob(detail: "raw blob of \(data.count) bytes, expected \(size)") }
            return data
        case .deflate:
            var length = uLong(size)
            var out = [UInt8](repeating: 0, count: max(size, 1))
            let rc = out.withUnsafeMutableBufferPointer { dst in
                data.withUnsafeBufferPointer { src in
                    uncompress(dst.baseAddress, &length, src.baseAddress, uLong(src.count))
                }
            }
            guard rc == Z_OK, Int(length) == size else { throw CorruptBlob(detail: "zlib code \(rc), \(length) of \(size) bytes") }
            if size == 0 { return [] }
            return out
        }
    }
}
