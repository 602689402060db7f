import Crypto
import CZstd
import Synchronization
import SyncProtocol

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
            // A copy the size of the frame: trimming keeps the worst-case allocation, which a
            // scan's batch and read-ahead would hold for every file.
            return (.zstd, Array(out[..<written]))
        }

        /// `bytes` as a zstd frame that refers back into `base` (a prefix dictionary), or nil when
        /// zstd fails. An edited article shares most of its text with its previous version, so the
        /// frame is about the size of the edit.
        public func delta(_ bytes: [UInt8], from base: [UInt8]) -> [UInt8]? {
            ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
            ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, BlobCodec.deltaLevel)
            ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, BlobCodec.windowLog(covering: base.count + bytes.count))
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
            let written = base.withUnsafeBytes { prefix -> Int in
                guard ZSTD_isError(ZSTD_CCtx_refPrefix(context, prefix.baseAddress, prefix.count)) == 0 else { return -1 }
                return out.withUnsafeMutableBytes { dst in
                    bytes.withUnsafeBytes { src in ZSTD_compress2(context, dst.baseAddress, dst.count, src.baseAddress, src.count) }
                }
            }
            ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
            guard written >= 0, ZSTD_isError(written) == 0 else { return nil }
            out.removeSubrange(written...)
            return out
        }
    }

    static let deltaLevel: Int32 = 3

    /// Back-references must reach the start of the base; capped at 128 MiB, the decoder's default limit.
    static func windowLog(covering bytes: Int) -> Int32 {
        var log: Int32 = 17
        while log < 27 && (1 << log) < bytes { log += 1 }
        return log
    }

    /// A decompression context, handed between threads through the pool (one user at a time).
    private struct Decoder: @unchecked Sendable { let context: OpaquePointer }

    /// Decompression contexts kept between blobs: making one per blob (an allocation and a clear of
    /// ~100 KiB) was 2 % of a first replication. Each is reset before it goes back; one that grew
    /// past 1 MiB (a large window) is freed instead, so the pool holds at most 8 small ones.
    private static let decoders = Mutex<[Decoder]>([])

    static func withDecoder<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        guard let context = decoders.withLock({ $0.popLast()?.context }) ?? ZSTD_createDCtx() else {
            throw CorruptBlob(detail: "cannot make a zstd context")
        }
        defer {
            ZSTD_DCtx_reset(context, ZSTD_reset_session_and_parameters)
            let kept = ZSTD_sizeof_DCtx(context) <= 1 << 20 && decoders.withLock { pool -> Bool in
                guard pool.count < 8 else { return false }
                pool.append(Decoder(context: context))
                return true
            }
            if !kept { ZSTD_freeDCtx(context) }
        }
        return try body(context)
    }

    /// The content a `delta` frame describes, given the same base; exactly `size` bytes or an error.
    public static func applyDelta(_ frame: [UInt8], to base: [UInt8], size: Int) throws -> [UInt8] {
        try withDecoder { try applyDelta(frame, to: base, size: size, context: $0) }
    }

    private static func applyDelta(_ frame: [UInt8], to base: [UInt8], size: Int, context: OpaquePointer) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        let written = base.withUnsafeBytes { prefix -> Int in
            let referenced = ZSTD_DCtx_refPrefix(context, prefix.baseAddress, prefix.count)
            guard ZSTD_isError(referenced) == 0 else { return referenced }
            return out.withUnsafeMutableBytes { dst in
                frame.withUnsafeBytes { src in ZSTD_decompressDCtx(context, dst.baseAddress, dst.count, src.baseAddress, src.count) }
            }
        }
        guard ZSTD_isError(written) == 0 else { throw CorruptBlob(detail: "delta: " + String(cString: ZSTD_getErrorName(written))) }
        guard written == size else { throw CorruptBlob(detail: "delta gave \(written) of \(size) bytes") }
        return out
    }

    /// The hash of what `data` decodes to, decoded 128 KiB at a time (or in one piece of its claimed
    /// size when smaller): a blob claiming up to the
    /// protocol's 1 GiB is checked in that much memory, so a zstd bomb costs its sender's bytes
    /// and this site's CPU, never this site's memory. Exactly `size` bytes or an error.
    public static func contentHash(of data: [UInt8], encoding: Encoding, size: Int) throws -> ContentHash {
        switch encoding {
        case .raw:
            guard data.count == size else { throw CorruptBlob(detail: "raw blob of \(data.count) bytes, expected \(size)") }
            return .of(data)
        case .zstd:
            try checkFrame(data, claimed: size)
            return try withDecoder { try streamedHash(of: data, size: size, context: $0) }
        }
    }

    private static func streamedHash(of data: [UInt8], size: Int, context: OpaquePointer) throws -> ContentHash {
        // The decoder's window is the frame's to choose (up to 128 MiB by default): newsd's
        // frames use at most 2^19 (level 1), so more than 8 MiB is refused, not allocated.
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 23)
        var hasher = SHA256()
        var produced = 0
        var chunk = [UInt8](repeating: 0, count: min(size, 128 << 10))
        try data.withUnsafeBytes { src in
            var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            while true {
                let (result, written) = chunk.withUnsafeMutableBytes { dst -> (Int, Int) in
                    var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    let result = ZSTD_decompressStream(context, &output, &input)
                    return (result, output.pos)
                }
                guard ZSTD_isError(result) == 0 else { throw CorruptBlob(detail: String(cString: ZSTD_getErrorName(result))) }
                produced += written
                guard produced <= size else { throw CorruptBlob(detail: "frame holds more than the \(size) bytes claimed") }
                chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<written])) }
                if result == 0 { break }  // the frame is complete
                // A session that ends stops paying for its peer's bomb.
                if Task.isCancelled { throw CancellationError() }
                guard written > 0 || input.pos < input.size else { throw CorruptBlob(detail: "truncated frame") }
            }
            guard input.pos == input.size else { throw CorruptBlob(detail: "bytes after the frame") }
        }
        guard produced == size else { throw CorruptBlob(detail: "\(produced) of \(size) bytes") }
        return ContentHash(bytes: Array(hasher.finalize()))!
    }

    /// A zstd frame claimed to hold `size` bytes must say so (newsd's frames always carry their size).
    static func checkFrame(_ data: [UInt8], claimed size: Int) throws {
        guard size > 0 else { throw CorruptBlob(detail: "compressed blob of size 0") }
        let declared = data.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard declared != ZSTD_CONTENTSIZE_ERROR else { throw CorruptBlob(detail: "not a zstd frame") }
        guard declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == UInt64(size) else {
            throw CorruptBlob(detail: "frame holds \(declared) bytes, claimed \(size)")
        }
    }

    /// Decompresses to exactly `size` bytes; anything else is corruption.
    public static func decode(_ data: [UInt8], encoding: Encoding, size: Int) throws -> [UInt8] {
        switch encoding {
        case .raw:
            guard data.count == size else { throw CorruptBlob(detail: "raw blob of \(data.count) bytes, expected \(size)") }
            return data
        case .zstd:
            try checkFrame(data, claimed: size)
            var out = [UInt8](repeating: 0, count: size)
            let written = try withDecoder { context in
                out.withUnsafeMutableBytes { dst in
                    data.withUnsafeBytes { src in ZSTD_decompressDCtx(context, dst.baseAddress, dst.count, src.baseAddress, src.count) }
                }
            }
            guard ZSTD_isError(written) == 0 else {
                throw CorruptBlob(detail: String(cString: ZSTD_getErrorName(written)))
            }
            guard written == size else { throw CorruptBlob(detail: "\(written) of \(size) bytes") }
            return out
        }
    }
}
