import CZstd

/// Compresses article bytes for the blob table and the wire with zstd at level 1.
///
/// Measured here on the 10k-article corpus: zlib at level 1 compressed about 39 MB/s, which alone
/// cost more than the whole ingest target; zstd level 1 runs near 230 MB/s with a similar ratio on
/// prose. Content that does not shrink is stored raw, so a JPEG in the folder costs its size and no
/// CPU on every read.
public enum BlobCodec {
    public enum Encoding: Int, Sendable { case raw = 0, zstd = 1 }

    public struct CorruptBlob: Error, CustomStringConvertible {
        public let detail: String
        public var description: String { "corrupt compressed blob: \(detail)" }
    }

    static let level: Int32 = 1

    /// Compresses with a fresh context; `Compressor` reuses one, which matters for many small files.
    public static func encode(_ bytes: [UInt8]) -> (Encoding, [UInt8]) { Compressor().encode(bytes) }

    /// A reusable zstd context. Making one per call costs an allocation and a clear of several
    /// hundred KiB, which showed as a fifth of ingest time on 7 KB articles. Not thread-safe: one
    /// per owner.
    public final class Compressor {
        let context: OpaquePointer

        public init() { context = ZSTD_createCCtx() }
        deinit { ZSTD_freeCCtx(context) }

        public func encode(_ bytes: [UInt8]) -> (Encoding, [UInt8]) {
            guard bytes.count >= 64 else { return (.raw, bytes) }
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
            let written = out.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    ZSTD_compressCCtx(context, dst.baseAddress, dst.count, src.baseAddress, src.count, BlobCodec.level)
                }
            }
            guard ZSTD_isError(written) == 0, written < bytes.count else { return (.raw, bytes) }
            out.removeSubrange(written...)
            return (.zstd, out)
        }
    }

    /// Decompresses to exactly `size` bytes; anything else is corruption.
    public static func decode(_ data: [UInt8], encoding: Encoding, size: Int) throws -> [UInt8] {
        switch encoding {
        case .raw:
            guard data.count == size else { throw CorruptBlob(detail: "raw blob of \(data.count) bytes, expected \(size)") }
            return data
        case .zstd:
            guard size > 0 else { throw CorruptBlob(detail: "compressed blob of size 0") }
            var out = [UInt8](repeating: 0, count: size)
            let written = out.withUnsafeMutableBytes { dst in
                data.withUnsafeBytes { src in ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count) }
            }
            guard ZSTD_isError(written) == 0 else {
                throw CorruptBlob(detail: String(cString: ZSTD_getErrorName(written)))
            }
            guard written == size else { throw CorruptBlob(detail: "\(written) of \(size) bytes") }
            return out
        }
    }
}
